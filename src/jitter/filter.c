// SPDX-License-Identifier: GPL-2.0
/*
 * filter.c - the seccomp program the command's process installs before
 * its exec (src/jitter_launch.c, ethoswd/jitter.py); every process of the
 * tree inherits it.  It is built here once and sent to the process over
 * the socket, so both front ends install the same bytes.
 *
 *   answered by the supervisor (USER_NOTIF): clock_gettime, clock_getres,
 *     gettimeofday, time, times, sysinfo, adjtimex, clock_adjtime, and
 *     the opens that could read a file (for the /proc files that carry CPU
 *     times: open and openat unless O_WRONLY, O_DIRECTORY or O_PATH;
 *     every openat2)
 *   fixed at their exit (TRACE): getrusage; wait4/waitid with a rusage;
 *     getitimer, timer_gettime, timerfd_gettime; the *settime calls that
 *     return the old value
 *   refused: perf_event_open (EACCES, as perf_event_paranoid would),
 *     prctl(PR_SET_TSC) and arch_prctl(ARCH_MAP_VDSO_*) (EPERM: rdtsc and
 *     the vDSO stay off), clone(CLONE_UNTRACED) (EPERM: no child escapes
 *     the tracer), clone3 (ENOSYS: its flags are out of the filter's sight;
 *     glibc falls back to clone), io_uring_setup (EPERM: its opens bypass
 *     the filter), seccomp(NEW_LISTENER) (EPERM: a listener of the
 *     target's own would take precedence and could let the calls through),
 *     every ia32 and x32 system call (ENOSYS: other numbers, other layouts)
 */
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "filter.h"
#include "state.h"

#ifndef CLONE_UNTRACED
#define CLONE_UNTRACED 0x00800000
#endif
#define X32_SYSCALL_BIT	  0x40000000
#define ARCH_MAP_VDSO_X32 0x2001
#define ARCH_MAP_VDSO_64  0x2003

#define OFF_NR	      offsetof(struct seccomp_data, nr)
#define OFF_ARCH      offsetof(struct seccomp_data, arch)
#define OFF_ARG(i)    offsetof(struct seccomp_data, args[i])
#define OFF_ARG_HI(i) (OFF_ARG(i) + 4) /* little-endian */

#define RET_NOTIFY   SECCOMP_RET_USER_NOTIF
#define RET_TRACE(w) (SECCOMP_RET_TRACE | (w))
#define RET_ERR(e)   (SECCOMP_RET_ERRNO | (e))

static struct sock_filter prog[160];
static unsigned short n;

static void emit(__u16 code, __u8 jt, __u8 jf, __u32 k)
{
	prog[n++] = (struct sock_filter){ code, jt, jf, k };
}

static void ld(__u32 off)
{
	emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, off);
}

static void ret(__u32 action)
{
	emit(BPF_RET | BPF_K, 0, 0, action);
}

/* if (nr == sys) return action; */
static void nr_is(__u32 sys, __u32 action)
{
	emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, sys);
	ret(action);
}

/* if (nr == sys) return args[arg] (64 bits) != 0 ? action : ALLOW;
 * (the accumulator holds nr again after a miss: the block is skipped) */
static void nr_ptr_set(__u32 sys, int arg, __u32 action)
{
	emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, sys);
	ld(OFF_ARG(arg));
	emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0); /* low half set: act */
	ld(OFF_ARG_HI(arg));
	emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0); /* high half 0 too: allow */
	ret(action);
	ret(SECCOMP_RET_ALLOW);
}

/* if (nr == sys) return (args[arg] low 32 bits & mask) ? action : ALLOW; */
static void nr_flag_set(__u32 sys, int arg, __u32 mask, __u32 action)
{
	emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 4, sys);
	ld(OFF_ARG(arg));
	emit(BPF_JMP | BPF_JSET | BPF_K, 0, 1, mask);
	ret(action);
	ret(SECCOMP_RET_ALLOW);
}

/* An open that could read a file: if (nr == sys) return (flags have
 * neither O_DIRECTORY nor O_PATH, and the access mode is not O_WRONLY) ?
 * NOTIFY : ALLOW.  A descriptor opened only to write, to a directory or
 * as a path cannot read a /proc file's clocks (reopening a path through
 * /proc/self/fd is an open of its own, and checked). */
static void nr_open_reading(__u32 sys, int arg)
{
	emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, sys);
	ld(OFF_ARG(arg));
	emit(BPF_JMP | BPF_JSET | BPF_K, 3, 0, O_DIRECTORY | O_PATH);
	emit(BPF_ALU | BPF_AND | BPF_K, 0, 0, O_ACCMODE);
	emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, O_WRONLY);
	ret(RET_NOTIFY);
	ret(SECCOMP_RET_ALLOW);
}

/* if (nr == sys) return lo <= args[arg] low 32 bits <= hi ? action : ALLOW; */
static void nr_arg_in(__u32 sys, int arg, __u32 lo, __u32 hi, __u32 action)
{
	emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, sys);
	ld(OFF_ARG(arg));
	emit(BPF_JMP | BPF_JGE | BPF_K, 0, 2, lo);
	emit(BPF_JMP | BPF_JGT | BPF_K, 1, 0, hi);
	ret(action);
	ret(SECCOMP_RET_ALLOW);
}

static void build(void)
{
	/* Another ABI: its numbers and layouts differ, so none of it runs. */
	ld(OFF_ARCH);
	emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
	ret(RET_ERR(ENOSYS));
	ld(OFF_NR);
	emit(BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_SYSCALL_BIT);
	ret(RET_ERR(ENOSYS));

	/* The frequent ones first: each is one comparison further down. */
	nr_is(__NR_clock_gettime, RET_NOTIFY);
	nr_open_reading(__NR_openat, 2);
	nr_is(__NR_gettimeofday, RET_NOTIFY);
	nr_open_reading(__NR_open, 1);
	nr_is(__NR_openat2, RET_NOTIFY); /* its flags are in memory */
	nr_is(__NR_clock_getres, RET_NOTIFY);
	nr_is(__NR_time, RET_NOTIFY);
	nr_is(__NR_times, RET_NOTIFY);
	nr_is(__NR_sysinfo, RET_NOTIFY);
	nr_is(__NR_adjtimex, RET_NOTIFY);
	nr_is(__NR_clock_adjtime, RET_NOTIFY);

	nr_is(__NR_getrusage, RET_TRACE(RW_GETRUSAGE));
	nr_ptr_set(__NR_wait4, 3, RET_TRACE(RW_WAIT4));
	nr_ptr_set(__NR_waitid, 4, RET_TRACE(RW_WAITID));
	nr_is(__NR_getitimer, RET_TRACE(RW_GETITIMER));
	nr_ptr_set(__NR_setitimer, 2, RET_TRACE(RW_SETITIMER));
	nr_is(__NR_timer_gettime, RET_TRACE(RW_TIMER_GETTIME));
	nr_ptr_set(__NR_timer_settime, 3, RET_TRACE(RW_TIMER_SETTIME));
	nr_is(__NR_timerfd_gettime, RET_TRACE(RW_TIMERFD_GETTIME));
	nr_ptr_set(__NR_timerfd_settime, 3, RET_TRACE(RW_TIMERFD_SETTIME));

	nr_is(__NR_perf_event_open, RET_ERR(EACCES));
	nr_is(__NR_clone3, RET_ERR(ENOSYS));
	nr_is(__NR_io_uring_setup, RET_ERR(EPERM));
	nr_flag_set(__NR_clone, 0, CLONE_UNTRACED, RET_ERR(EPERM));
	nr_flag_set(__NR_seccomp, 1, SECCOMP_FILTER_FLAG_NEW_LISTENER, RET_ERR(EPERM));
	nr_arg_in(__NR_prctl, 0, PR_SET_TSC, PR_SET_TSC, RET_ERR(EPERM));
	nr_arg_in(__NR_arch_prctl, 0, ARCH_MAP_VDSO_X32, ARCH_MAP_VDSO_64, RET_ERR(EPERM));
	ret(SECCOMP_RET_ALLOW);
}

const struct sock_filter *clockd_filter(unsigned short *len)
{
	if (!n)
		build();
	*len = n;
	return prog;
}
