// SPDX-License-Identifier: GPL-2.0
/*
 * readings.c - the raw readings the clocks start from: the kernel's own
 * clocks, a thread's schedstat (run time, run-queue delay), a process's
 * CPU clock, small /proc files; and the keyed clamp of one timeline.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "readings.h"

ssize_t read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	return len;
}

int stat_ticks(pid_t tgid, pid_t tid, unsigned long long t[4])
{
	char path[96], buf[1024], *p;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tgid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", tgid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	/* after "pid (comm) ": state is field 3, utime..cstime 14..17 */
	p = strrchr(buf, ')');
	return p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
			   &t[0], &t[1], &t[2], &t[3]) == 4 ?
		       0 :
		       -1;
}

struct wd_jclamp clockd_clamp(__u64 timeline, __u64 grain)
{
	struct wd_jclamp c = { grain, wd_jitter_key(cd.secret, timeline), cd.jfrac };

	return c;
}

__u64 now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * NS_PER_S + (__u64)ts.tv_nsec;
}

__u64 process_cpu_ns(pid_t tgid)
{
	return now_ns(MAKE_PROCESS_CPUCLOCK(tgid, CPUCLOCK_SCHED));
}

/* A thread's schedstat: run time and run-queue delay, ns.  0, or -1. */
static int schedstat(struct task *t, pid_t tid, pid_t tgid, __u64 *run, __u64 *delay)
{
	char path[96], buf[128];
	int fd = t && t->tid == tid ? t->schedstat_fd : -1;
	unsigned long long r, d;
	ssize_t len;

	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", tgid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (t && t->tid == tid)
			t->schedstat_fd = fd;
	}
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	if (!t || t->tid != tid)
		close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	if (sscanf(buf, "%llu %llu", &r, &d) != 2)
		return -1;
	*run = r;
	*delay = d;
	return 0;
}

__u64 thread_cpu_ns(struct task *t, pid_t tid, pid_t tgid)
{
	__u64 run = 0, delay;

	return schedstat(t, tid, tgid, &run, &delay) ? 0 : run;
}

int thread_sched(struct task *t, __u64 *run, __u64 *delay)
{
	return schedstat(t, t->tid, t->tgid, run, delay);
}
