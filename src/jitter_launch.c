// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_launch.c - `--jitter GRAIN` for ethoswd (ethoswd/jitter.py does
 * the same for watchdog.py): start the clock supervisor ethos-clockd
 * (src/jitter/, found next to this program) for the `-- CMD` child, and
 * prepare that child at the gate.  Nothing here is on a clock read's path.
 *
 * Descriptors handed to the supervisor (src/jitter/state.h):
 *   3  a SEQPACKET socket: the supervisor sends the seccomp program on it,
 *      the child sends back the listener;
 *   4  the control pipe: "=" at a clean stop; closed without "=" (the
 *      watchdog died) the supervisor exits and the tree dies with it
 *      (PTRACE_O_EXITKILL): fail closed;
 *   5  the ready pipe: "ok", or one line saying why it could not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "jitter_launch.h"
#include "jitter_report.h"

#define FD_CHILD 3
#define FD_CTL	 4
#define FD_READY 5

int wd_jitter_open(struct wd_jitter *j)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return wd_fail("--jitter: socketpair: %s", strerror(errno));
	j->sup_sock = sv[0];
	j->child_sock = sv[1];
	return 0;
}

/* In the supervisor's fork: its three descriptors, nothing else, exec. */
static void __attribute__((noreturn))
exec_clockd(struct wd_jitter *j, const char *path, int ctl, int ready, pid_t child)
{
	char grain[32], pid[16];
	char *argv[] = { (char *)path,	  "--grain", grain, "--mode",
			 (char *)j->mode, "--pid",   pid,   NULL };
	int from[3] = { j->sup_sock, ctl, ready };

	snprintf(grain, sizeof(grain), "%llu", (unsigned long long)j->grain_ns);
	snprintf(pid, sizeof(pid), "%d", (int)child);
	for (int i = 0; i < 3; i++) /* out of the way first: targets 3..5 */
		from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 10);
	for (int i = 0; i < 3; i++)
		if (from[i] < 0 || dup2(from[i], FD_CHILD + i) < 0)
			_exit(127);
	closefrom(FD_READY + 1);
	execv(path, argv);
	dprintf(ready, "cannot run %s: %s\n", path, strerror(errno));
	_exit(127);
}

int wd_jitter_start(struct wd_jitter *j, pid_t child, unsigned *jfrac)
{
	char path[4096], line[400];
	int ctl[2], ready[2], st;
	ssize_t n, got = 0;

	wd_clockd_path(path, sizeof(path));
	if (access(path, X_OK))
		return wd_fail("--jitter needs %s: run make clockd (or ./install.sh)", path);
	if (pipe2(ctl, O_CLOEXEC) || pipe2(ready, O_CLOEXEC))
		return wd_fail("--jitter: pipe: %s", strerror(errno));
	j->pid = fork();
	if (j->pid == 0)
		exec_clockd(j, path, ctl[0], ready[1], child);
	close(ctl[0]);
	close(ready[1]);
	close(j->sup_sock);
	close(j->child_sock); /* the command's process has its copy */
	j->sup_sock = j->child_sock = -1;
	j->ctl_fd = ctl[1];
	if (j->pid < 0) {
		close(ready[0]);
		return wd_fail("--jitter: fork: %s", strerror(errno));
	}
	/* one line, or EOF */
	while (got < (ssize_t)sizeof(line) - 1 && !memchr(line, '\n', got) &&
	       ((n = read(ready[0], line + got, sizeof(line) - 1 - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		got += n > 0 ? n : 0;
	close(ready[0]);
	line[got] = 0;
	line[strcspn(line, "\n")] = 0;
	/* "ok JFRAC" */
	if (sscanf(line, "ok %u", jfrac) != 1) {
		wd_jitter_close(j, false);
		if (waitpid(j->pid, &st, 0) == j->pid)
			j->pid = -1;
		return wd_fail("--jitter: ethos-clockd could not start: %s",
			       line[0] ? line : "it exited");
	}
	return 0;
}

void wd_jitter_close(struct wd_jitter *j, bool clean)
{
	sigset_t pipe_set, old;
	int st;

	if (j->sup_sock >= 0)
		close(j->sup_sock);
	if (j->child_sock >= 0)
		close(j->child_sock);
	j->sup_sock = j->child_sock = -1;
	if (j->ctl_fd >= 0) {
		/* a supervisor that has ended (the tree exited) leaves no reader */
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigprocmask(SIG_BLOCK, &pipe_set, &old);
		if (clean && write(j->ctl_fd, "=\n", 2) < 0 && errno == EPIPE) {
			const struct timespec zero = { 0, 0 };

			sigtimedwait(&pipe_set, NULL, &zero);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(j->ctl_fd);
		j->ctl_fd = -1;
	}
	if (j->pid > 0 && waitpid(j->pid, &st, WNOHANG) == j->pid)
		j->pid = -1;
}

void wd_jitter_wait(struct wd_jitter *j, int timeout_ms)
{
	struct timespec step = { 0, 5000000 };
	int st;

	for (int waited = 0; j->pid > 0 && waited < timeout_ms; waited += 5) {
		if (waitpid(j->pid, &st, WNOHANG) == j->pid) {
			j->pid = -1;
			return;
		}
		nanosleep(&step, NULL);
	}
}

/* ---- in the command's process, at the gate ------------------------------ */

static int child_fail(const char *what, int err)
{
	dprintf(STDERR_FILENO, "%s: cannot set up --jitter: %s: %s\n", WD_PROG, what,
		strerror(err));
	return -1;
}

int wd_jitter_child_prepare(int sock)
{
	struct sock_filter prog[256];
	struct sock_fprog fprog;
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 }, data = 'L';
	struct iovec iov = { &data, 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	ssize_t n;
	int lfd;

	/* First: the program refuses PR_SET_TSC once installed. */
	if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0))
		return child_fail("prctl(PR_SET_TSC)", errno);
	n = recv(sock, prog, sizeof(prog), 0);
	if (n <= 0 || n % sizeof(prog[0]))
		return child_fail("no seccomp program from the supervisor", n < 0 ? errno : EPROTO);
	fprog.len = (unsigned short)(n / sizeof(prog[0]));
	fprog.filter = prog;
	lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			   &fprog);
	if (lfd < 0)
		return child_fail("seccomp", errno);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &lfd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		return child_fail("sending the listener", errno);
	close(lfd);
	close(sock);
	return 0;
}
