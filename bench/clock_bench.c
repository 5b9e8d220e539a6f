// SPDX-License-Identifier: GPL-2.0
/*
 * clock_bench.c - N clock reads of one kind, timed from outside: it writes
 * one byte to descriptor 3 before the loop and one after, and the harness
 * (jitter_bench.py) takes both times on its own, unmediated clock.  So the
 * time per read is the same measurement with and without --jitter.
 *
 *   clock_bench KIND N     KIND: monotonic, thread_cputime, gettimeofday,
 *                          rdtsc, schedstat (open, read, close of
 *                          /proc/self/schedstat)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

static volatile unsigned long long sink;

static void one(const char *kind)
{
	struct timespec ts;
	struct timeval tv;
	char buf[128];
	int fd;

	switch (kind[0]) {
	case 'm':
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sink += (unsigned long long)ts.tv_nsec;
		break;
	case 't':
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		sink += (unsigned long long)ts.tv_nsec;
		break;
	case 'g':
		gettimeofday(&tv, NULL);
		sink += (unsigned long long)tv.tv_usec;
		break;
	case 'r':
		sink += __rdtsc();
		break;
	case 's':
		fd = open("/proc/self/schedstat", O_RDONLY);
		if (fd >= 0) {
			sink += (unsigned long long)read(fd, buf, sizeof(buf));
			close(fd);
		}
		break;
	}
}

int main(int argc, char **argv)
{
	long n;

	if (argc != 3 || !strchr("mtgrs", argv[1][0])) {
		fprintf(stderr, "usage: clock_bench monotonic|thread_cputime|gettimeofday|rdtsc|"
				"schedstat N\n");
		return 2;
	}
	n = atol(argv[2]);
	one(argv[1]); /* warm: the first open, the first fault */
	if (write(3, "a", 1) != 1)
		return 1;
	for (long i = 0; i < n; i++)
		one(argv[1]);
	if (write(3, "b", 1) != 1)
		return 1;
	return 0;
}
