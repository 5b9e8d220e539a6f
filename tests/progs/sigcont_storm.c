/*
 * sigcont_storm.c - sends SIGCONT to a process again and again, as a
 * hostile helper would to undo the watchdog's throttle (issue 17, 2).
 * Run with -h for the options.
 *
 * Three ways to send, because each reaches the kernel differently:
 *   kill    kill(PID, SIGCONT): a signal to the process (SI_USER)
 *   tgkill  tgkill(PID, TID, SIGCONT) to a thread that is not the leader
 *           (SI_TKILL): SIGCONT still resumes the whole thread group
 *   pidfd   pidfd_send_signal(pidfd_open(PID), SIGCONT)
 * It stops when the target is gone (or after -d MS) and prints its own
 * PID, how many signals it sent and whether the target vanished.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static const char usage[] =
	"usage: sigcont_storm [-m kill|tgkill|pidfd] [-i INTERVAL_US] [-d MAX_MS] PID\n"
	"  -m MODE         how to send SIGCONT (default kill)\n"
	"  -i INTERVAL_US  pause between two signals (default 1000)\n"
	"  -d MAX_MS       give up after MAX_MS (default: when PID is gone)\n";

enum mode { M_KILL, M_TGKILL, M_PIDFD };

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "sigcont_storm: %s%s\n%s", msg, arg ? arg : "", usage);
	exit(2);
}

static unsigned long parse_num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		usage_error("not a number: ", s);
	return v;
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* A thread of pid that is not its leader, or 0 if it has none (yet). */
static pid_t other_thread(pid_t pid)
{
	char path[64];
	struct dirent *de;
	pid_t tid = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!tid && (de = readdir(d))) {
		long t = strtol(de->d_name, NULL, 10);

		if (t > 0 && t != pid)
			tid = (pid_t)t;
	}
	closedir(d);
	return tid;
}

int main(int argc, char **argv)
{
	enum mode mode = M_KILL;
	unsigned long interval_us = 1000, max_ms = 0;
	unsigned long long sent = 0, t0;
	struct timespec pause;
	bool gone = false;
	pid_t pid, tid = 0;
	int c, pidfd = -1;

	while ((c = getopt(argc, argv, "m:i:d:h")) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "kill"))
				mode = M_KILL;
			else if (!strcmp(optarg, "tgkill"))
				mode = M_TGKILL;
			else if (!strcmp(optarg, "pidfd"))
				mode = M_PIDFD;
			else
				usage_error("unknown mode: ", optarg);
			break;
		case 'i':
			interval_us = parse_num(optarg);
			break;
		case 'd':
			max_ms = parse_num(optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			usage_error("bad option", NULL);
		}
	}
	if (optind != argc - 1)
		usage_error("one PID is required", NULL);
	pid = (pid_t)parse_num(argv[optind]);
	if (pid <= 1)
		usage_error("refusing PID ", argv[optind]);
	if (mode == M_PIDFD) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			fprintf(stderr, "sigcont_storm: pidfd_open(%d): %s\n", pid,
				strerror(errno));
			return 1;
		}
	}
	pause.tv_sec = interval_us / 1000000;
	pause.tv_nsec = (long)(interval_us % 1000000) * 1000;
	t0 = now_ms();
	while (!max_ms || now_ms() - t0 < max_ms) {
		long ret = 0;

		if (mode == M_KILL) {
			ret = kill(pid, SIGCONT);
		} else if (mode == M_PIDFD) {
			ret = syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0);
		} else {
			/* The thread may not exist yet, or may have exited: look
			 * again; the process itself being gone ends the loop. */
			if (!tid)
				tid = other_thread(pid);
			if (tid)
				ret = syscall(SYS_tgkill, pid, tid, SIGCONT);
			if (tid && ret < 0 && errno == ESRCH && kill(pid, 0) == 0)
				tid = 0, ret = 0;
			else if (!tid && kill(pid, 0) < 0)
				ret = -1;
		}
		if (ret < 0 && errno == ESRCH) {
			gone = true;
			break;
		}
		if (ret < 0) {
			fprintf(stderr, "sigcont_storm: sending SIGCONT: %s\n", strerror(errno));
			return 1;
		}
		if (mode != M_TGKILL || tid)
			sent++;
		if (interval_us)
			nanosleep(&pause, NULL);
	}
	printf("sigcont_storm %d: sent %llu SIGCONT (%s) to %d; target %s\n", getpid(), sent,
	       mode == M_KILL  ? "kill" :
	       mode == M_PIDFD ? "pidfd" :
				 "tgkill",
	       pid, gone ? "gone" : "still there");
	return 0;
}
