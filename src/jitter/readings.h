/* SPDX-License-Identifier: GPL-2.0 */
/*
 * readings.h - raw readings (readings.c): the kernel's clocks, a thread's schedstat,
 * small /proc files, and the keyed clamp of a timeline.
 */
#ifndef WD_CLOCKD_READINGS_H
#define WD_CLOCKD_READINGS_H

#include <time.h>

#include "jitter_clamp.h"
#include "state.h"

#define MAKE_PROCESS_CPUCLOCK(pid, clock) ((clockid_t)(~(unsigned)(pid) << 3) | (clockid_t)(clock))
#define CPUCLOCK_SCHED			  2
#define CPUCLOCK_PERTHREAD		  4

/* The clamp of one timeline, keyed by the run's secret. */
struct wd_jclamp clockd_clamp(__u64 timeline, __u64 grain);
__u64 now_ns(clockid_t id);
/* A small file's text, NUL-terminated: its length, or -1. */
ssize_t read_text(const char *path, char *buf, size_t size);
/* utime, stime, cutime, cstime of a process (tid 0) or thread, in ticks. */
int stat_ticks(pid_t tgid, pid_t tid, unsigned long long t[4]);
__u64 thread_cpu_ns(struct task *t, pid_t tid, pid_t tgid);
__u64 process_cpu_ns(pid_t tgid);
int thread_sched(struct task *t, __u64 *run, __u64 *delay); /* 0, or -1 */

#endif
