/*
 * stop_eater.c - a tracer that discards every stop its tracee is sent,
 * without ever sending SIGCONT: the ptrace way around throttle (issue 17,
 * section 2).  Run with -h for the options.
 *
 * It seizes every thread of PID (PTRACE_SEIZE, following new threads and
 * processes), and at each signal-delivery stop of SIGSTOP, SIGTSTP,
 * SIGTTIN or SIGTTOU resumes the thread without the signal; a group stop
 * (PTRACE_EVENT_STOP) is resumed too.  Other signals are passed on.  It
 * ends when no tracee is left and prints its own PID and how many stops it
 * discarded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "usage: stop_eater PID\n";

static int seize_all(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		long tid = strtol(de->d_name, NULL, 10);

		if (tid > 0 &&
		    ptrace(PTRACE_SEIZE, (pid_t)tid, 0,
			   PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	unsigned long long eaten = 0;
	char *end;
	long pid;

	if (argc != 2 || !strcmp(argv[1], "-h")) {
		fputs(usage, argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : 2;
	}
	pid = strtol(argv[1], &end, 10);
	if (*end || pid <= 1) {
		fprintf(stderr, "stop_eater: bad PID %s\n%s", argv[1], usage);
		return 2;
	}
	if (seize_all((pid_t)pid) <= 0) {
		fprintf(stderr, "stop_eater: cannot trace %ld: %s\n", pid, strerror(errno));
		return 1;
	}
	printf("stop_eater %d: tracing %ld\n", getpid(), pid);
	fflush(stdout);
	for (;;) {
		int st, sig, pass = 0;
		pid_t t = waitpid(-1, &st, __WALL);

		if (t < 0)
			break; /* no tracee left */
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (st >> 16)
			pass = 0; /* a ptrace event: group stop, clone, fork */
		else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			eaten++;
		else
			pass = sig;
		ptrace(PTRACE_CONT, t, 0, pass);
	}
	printf("stop_eater %d: discarded %llu stops\n", getpid(), eaten);
	return 0;
}
