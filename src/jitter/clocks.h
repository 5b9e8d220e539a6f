/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clocks.h - the clocks (clocks.c): families, CPU-time timelines, task table.
 */
#ifndef WD_CLOCKD_CLOCKS_H
#define WD_CLOCKD_CLOCKS_H

#include <time.h>

#include "state.h"

/* A family clock (CLOCK_REALTIME ... TAI, their COARSE and ALARM ids):
 * 0 with *ns, or -errno.  *due gets the pause release time (MONOTONIC ns)
 * or 0. */
int family_read(struct task *t, clockid_t id, __u64 *ns, __u64 *due);
void track_jiffies(void); /* before a times() answer: cd.off_jiffies */
/* A CPU-time clock id as the caller (tid, tgid) named it: 0, or -errno. */
int cpu_clock_read(clockid_t id, pid_t tid, pid_t tgid, __u64 *ns);
/* A process's / a thread's CPU time through its timeline (clamped, or
 * skipped on its virtual clock under pause); raw > 0 if known. */
__u64 cpu_timeline(__u64 timeline, __u64 raw);
/* Split a clamped total into user/system by the kernel's own ratio, each
 * never below what this timeline gave before (cputime_adjust's rule). */
void cpu_split(__u64 timeline, __u64 total, __u64 ku, __u64 ks, __u64 *u, __u64 *s);
/* A plain clamp of a value on its own timeline (no pause). */
__u64 clamp_other(__u64 timeline, __u64 v);
__u64 tsc_read(struct task *t, __u64 *due);

struct task *task_get(pid_t tid);
struct task *task_add(pid_t tid);
void task_del(pid_t tid);
pid_t tgid_of(pid_t tid);
void timeline_forget(pid_t tid, bool leader);

#endif
