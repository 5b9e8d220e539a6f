// SPDX-License-Identifier: GPL-2.0
/*
 * clocks.c - every clock source a Linux process has, each behind one
 * read() that returns a raw value and an error instead of crashing (faults
 * are caught by the guard in jt.c).  Raw units are converted to ns with
 * ns_per_unit: fixed for the clocks that say their unit, calibrated against
 * the reference clock for rdtsc, rdtscp and the counting thread, as an
 * attacker would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

struct jt_clock *jt_ref;

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* ---- clock_gettime through libc (vDSO or syscall, as libc decides) ---- */
static int rd_cg(struct jt_clock *c, int64_t *v)
{
	struct timespec ts;

	if (clock_gettime(c->arg, &ts))
		return -errno;
	*v = ts_ns(&ts);
	return 0;
}

static int op_cpuclock(struct jt_clock *c)
{
	clockid_t id;
	int e = c->arg ? pthread_getcpuclockid(pthread_self(), &id) : clock_getcpuclockid(0, &id);

	if (e)
		return -e;
	c->arg = id;
	return 0;
}

static int rd_clock(struct jt_clock *c, int64_t *v)
{
	clock_t t = clock();

	(void)c;
	if (t == (clock_t)-1)
		return -EINVAL;
	*v = t;
	return 0;
}

static int rd_gtod(struct jt_clock *c, int64_t *v)
{
	struct timeval tv;

	(void)c;
	if (gettimeofday(&tv, NULL))
		return -errno;
	*v = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	return 0;
}

static int rd_time(struct jt_clock *c, int64_t *v)
{
	time_t t = time(NULL);

	(void)c;
	if (t == (time_t)-1)
		return -errno;
	*v = t;
	return 0;
}

static int rd_rusage(struct jt_clock *c, int64_t *v)
{
	struct rusage ru;

	(void)c;
	if (getrusage(RUSAGE_SELF, &ru))
		return -errno;
	*v = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	     ru.ru_stime.tv_usec;
	return 0;
}

static int op_ticks(struct jt_clock *c)
{
	c->ns_per_unit = 1e9 / sysconf(_SC_CLK_TCK);
	return 0;
}

static int rd_times(struct jt_clock *c, int64_t *v)
{
	struct tms t;
	clock_t r;

	errno = 0;
	r = times(&t);
	if (r == (clock_t)-1 && errno)
		return -errno;
	*v = c->arg ? (int64_t)t.tms_utime + t.tms_stime : (int64_t)r;
	return 0;
}

/* ---- instructions ---- */
static int rd_rdtsc(struct jt_clock *c, int64_t *v)
{
	unsigned aux;

	*v = c->arg ? (int64_t)__builtin_ia32_rdtscp(&aux) : (int64_t)__builtin_ia32_rdtsc();
	return 0;
}

/* ---- files: read again from offset 0 each time (the file is regenerated) ---- */
static int op_file(struct jt_clock *c)
{
	c->fd = open(c->arg ? "/proc/self/schedstat" : "/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	return c->arg ? 0 : op_ticks(c);
}

static int rd_file(struct jt_clock *c, int64_t *v)
{
	char buf[1024], *p;
	ssize_t n = pread(c->fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	if (c->arg) { /* schedstat: ns on CPU, ns waiting, timeslices */
		*v = strtoll(buf, NULL, 10);
		return 0;
	}
	p = strrchr(buf, ')'); /* stat: utime and stime are fields 14, 15 */
	if (!p)
		return -EIO;
	p += 2;
	for (int field = 3; field < 14 && p; field++)
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
	if (!p)
		return -EIO;
	char *end;
	int64_t ut = strtoll(p, &end, 10), st = strtoll(end, NULL, 10);
	*v = ut + st;
	return 0;
}

static void cl_fd(struct jt_clock *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* ---- perf_event_open software clocks ---- */
static int op_perf(struct jt_clock *c)
{
	struct perf_event_attr a = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(a) };

	a.config = c->arg;
	c->fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (c->fd < 0 && (errno == EACCES || errno == EPERM)) {
		a.exclude_kernel = a.exclude_hv = 1; /* perf_event_paranoid 2 */
		c->fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}
	return c->fd < 0 ? -errno : 0;
}

static int rd_perf(struct jt_clock *c, int64_t *v)
{
	uint64_t n;

	if (read(c->fd, &n, sizeof(n)) != sizeof(n))
		return -errno ? -errno : -EIO;
	*v = (int64_t)n;
	return 0;
}

/* ---- raw syscalls, bypassing libc and the vDSO ---- */
static int rd_raw(struct jt_clock *c, int64_t *v)
{
	struct timespec ts;
	struct timeval tv;
	long r;

	switch (c->arg) {
	case 0:
		r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
		*v = ts_ns(&ts);
		break;
	case 1:
		r = syscall(SYS_gettimeofday, &tv, NULL);
		*v = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
		break;
	default:
		r = syscall(SYS_time, NULL);
		*v = r;
		break;
	}
	return r == -1 ? -errno : 0;
}

/* ---- the vDSO called directly: arg 0 monotonic, 1 monotonic coarse, 2 time;
 * base from the auxv (route "vdso-auxv") or /proc/self/maps ("vdso-maps") ---- */
static int op_vdso(struct jt_clock *c)
{
	uintptr_t base = c->route[5] == 'a' ? jt_vdso_base_auxv() : jt_map_base("[vdso]");

	if (!base)
		return -ENOENT;
	c->fn = jt_vdso_sym(base, c->arg == 2 ? "__vdso_time" : "__vdso_clock_gettime");
	return c->fn ? 0 : -ENOENT;
}

static int rd_vdso(struct jt_clock *c, int64_t *v)
{
	struct timespec ts;
	int r;

	if (c->arg == 2) {
		*v = ((time_t(*)(time_t *))c->fn)(NULL);
		return 0;
	}
	r = ((int (*)(clockid_t, struct timespec *))c->fn)(
		c->arg ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC, &ts);
	if (r)
		return r < 0 ? r : -EINVAL;
	*v = ts_ns(&ts);
	return 0;
}

/* ---- the vvar page read as memory: the kernel's coarse realtime base
 * (seconds, then unshifted nanoseconds), found by its value ---- */
static int op_vvar(struct jt_clock *c)
{
	uintptr_t base = jt_map_base("[vvar]");
	time_t now = time(NULL);

	if (!base)
		return -ENOENT;
	for (uintptr_t p = base; p + 16 <= base + 4096; p += 8) {
		int64_t s = *(volatile int64_t *)p, ns = *(volatile int64_t *)(p + 8);
		if (s >= now - 2 && s <= now + 2 && ns >= 0 && ns < 1000000000) {
			c->addr = (void *)p;
			return 0;
		}
	}
	return -ENOENT;
}

static int rd_vvar(struct jt_clock *c, int64_t *v)
{
	volatile int64_t *w = c->addr;
	int64_t s, ns;

	do { /* the kernel updates it under a seqcount: read until stable */
		s = w[0];
		ns = w[1];
	} while (s != w[0] || ns != w[1]);
	*v = s * 1000000000 + ns;
	return 0;
}

/* ---- a counting thread on another CPU: the implicit clock ---- */
static volatile uint64_t counter;
static volatile int counter_stop;
static pthread_t counter_thread;
static cpu_set_t main_mask; /* the main thread's affinity before the counter */

static void *count(void *arg)
{
	uint64_t n = 0;

	(void)arg;
	while (!counter_stop)
		__atomic_store_n(&counter, ++n, __ATOMIC_RELAXED);
	return NULL;
}

static int op_counter(struct jt_clock *c)
{
	cpu_set_t mask, other;
	pthread_attr_t at;
	int me = sched_getcpu(), e;

	CPU_ZERO(&other);
	c->arg = 1; /* shares the CPU unless another one is allowed */
	if (!sched_getaffinity(0, sizeof(mask), &mask))
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &mask) && i != me && !CPU_COUNT(&other)) {
				CPU_SET(i, &other);
				c->arg = 0;
			}
	if (!c->arg) { /* pin both, as an attacker would: no migration onto one CPU */
		cpu_set_t mine;
		CPU_ZERO(&mine);
		CPU_SET(me, &mine);
		main_mask = mask;
		sched_setaffinity(0, sizeof(mine), &mine);
	}
	pthread_attr_init(&at);
	if (!c->arg)
		pthread_attr_setaffinity_np(&at, sizeof(other), &other);
	counter_stop = 0;
	e = pthread_create(&counter_thread, &at, count, NULL);
	pthread_attr_destroy(&at);
	if (e)
		return -e;
	c->fd = 0;
	while (!__atomic_load_n(&counter, __ATOMIC_RELAXED))
		sched_yield();
	return 0;
}

static int rd_counter(struct jt_clock *c, int64_t *v)
{
	(void)c;
	*v = (int64_t)__atomic_load_n(&counter, __ATOMIC_RELAXED);
	return 0;
}

static void cl_counter(struct jt_clock *c)
{
	if (c->fd == 0) {
		counter_stop = 1;
		pthread_join(counter_thread, NULL);
		counter = 0;
		if (!c->arg)
			sched_setaffinity(0, sizeof(main_mask), &main_mask);
	}
	c->fd = -1;
}

#define CG(n, r, id)                                                    \
	{                                                               \
		n, r, "ns", 1, NULL, rd_cg, NULL, id, -1, NULL, NULL, 0 \
	}
struct jt_clock jt_clocks[] = {
	CG("realtime", "vdso", CLOCK_REALTIME),
	CG("monotonic", "vdso", CLOCK_MONOTONIC),
	CG("monotonic_raw", "vdso", CLOCK_MONOTONIC_RAW),
	CG("boottime", "vdso", CLOCK_BOOTTIME),
	CG("tai", "vdso", CLOCK_TAI),
	CG("realtime_coarse", "vdso", CLOCK_REALTIME_COARSE),
	CG("monotonic_coarse", "vdso", CLOCK_MONOTONIC_COARSE),
	CG("process_cputime", "syscall", CLOCK_PROCESS_CPUTIME_ID),
	CG("thread_cputime", "syscall", CLOCK_THREAD_CPUTIME_ID),
	{ "cpuclockid", "syscall", "ns", 1, op_cpuclock, rd_cg, NULL, 0, -1, NULL, NULL, 0 },
	{ "pthread_cpuclockid", "syscall", "ns", 1, op_cpuclock, rd_cg, NULL, 1, -1, NULL, NULL,
	  0 },
	{ "clock", "syscall", "us", 1000, NULL, rd_clock, NULL, 0, -1, NULL, NULL, 0 },
	{ "gettimeofday", "vdso", "us", 1000, NULL, rd_gtod, NULL, 0, -1, NULL, NULL, 0 },
	{ "time", "vdso", "s", 1e9, NULL, rd_time, NULL, 0, -1, NULL, NULL, 0 },
	{ "getrusage", "syscall", "us", 1000, NULL, rd_rusage, NULL, 0, -1, NULL, NULL, 0 },
	{ "times", "syscall", "ticks", 1, op_ticks, rd_times, NULL, 0, -1, NULL, NULL, 0 },
	{ "times_cpu", "syscall", "ticks", 1, op_ticks, rd_times, NULL, 1, -1, NULL, NULL, 0 },
	{ "rdtsc", "instruction", "cycles", 1, NULL, rd_rdtsc, NULL, 0, -1, NULL, NULL, 1 },
	{ "rdtscp", "instruction", "cycles", 1, NULL, rd_rdtsc, NULL, 1, -1, NULL, NULL, 1 },
	{ "proc_stat", "file", "ticks", 1, op_file, rd_file, cl_fd, 0, -1, NULL, NULL, 0 },
	{ "proc_schedstat", "file", "ns", 1, op_file, rd_file, cl_fd, 1, -1, NULL, NULL, 0 },
	{ "perf_task_clock", "perf", "ns", 1, op_perf, rd_perf, cl_fd, PERF_COUNT_SW_TASK_CLOCK, -1,
	  NULL, NULL, 0 },
	{ "perf_cpu_clock", "perf", "ns", 1, op_perf, rd_perf, cl_fd, PERF_COUNT_SW_CPU_CLOCK, -1,
	  NULL, NULL, 0 },
	{ "raw_monotonic", "raw-syscall", "ns", 1, NULL, rd_raw, NULL, 0, -1, NULL, NULL, 0 },
	{ "raw_gettimeofday", "raw-syscall", "us", 1000, NULL, rd_raw, NULL, 1, -1, NULL, NULL, 0 },
	{ "raw_time", "raw-syscall", "s", 1e9, NULL, rd_raw, NULL, 2, -1, NULL, NULL, 0 },
	{ "vdso_auxv", "vdso-auxv", "ns", 1, op_vdso, rd_vdso, NULL, 0, -1, NULL, NULL, 0 },
	{ "vdso_maps", "vdso-maps", "ns", 1, op_vdso, rd_vdso, NULL, 0, -1, NULL, NULL, 0 },
	{ "vdso_maps_coarse", "vdso-maps", "ns", 1, op_vdso, rd_vdso, NULL, 1, -1, NULL, NULL, 0 },
	{ "vdso_maps_time", "vdso-maps", "s", 1e9, op_vdso, rd_vdso, NULL, 2, -1, NULL, NULL, 0 },
	{ "vvar_coarse", "memory", "ns", 1, op_vvar, rd_vvar, NULL, 0, -1, NULL, NULL, 0 },
	{ "counter", "thread", "counts", 1, op_counter, rd_counter, cl_counter, 0, -1, NULL, NULL,
	  1 },
};
int jt_nclocks = sizeof(jt_clocks) / sizeof(jt_clocks[0]);

/* ns_per_unit from a span of the reference clock (30 ms; 5 ms with --quick),
 * reading the clock in a loop as the attacks do (a counting thread slows
 * down while another CPU keeps reading its cache line). */
static void calibrate(struct jt_clock *c)
{
	int64_t span = jt_opt.quick ? 5000000 : 30000000, r0, r1, t0, t1, v;

	t0 = jt_ref_ns();
	c->read(c, &r0);
	do {
		for (int i = 0; i < 256; i++)
			c->read(c, &v);
	} while ((t1 = jt_ref_ns()) >= 0 && t1 - t0 < span);
	c->read(c, &r1);
	t1 = jt_ref_ns();
	c->ns_per_unit = r1 > r0 && t0 >= 0 && t1 > t0 ? (double)(t1 - t0) / (r1 - r0) : 1;
}

struct open_res {
	int err;
};

static void open_fn(struct jt_clock *c, void *arg)
{
	struct open_res *r = arg;
	int64_t v;

	r->err = c->open ? c->open(c) : 0;
	if (!r->err)
		r->err = c->read(c, &v);
	if (!r->err && c->calibrated)
		calibrate(c);
}

int jt_clock_open(struct jt_clock *c)
{
	struct open_res r = { 0 };
	int g = jt_guard(open_fn, c, &r, 10);

	if (g || r.err)
		jt_clock_close(c);
	return g ? g : r.err;
}

void jt_clock_close(struct jt_clock *c)
{
	if (c->close)
		c->close(c);
}

int jt_ref_pick(void)
{
	static const char *const order[] = { "monotonic", "raw_monotonic", "gettimeofday",
					     "raw_gettimeofday" };

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		for (int j = 0; j < jt_nclocks; j++)
			if (!strcmp(jt_clocks[j].name, order[i]) && !jt_clock_open(&jt_clocks[j])) {
				jt_ref = &jt_clocks[j];
				return 0;
			}
	return -1;
}

int64_t jt_ref_ns(void)
{
	int64_t v;

	if (!jt_ref || jt_ref->read(jt_ref, &v))
		return -1;
	return (int64_t)jt_ns(jt_ref, v);
}
