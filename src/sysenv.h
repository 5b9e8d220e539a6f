/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sysenv.h - the environment ethoswd runs in (sysenv.c; ethoswd/environment.py).
 */
#ifndef ETHOSWD_SYSENV_H
#define ETHOSWD_SYSENV_H

#include <linux/types.h>
#include <stdbool.h>

/* What decides whether ethoswd may run (environment.Privileges). */
struct wd_privileges {
	__u64 caps;	  /* the effective set (CapEff) */
	int last_cap;	  /* /proc/sys/kernel/cap_last_cap */
	char tracefs[64]; /* a mounted tracefs closed to this user, or "" */
	int kmajor, kminor;
	__u64 memlock; /* RLIMIT_MEMLOCK's hard limit (RLIM_INFINITY) */
	unsigned int uid;
};
int wd_privileges_read(struct wd_privileges *p); /* -1 with wd_fail() */
/* -1 with wd_fail() naming each missing capability and what it is for
 * (action WD_ACT_THROTTLE adds CAP_KILL); 0 if p has what it takes. */
int wd_privilege_problem(const struct wd_privileges *p, int action);
int wd_require_privileges(int action); /* read, then the problem */
/* CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): an EPERM is the kernel's. */
bool wd_bpf_capable(void);
/* Mount tracefs/debugfs/securityfs where absent (mount(2)); the number of
 * notes "mounted X on Y" written (at most max). */
int wd_mount_pseudo(char notes[][128], int max);
/* A -p PID must be a live process (not a zombie, not a thread of another)
 * and neither pid 1, a kernel thread nor ethoswd itself; -1 with
 * wd_fail() otherwise. */
int wd_check_target_pid(__u32 pid);

#endif /* ETHOSWD_SYSENV_H */
