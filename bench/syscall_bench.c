// SPDX-License-Identifier: GPL-2.0
/*
 * syscall_bench.c - time tight syscall loops for the watchdog benchmarks.
 *
 *   syscall_bench [-c CPU] read N [K]    K chunks (default 1) of N 1-byte
 *                                        read()s of /dev/zero
 *   syscall_bench [-c CPU] getpid N [K]  the same with syscall(SYS_getpid),
 *                                        which glibc never caches
 *   syscall_bench [-c CPU] procread N [K] the same with 1-byte preads of
 *                                        /proc/version (a sysinfo read)
 *   syscall_bench [-c CPU] serve         the same commands on stdin, one per
 *                                        line ("read N K"), then "quit"
 *   syscall_bench clockres               the smallest step CLOCK_MONOTONIC
 *                                        takes here, in ns (a VM without a
 *                                        usable TSC may tick only per jiffy)
 *   syscall_bench wait                   sleep until a signal (a target PID)
 *
 * Each command prints one line, "<mode> <N> <K>" and then one field per
 * chunk, "<ns per call>/<involuntary context switches>": the chunk's
 * CLOCK_MONOTONIC time divided by N, and how often the scheduler took the
 * CPU away during it (getrusage(RUSAGE_THREAD), outside the timed loop).
 * On a busy machine a caller can keep only the chunks that ran without
 * being preempted, whose wall time is the syscalls' own.
 *
 * The reply to each serve command is flushed at once, so bench/worker.py
 * drives one long-lived process (one PID for the watchdog to target)
 * through every configuration.  -c pins the process to one CPU.
 * Linked statically so the only read() calls are the loop's and the
 * serve loop's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int zero_fd = -1;
static int proc_fd = -1; /* /proc/version: a read of a procfs file */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per call of n 1-byte reads, or -1 if a read failed. */
static double loop_read(long n)
{
	char c;
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (read(zero_fd, &c, 1) != 1)
			return -1;
	return (now_ns() - t0) / n;
}

/* The same with 1-byte preads of a procfs file (offset 0: data each time). */
static double loop_procread(long n)
{
	char c;
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (pread(proc_fd, &c, 1, 0) != 1)
			return -1;
	return (now_ns() - t0) / n;
}

static double loop_getpid(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	return (now_ns() - t0) / n;
}

/* Smallest observed step of CLOCK_MONOTONIC, in ns. */
static double clock_step(void)
{
	double best = 1e18;

	for (int i = 0; i < 20; i++) {
		double t0 = now_ns(), t1;

		while ((t1 = now_ns()) == t0)
			;
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return best;
}

static long involuntary_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nivcsw;
}

/* Run k chunks of n calls; print one line. */
static int run(const char *mode, long n, long k)
{
	double (*loop)(long);

	if (n <= 0 || k <= 0 || k > 10000) {
		printf("error N must be positive and K 1..10000\n");
		fflush(stdout);
		return 2;
	}
	if (!strcmp(mode, "read"))
		loop = loop_read;
	else if (!strcmp(mode, "getpid"))
		loop = loop_getpid;
	else if (!strcmp(mode, "procread"))
		loop = loop_procread;
	else {
		printf("error unknown mode %s\n", mode);
		fflush(stdout);
		return 2;
	}
	printf("%s %ld %ld", mode, n, k);
	for (long i = 0; i < k; i++) {
		long csw = involuntary_switches();
		double ns = loop(n);

		if (ns < 0) {
			/* A watchdog that denies (kprobe/lsm) would show up here. */
			printf(" error %s\n", strerror(errno));
			fflush(stdout);
			return 1;
		}
		printf(" %.2f/%ld", ns, involuntary_switches() - csw);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

static int serve(void)
{
	char line[128], mode[32];
	long n, k;

	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "quit", 4))
			return 0;
		if (!strncmp(line, "clockres", 8)) {
			printf("clockres %.0f\n", clock_step());
			fflush(stdout);
			continue;
		}
		k = 1;
		if (sscanf(line, "%31s %ld %ld", mode, &n, &k) < 2) {
			printf("error bad command\n");
			fflush(stdout);
			continue;
		}
		run(mode, n, k);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: syscall_bench [-c CPU] "
			"{read N [K] | getpid N [K] | serve | clockres | wait}\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt, cpu = -1;

	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			cpu = atoi(optarg);
		else
			usage();
	}
	if (optind >= argc)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("syscall_bench: sched_setaffinity");
			return 1;
		}
	}
	const char *mode = argv[optind];

	if (!strcmp(mode, "clockres")) {
		printf("clockres %.0f\n", clock_step());
		return 0;
	}

	if (!strcmp(mode, "wait")) {
		for (;;)
			pause(); /* until a signal ends the process */
	}
	proc_fd = open("/proc/version", O_RDONLY);
	zero_fd = open("/dev/zero", O_RDONLY);
	if (zero_fd < 0 || proc_fd < 0) {
		perror("syscall_bench: /dev/zero or /proc/version");
		return 1;
	}
	if (!strcmp(mode, "serve"))
		return serve();
	if (optind + 1 >= argc)
		usage();
	return run(mode, atol(argv[optind + 1]), optind + 2 < argc ? atol(argv[optind + 2]) : 1);
}
