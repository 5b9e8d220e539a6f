// SPDX-License-Identifier: GPL-2.0
/*
 * jb_target.c - a target for the BPF modes of --jitter (-p, --comm): it
 * waits for a line on stdin (the watchdog is attached by then), then
 * reads clocks and prints what it got, one JSON object per line.  Built
 * dynamic (bin/jb_target: libc's clock_gettime is what the uprobe sees).
 *
 *   jb_target readings N      N readings of each source, 0-30 us of work
 *                             apart: {"source", "values": [...]}, or
 *                             {"source", "error": errno}
 *   jb_target pairs N W,...   the averaging attack: N pairs of readings of
 *                             each source around W us of work, each after
 *                             a random pre-spin: {"source", "w_us",
 *                             "diffs": [...]} (ns)
 *   jb_target fork N          after "go", fork: the child reads MONOTONIC
 *                             through libc for FOLLOW_MS after the fork and
 *                             prints the first N reads' start (us after the
 *                             fork, by rdtsc) and cost (ns), the start of
 *                             the first read that took HELD_NS or more, and
 *                             how many of the reads in the last LATE_MS
 *                             did: {"since_fork_us", "cost_ns",
 *                             "first_held_us", "late_reads", "late_held"};
 *                             `jb_target exec N` does the same after the
 *                             child exec'ed this program again
 *   jb_target spin MS         read MONOTONIC (libc) for MS ms, then
 *                             print {"reads", "max_gap_ns"}
 *
 * The work unit is a fixed count of loop iterations (no clock), so the
 * same W means the same work with and without the watchdog.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define MAX_N 4000

static double iters_per_us = 300;
static double cycles_per_ns = 1;
static unsigned long long vals[MAX_N];

static void work(double us)
{
	volatile unsigned long x = 0;

	for (long i = 0, n = (long)(us * iters_per_us); i < n; i++)
		x += i;
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Before "go": the work unit's speed and the TSC's, on raw syscalls. */
static void calibrate(void)
{
	unsigned long long t0 = mono_ns(), c0 = __rdtsc(), t1;
	volatile unsigned long x = 0;
	long n = 0;

	do {
		for (int i = 0; i < 10000; i++)
			x += i;
		n += 10000;
		t1 = mono_ns();
	} while (t1 - t0 < 20000000ULL);
	iters_per_us = n / ((t1 - t0) / 1000.0);
	cycles_per_ns = (double)(__rdtsc() - c0) / (t1 - t0);
}

static int wait_go(void)
{
	char line[64];

	return fgets(line, sizeof(line), stdin) ? 0 : -1;
}

static unsigned long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ULL + ts->tv_nsec;
}

static unsigned long long tv_ns(const struct timeval *tv)
{
	return tv->tv_sec * 1000000000ULL + tv->tv_usec * 1000ULL;
}

/* One reading of source `s`; -errno on failure. */
static long long read_one(const char *s)
{
	struct timespec ts;
	struct timeval tv;
	struct rusage ru;
	struct tms tm;
	long r = 0;

	if (!strncmp(s, "libc_", 5)) {
		clockid_t id = !strcmp(s, "libc_monotonic")	   ? CLOCK_MONOTONIC :
			       !strcmp(s, "libc_realtime")	   ? CLOCK_REALTIME :
			       !strcmp(s, "libc_boottime")	   ? CLOCK_BOOTTIME :
			       !strcmp(s, "libc_monotonic_raw")	   ? CLOCK_MONOTONIC_RAW :
			       !strcmp(s, "libc_monotonic_coarse") ? CLOCK_MONOTONIC_COARSE :
			       !strcmp(s, "libc_thread_cputime")   ? CLOCK_THREAD_CPUTIME_ID :
			       !strcmp(s, "libc_process_cputime")  ? CLOCK_PROCESS_CPUTIME_ID :
								     -1;

		if (!strcmp(s, "libc_gettimeofday")) {
			gettimeofday(&tv, NULL);
			return tv_ns(&tv);
		}
		if (!strcmp(s, "libc_getres")) {
			r = clock_getres(CLOCK_MONOTONIC, &ts);
			return r ? -errno : (long long)ts_ns(&ts);
		}
		r = clock_gettime(id, &ts);
		return r ? -errno : (long long)ts_ns(&ts);
	}
	if (!strcmp(s, "sys_monotonic") || !strcmp(s, "sys_thread_cputime")) {
		r = syscall(SYS_clock_gettime,
			    s[4] == 'm' ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
		return r ? -errno : (long long)ts_ns(&ts);
	}
	if (!strcmp(s, "sys_gettimeofday")) {
		r = syscall(SYS_gettimeofday, &tv, NULL);
		return r ? -errno : (long long)tv_ns(&tv);
	}
	if (!strcmp(s, "sys_time"))
		return syscall(SYS_time, NULL) * 1000000000LL;
	if (!strcmp(s, "times"))
		return (long long)times(&tm) * 10000000LL;
	if (!strcmp(s, "getrusage_self") || !strcmp(s, "getrusage_thread")) {
		r = getrusage(s[10] == 's' ? RUSAGE_SELF : RUSAGE_THREAD, &ru);
		return r ? -errno : (long long)(tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime));
	}
	return -EINVAL;
}

static const char *const sources[] = {
	"libc_monotonic",
	"libc_realtime",
	"libc_boottime",
	"libc_monotonic_raw",
	"libc_monotonic_coarse",
	"libc_thread_cputime",
	"libc_process_cputime",
	"libc_gettimeofday",
	"libc_getres",
	"sys_monotonic",
	"sys_thread_cputime",
	"sys_gettimeofday",
	"sys_time",
	"times",
	"getrusage_self",
	"getrusage_thread",
};

static void readings(int n)
{
	for (size_t k = 0; k < sizeof(sources) / sizeof(sources[0]); k++) {
		long long v = 0;
		int i;

		for (i = 0; i < n; i++) {
			v = read_one(sources[k]);
			if (v < 0)
				break;
			vals[i] = (unsigned long long)v;
			work(rand() % 30);
		}
		if (v < 0) {
			printf("{\"source\": \"%s\", \"error\": %lld}\n", sources[k], -v);
			continue;
		}
		printf("{\"source\": \"%s\", \"values\": [", sources[k]);
		for (i = 0; i < n; i++)
			printf("%s%llu", i ? ", " : "", vals[i]);
		printf("]}\n");
	}
}

static void pairs(int n, char *ws)
{
	static const char *const psrc[] = { "libc_monotonic", "libc_thread_cputime" };

	for (char *w = strtok(ws, ","); w; w = strtok(NULL, ",")) {
		double us = atof(w);

		for (size_t k = 0; k < 2; k++) {
			printf("{\"source\": \"%s\", \"w_us\": %g, \"diffs\": [", psrc[k], us);
			for (int i = 0; i < n; i++) {
				long long a, b;

				work((rand() % 1000) / 100.0); /* 0-10 us: a random phase */
				a = read_one(psrc[k]);
				work(us);
				b = read_one(psrc[k]);
				printf("%s%lld", i ? ", " : "", b - a);
			}
			printf("]}\n");
		}
	}
}

/* The child's reads, timed by the TSC from `c0` (the fork), for FOLLOW_MS:
 * long enough that the watchdog has attached the child's own uprobe before
 * the last LATE_MS, however slow its attach; a read that took HELD_NS or
 * more was held (an unheld libc read costs about 30 ns). */
#define FOLLOW_MS 300
#define LATE_MS	  100
#define HELD_NS	  20000
static void first_reads(int n, unsigned long long c0)
{
	static unsigned long long at[MAX_N], cost[MAX_N];
	unsigned long long end = c0 + (unsigned long long)(FOLLOW_MS * 1e6 * cycles_per_ns);
	unsigned long long late = end - (unsigned long long)(LATE_MS * 1e6 * cycles_per_ns);
	unsigned long long held = (unsigned long long)(HELD_NS * cycles_per_ns), a, c;
	unsigned long long first_held = 0, late_reads = 0, late_held = 0;
	struct timespec ts;

	for (int i = 0; (a = __rdtsc()) < end; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		c = __rdtsc() - a;
		if (i < n) {
			at[i] = a;
			cost[i] = c;
		}
		if (c >= held && !first_held)
			first_held = a;
		if (a >= late) {
			late_reads++;
			late_held += c >= held;
		}
	}
	printf("{\"since_fork_us\": [");
	for (int i = 0; i < n; i++)
		printf("%s%.1f", i ? ", " : "", (at[i] - c0) / cycles_per_ns / 1000);
	printf("], \"cost_ns\": [");
	for (int i = 0; i < n; i++)
		printf("%s%.0f", i ? ", " : "", cost[i] / cycles_per_ns);
	printf("], \"first_held_us\": %.1f, \"late_reads\": %llu, \"late_held\": %llu}\n",
	       first_held ? (first_held - c0) / cycles_per_ns / 1000 : -1.0, late_reads, late_held);
	fflush(stdout);
}

static void spin_reads(int ms)
{
	struct timespec ts;
	unsigned long long end = mono_ns() + ms * 1000000ULL, last = 0, gap = 0, now, reads = 0;

	while ((now = mono_ns()) < end) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		reads++;
		if (last && now - last > gap)
			gap = now - last;
		last = now;
	}
	printf("{\"reads\": %llu, \"max_gap_ns\": %llu}\n", reads, gap);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 0;

	if (argc >= 5 && !strcmp(argv[1], "child")) {
		/* exec'ed by `exec`: argv[3] the fork's TSC, argv[4] cycles/ns */
		cycles_per_ns = atof(argv[4]);
		first_reads(n, strtoull(argv[3], NULL, 10));
		return 0;
	}
	if (argc < 3 || n < 1 || n > MAX_N) {
		fprintf(stderr, "usage: jb_target readings|pairs|fork|exec|spin N [W,...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand(getpid());
	calibrate();
	if (wait_go())
		return 1;
	if (!strcmp(argv[1], "readings")) {
		readings(n);
	} else if (!strcmp(argv[1], "pairs") && argc > 3) {
		pairs(n, argv[3]);
	} else if (!strcmp(argv[1], "spin")) {
		spin_reads(n);
	} else if (!strcmp(argv[1], "fork") || !strcmp(argv[1], "exec")) {
		unsigned long long c0 = __rdtsc();
		pid_t pid = fork();

		if (pid == 0) {
			char c0s[32], cpn[32];

			if (argv[1][0] == 'f') {
				first_reads(n, c0);
				_exit(0);
			}
			snprintf(c0s, sizeof(c0s), "%llu", c0);
			snprintf(cpn, sizeof(cpn), "%.6f", cycles_per_ns);
			execl("/proc/self/exe", argv[0], "child", argv[2], c0s, cpn, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
	} else {
		return 2;
	}
	return 0;
}
