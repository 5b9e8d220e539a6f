/*
 * thread_per_read.c - reads 1 byte of /dev/zero from a new thread each
 * time, for DURATION_MS, then prints "ok=N": a reader whose every read
 * comes from a thread that did not exist before (issue 17, section 2).
 *
 *   thread_per_read [-w] DURATION_MS
 *   -w   print "ready" and wait for SIGUSR1 first
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fd;
static unsigned long long ok;

static void *read_once(void *arg)
{
	char b;

	if (read(fd, &b, 1) == 1)
		__atomic_fetch_add(&ok, 1, __ATOMIC_RELAXED);
	return arg;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	int wait = argc == 3 && !strcmp(argv[1], "-w");
	long long end;
	pthread_t t;
	sigset_t usr1;
	int sig;

	if (argc != 2 + wait || atoi(argv[argc - 1]) <= 0) {
		fputs("usage: thread_per_read [-w] DURATION_MS\n", stderr);
		return 2;
	}
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	if (wait) {
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		printf("ready\n");
		fflush(stdout);
		sigwait(&usr1, &sig);
	}
	end = now_ms() + atoi(argv[argc - 1]);
	while (now_ms() < end) {
		if (pthread_create(&t, NULL, read_once, NULL))
			return 1;
		pthread_join(t, NULL);
	}
	printf("ok=%llu\n", ok);
	return 0;
}
