/*
 * spawn_as.c - run a command as a chosen PID: clone3() with set_tid, the
 * way CRIU restores a process, then execv.  The PID-reuse test uses it to
 * hand an exited target's PID to a new process at once, instead of
 * cycling through pid_max (and without /proc/sys/kernel/ns_last_pid,
 * which needs CONFIG_CHECKPOINT_RESTORE; set_tid needs only root).
 *
 *   spawn_as PID PROGRAM [ARGS...]
 *
 * Exit status: the command's (128+N if killed by signal N); 3 if PID was
 * taken (EEXIST), so the caller can try again; 2 for bad usage; 1 for any
 * other error.  Statically linked like the readers: no reads of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end;
	long pid;
	pid_t tid;
	struct clone_args args;
	int status;

	if (argc < 3) {
		fputs("usage: spawn_as PID PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	errno = 0;
	pid = strtol(argv[1], &end, 10);
	if (errno || *end || pid < 2 || pid > 4194304) {
		fprintf(stderr, "spawn_as: bad PID '%s'\n", argv[1]);
		return 2;
	}
	tid = (pid_t)pid;
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uint64_t)(uintptr_t)&tid;
	args.set_tid_size = 1;
	long child = syscall(SYS_clone3, &args, sizeof(args));

	if (child < 0) {
		if (errno == EEXIST)
			return 3;
		perror("spawn_as: clone3");
		return 1;
	}
	if (child == 0) {
		execv(argv[2], argv + 2);
		perror("spawn_as: execv");
		_exit(127);
	}
	if (waitpid((pid_t)child, &status, 0) < 0) {
		perror("spawn_as: waitpid");
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
