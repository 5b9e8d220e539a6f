// SPDX-License-Identifier: GPL-2.0
/*
 * rewrite.c - system calls whose clock fields are fixed at their exit:
 * the kernel runs them (so every other field, and every error, is the
 * kernel's own) and, at the syscall-exit stop, the time fields it wrote
 * are replaced with clamped ones before the caller runs again.
 *
 *   getrusage   SELF and THREAD: the same timeline as the process / thread
 *               CPU clock, split into user and system by the kernel's
 *               ratio; CHILDREN: each field clamped on its own
 *   wait4, waitid (with a rusage): the reaped child's user and system time
 *   getitimer, timer_gettime, timerfd_gettime, and the old value of the
 *               *settime calls: the time left (never clamped to 0 while
 *               the timer is armed)
 *
 * Between the kernel's write and the fix, another thread of the same
 * process could read the raw values (docs/jitter.md: a race that needs a
 * second thread, like the counting thread).
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "clocks.h"
#include "memio.h"
#include "readings.h"
#include "rewrite.h"
#include "state.h"

static __u64 tv_ns(const struct timeval *tv)
{
	return (__u64)tv->tv_sec * NS_PER_S + (__u64)tv->tv_usec * 1000;
}

static struct timeval ns_tv(__u64 ns)
{
	struct timeval tv = { (time_t)(ns / NS_PER_S), (suseconds_t)(ns % NS_PER_S / 1000) };

	return tv;
}

static __u64 ts_ns(const struct timespec *ts)
{
	return (__u64)ts->tv_sec * NS_PER_S + (__u64)ts->tv_nsec;
}

static struct timespec ns_ts(__u64 ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };

	return ts;
}

/* A per-process timeline for one of its values (kind 1..15, n: which). */
static __u64 own_line(pid_t tgid, unsigned kind, __u64 n)
{
	return WD_JT_OTHER | (__u64)kind << 24 | (__u64)(__u32)tgid | (n & 0xffff) << 48;
}

static void fix_rusage(struct task *t, int who, __u64 addr, pid_t child)
{
	struct rusage ru;
	__u64 ku, ks, u, s, tl;

	if (!addr || mem_read(t->tid, addr, &ru, sizeof(ru)))
		return;
	ku = tv_ns(&ru.ru_utime);
	ks = tv_ns(&ru.ru_stime);
	if (child) { /* wait4 / waitid: the reaped child's times */
		u = clamp_other(own_line(child, 1, 0), ku);
		s = clamp_other(own_line(child, 2, 0), ks);
	} else if (who == RUSAGE_CHILDREN) {
		u = clamp_other(WD_JT_TIMELINE(WD_JT_CHILDREN, t->tgid), ku);
		s = clamp_other(WD_JT_TIMELINE(WD_JT_CHILDREN | 1ULL << 24, t->tgid), ks);
	} else {
		if (who == RUSAGE_THREAD)
			tl = WD_JT_TIMELINE(WD_JT_THREAD | 2ULL << 24, t->tid);
		else
			tl = WD_JT_TIMELINE(WD_JT_PROCESS | 2ULL << 24, t->tgid);
		cpu_split(tl,
			  cpu_timeline(tl, who == RUSAGE_THREAD ?
						   thread_cpu_ns(t, t->tid, t->tgid) :
						   process_cpu_ns(t->tgid)),
			  ku, ks, &u, &s);
	}
	ru.ru_utime = ns_tv(u);
	ru.ru_stime = ns_tv(s);
	mem_write(t->tid, addr, &ru, 2 * sizeof(struct timeval));
}

/* Time left on a timer: clamped, but an armed timer never reads 0. */
static __u64 left(pid_t tgid, unsigned kind, __u64 which, __u64 ns)
{
	__u64 v;

	if (!ns)
		return 0;
	v = clamp_other(own_line(tgid, kind, which), ns);
	return v ? v : cd.grain;
}

static void fix_itimerval(struct task *t, __u64 which, __u64 addr)
{
	struct itimerval it;

	if (!addr || mem_read(t->tid, addr, &it, sizeof(it)))
		return;
	it.it_value = ns_tv(left(t->tgid, 3, which, tv_ns(&it.it_value)));
	mem_write(t->tid, addr + sizeof(struct timeval), &it.it_value, sizeof(it.it_value));
}

static void fix_itimerspec(struct task *t, unsigned kind, __u64 which, __u64 addr)
{
	struct itimerspec it;

	if (!addr || mem_read(t->tid, addr, &it, sizeof(it)))
		return;
	it.it_value = ns_ts(left(t->tgid, kind, which, ts_ns(&it.it_value)));
	mem_write(t->tid, addr + sizeof(struct timespec), &it.it_value, sizeof(it.it_value));
}

void rewrite_exit(struct task *t, long long ret)
{
	const unsigned long long *a = t->args;
	siginfo_t si;

	if (ret < 0)
		return; /* the kernel's error: nothing was written */
	switch (t->rewrite) {
	case RW_GETRUSAGE:
		fix_rusage(t, (int)a[0], a[1], 0);
		break;
	case RW_WAIT4:
		if (ret > 0)
			fix_rusage(t, 0, a[3], (pid_t)ret);
		break;
	case RW_WAITID:
		/* the child is in the siginfo; with WNOHANG there may be none */
		if (a[2] && !mem_read(t->tid, a[2], &si, sizeof(si)) && si.si_pid > 0)
			fix_rusage(t, 0, a[4], si.si_pid);
		break;
	case RW_GETITIMER:
		fix_itimerval(t, a[0], a[1]);
		break;
	case RW_SETITIMER:
		fix_itimerval(t, a[0], a[2]);
		break;
	case RW_TIMER_GETTIME:
		fix_itimerspec(t, 4, a[0], a[1]);
		break;
	case RW_TIMER_SETTIME:
		fix_itimerspec(t, 4, a[0], a[3]);
		break;
	case RW_TIMERFD_GETTIME:
		fix_itimerspec(t, 5, a[0], a[1]);
		break;
	case RW_TIMERFD_SETTIME:
		fix_itimerspec(t, 5, a[0], a[3]);
		break;
	case RW_NONE:
		break;
	}
}
