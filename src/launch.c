// SPDX-License-Identifier: GPL-2.0
/*
 * launch.c - the `-- CMD` gate (ethoswd/launcher.py) and the guardian
 * (ethoswd/guardian.py).
 *
 * The gated child: the command's process is forked first, so that its PID
 * can go into the probe's target map before anything runs.  It finds the
 * command's file as the user who will run it (runas.c) and says so over a
 * second pipe, so a command that cannot run is refused before anything
 * attaches; then it waits on the gate.  Once enforcement is live the
 * watchdog writes "1" and the child takes the command's user (-u) and
 * execs the file; if the watchdog fails (or dies) before that, the pipe
 * closes and the child exits 127 without running anything.
 *
 * The guardian: a small helper process that resumes throttled (stopped)
 * processes if the watchdog itself dies (SIGKILL, a crash) while they are
 * stopped.  The watchdog tells it over a pipe which processes it stopped
 * ("+PID\n") and resumed ("-PID\n"); when the pipe closes, however the
 * watchdog ended, the guardian sends SIGCONT to every process still
 * listed.  It is one of the watchdog's own processes, so the probe is told
 * never to limit it (the guard TGID).
 *
 * If the watchdog died, the guardian first waits (up to EXIT_WAIT_MS) for
 * it to be entirely gone: the pipe closes while the kernel is still
 * releasing the dead watchdog's other files, and a process resumed while
 * the probe is still attached would be stopped again by its next
 * over-limit call (the probe signals every one).  A clean shutdown
 * detaches first and says so with "=\n", so the guardian need not wait.
 *
 * Both helpers are forked from a single-threaded watchdog and never return
 * into the caller: every path in them ends in execv() or _exit().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "launch.h"
#include "runas.h"
#include "text.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* How long a guardian waits for a dead watchdog's files to be released. */
#define EXIT_WAIT_MS   10000
/* The kernel's PID_MAX_LIMIT: no valid PID is larger. */
#define WD_PID_LIMIT   4194304
/* Longest line of the guardian's protocol ("+4194304" and a margin). */
#define GUARD_LINE_MAX 32

/* ---- small helpers shared by both --------------------------------------- */

static void set_disposition(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/*
 * Ctrl-C (or a SIGTERM to the process group) reaches the helpers too.
 * Block both around fork() so the child can switch them to "ignored"
 * before one could run the watchdog's own handler in the child; a signal
 * that arrived meanwhile is discarded when it becomes ignored.
 */
static void block_int_term(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void child_ignore_int_term(const sigset_t *old)
{
	set_disposition(SIGINT, SIG_IGN);
	set_disposition(SIGTERM, SIG_IGN);
	sigprocmask(SIG_SETMASK, old, NULL);
}

static bool fd_kept(int fd, const int *keep, int nkeep)
{
	for (int i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/*
 * In a freshly forked helper, close the descriptors above stderr that it
 * inherited from the watchdog, except `keep`; with cloexec_only, only
 * those marked close-on-exec (the watchdog's own: pipes, pidfds, the
 * probe's), leaving what the watchdog itself inherited for the command.
 * Best effort: without /proc nothing is closed.
 */
static void close_inherited(const int *keep, int nkeep, bool cloexec_only)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || end == de->d_name || fd <= STDERR_FILENO || fd == dirfd(dir) ||
		    fd_kept((int)fd, keep, nkeep))
			continue;
		if (cloexec_only && !(fcntl((int)fd, F_GETFD) & FD_CLOEXEC))
			continue;
		close((int)fd);
	}
	closedir(dir);
}

/*
 * Write all of buf to a pipe whose reader may be gone.  The watchdog must
 * not be killed by SIGPIPE for that (it may have stopped processes to
 * look after), so SIGPIPE is blocked for the write and one it raised is
 * consumed; a SIGPIPE that was already pending is left as it was.
 */
static int pipe_write(int fd, const char *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	const struct timespec zero = { 0, 0 };
	bool was_pending;
	int ret = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = -1;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (ret && errno == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static pid_t wait_for(pid_t pid, int *status, int flags)
{
	pid_t ret;

	do
		ret = waitpid(pid, status, flags);
	while (ret < 0 && errno == EINTR);
	return ret;
}

/* ---- the gated child ---------------------------------------------------- */

/* Wait at the gate: true only for the "1" of wd_child_release(); EOF (the
 * watchdog aborted or died) or anything else keeps the command unrun. */
static bool gate_opened(int rfd)
{
	char go;
	ssize_t n;

	do
		n = read(rfd, &go, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 && go == '1';
}

/* Tests only: WD_GATE_TEST_DELAY_US holds the child this long between its
 * "ok" and its read of the gate, as a loaded machine may
 * (tests/host/test_counting.py). */
static void gate_test_delay(void)
{
	const char *us = getenv("WD_GATE_TEST_DELAY_US");

	if (us && *us)
		usleep((useconds_t)strtoul(us, NULL, 10));
}

/*
 * Wait, at most GATE_WAIT_MS, until the child sits in its read() of the
 * gate (/proc/PID/syscall: "0 0xFD ..."), so that the probe attaches after
 * that read began.  The tracepoints count a call at its entry: a gate read
 * begun after the attach would be counted as the command's, since its PID
 * is a target already.  Past the bound (a machine too loaded to schedule
 * the child for that long) the start goes on: at worst the command's
 * budget carries that one read.
 */
#define GATE_WAIT_MS 5000
static void wait_at_gate(pid_t pid, int fd)
{
	char path[64], buf[128];
	long nr;
	unsigned long arg;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < GATE_WAIT_MS * 10; i++) {
		int f = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);

		if (f >= 0)
			close(f);
		if (n <= 0)
			return; /* no such file (the child is gone): nothing to wait for */
		buf[n] = '\0';
		if (sscanf(buf, "%ld 0x%lx", &nr, &arg) == 2 && nr == SYS_read &&
		    arg == (unsigned long)fd)
			return;
		usleep(100);
	}
}

/* The steps other features take in the command's process between the
 * gate and the exec, while it is still the watchdog's (root, before -u's
 * drop of ids and capabilities: seccomp without no_new_privs needs
 * CAP_SYS_ADMIN): --jitter (jitter_launch.c).  -1 from one: it said why,
 * the command is not run. */
static int pre_exec(const struct wd_child_hook *hook)
{
	if (hook && hook->fn && hook->fn(hook->arg))
		return -1;
	return 0;
}

/*
 * The child: find the command's file as its user and tell the watchdog
 * ("ok", or the refusal) over `report`, wait at the gate, then the
 * features' steps (hook: --jitter), the pre-exec steps (runas.c
 * wd_pre_exec: signals, -u) and execv() of that file: no PATH search is
 * left, and no /bin/sh fallback.
 */
static void __attribute__((noreturn))
child_main(int rfd, int wfd, int report, const sigset_t *old, char **argv, const struct wd_user *u,
	   const struct wd_child_hook *hook)
{
	int err, keep[2] = { rfd, hook ? hook->arg : -1 };
	char name[1024], path[4096], msg[8192];

	/* A Ctrl-C during the watchdog's start-up reaches the whole process
	 * group; the watchdog handles it and closes the gate, so the waiting
	 * child ignores it until it runs the command. */
	child_ignore_int_term(old);
	close(wfd);
	if (wd_command_resolve(argv[0], u, path, sizeof(path), msg, sizeof(msg))) {
		pipe_write(report, msg, strlen(msg));
		_exit(127);
	}
	pipe_write(report, "ok", 2);
	close(report);
	gate_test_delay();
	/* Everything close-on-exec would be gone at exec anyway; let go of it
	 * now, so that a copy held while waiting (the guardian's pipe, the
	 * probe's files) cannot hide the watchdog's death from others. */
	close_inherited(keep, 2, true);
	if (!gate_opened(rfd) || pre_exec(hook))
		_exit(127);
	wd_one_line(argv[0], name, sizeof(name));
	if (wd_pre_exec(u)) {
		err = errno;
		dprintf(STDERR_FILENO, "%s: cannot run %s as user %s: %s\n", WD_PROG, name, u->name,
			strerror(err));
		_exit(127);
	}
	execv(path, argv); /* rfd is close-on-exec */
	err = errno;
	dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", WD_PROG, name, strerror(err));
	_exit(127);
}

/* The child's verdict on its command: 0 for "ok", else -1 with wd_fail(). */
static int child_verdict(int fd)
{
	char msg[8192];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(msg) - 1) {
		n = read(fd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	msg[len] = '\0';
	if (len == 2 && !memcmp(msg, "ok", 2))
		return 0;
	return wd_fail("%s", len ? msg : "the command's process ended before it was checked");
}

int wd_child_start(struct wd_child *c, char **argv, const struct wd_user *u)
{
	return wd_child_start_hooked(c, argv, u, NULL);
}

int wd_child_start_hooked(struct wd_child *c, char **argv, const struct wd_user *u,
			  const struct wd_child_hook *hook)
{
	int fds[2], rep[2], err;
	sigset_t old;

	*c = (struct wd_child)WD_CHILD_INIT;
	if (!argv || !argv[0])
		return wd_fail("no command to run");
	if (pipe2(fds, O_CLOEXEC))
		return wd_fail("cannot create the command's gate: %s", strerror(errno));
	if (pipe2(rep, O_CLOEXEC)) {
		err = errno;
		close(fds[0]);
		close(fds[1]);
		return wd_fail("cannot create the command's gate: %s", strerror(err));
	}
	block_int_term(&old);
	c->pid = fork();
	if (c->pid == 0) {
		close(rep[0]);
		child_main(fds[0], fds[1], rep[1], &old, argv, u, hook);
	}
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[0]);
	close(rep[1]);
	if (c->pid < 0) {
		close(fds[1]);
		close(rep[0]);
		return wd_fail("cannot fork the command's process: %s", strerror(err));
	}
	c->gate_fd = fds[1];
	err = child_verdict(rep[0]);
	close(rep[0]);
	if (err)
		wd_child_abort(c); /* the child exits 127 unrun; reaped */
	else
		wait_at_gate(c->pid, fds[0]);
	return err;
}

void wd_child_release(struct wd_child *c)
{
	if (c->gate_fd < 0)
		return;
	/* If the child is already gone the write fails, harmlessly: poll()
	 * reports how it ended. */
	pipe_write(c->gate_fd, "1", 1);
	close(c->gate_fd);
	c->gate_fd = -1;
}

void wd_child_abort(struct wd_child *c)
{
	if (c->gate_fd < 0)
		return;
	/* EOF at the gate: the child exits 127 without running anything. */
	close(c->gate_fd);
	c->gate_fd = -1;
	if (!c->done && c->pid > 0) {
		int st;

		wait_for(c->pid, &st, 0);
		c->status = 127;
		c->done = true;
	}
}

int wd_child_poll(struct wd_child *c)
{
	pid_t ret;
	int st;

	if (c->done || c->pid <= 0)
		return c->done ? c->status : -1;
	ret = wait_for(c->pid, &st, WNOHANG);
	if (ret == 0 || (ret < 0 && errno != ECHILD))
		return -1;
	if (ret < 0) /* reaped elsewhere: its status is lost */
		c->status = 127;
	else if (WIFSIGNALED(st))
		c->status = 128 + WTERMSIG(st);
	else
		c->status = WEXITSTATUS(st);
	c->done = true;
	return c->status;
}

/* ---- the guardian: its side of the pipe --------------------------------- */

struct pidset { /* the processes left stopped */
	pid_t *pid;
	size_t n, cap;
};

struct guard_state {
	char line[GUARD_LINE_MAX]; /* the line read so far */
	size_t len;
	bool overlong; /* this line is not ours: skip it */
	bool detached; /* "=" seen */
	struct pidset stopped;
};

static void pidset_add(struct pidset *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pid[i] == pid)
			return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		pid_t *p = realloc(s->pid, cap * sizeof(*p));

		if (!p) /* nothing better to do than forget it */
			return;
		s->pid = p;
		s->cap = cap;
	}
	s->pid[s->n++] = pid;
}

static void pidset_del(struct pidset *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pid[i] == pid) {
			s->pid[i] = s->pid[--s->n];
			return;
		}
}

/* A PID as the watchdog writes it: decimal, 1..PID_MAX_LIMIT (never 0 or
 * negative: kill() would take those for groups); 0 if malformed. */
static pid_t parse_pid(const char *s, size_t len)
{
	long v = 0;

	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
		if (v > WD_PID_LIMIT)
			return 0;
	}
	return (pid_t)v;
}

static void guard_line(struct guard_state *s)
{
	pid_t pid;

	if (s->len == 1 && s->line[0] == '=') {
		s->detached = true;
		return;
	}
	if (s->len < 2 || (s->line[0] != '+' && s->line[0] != '-'))
		return;
	pid = parse_pid(s->line + 1, s->len - 1);
	if (!pid)
		return;
	if (s->line[0] == '+')
		pidset_add(&s->stopped, pid);
	else
		pidset_del(&s->stopped, pid);
}

/* Take bytes as read(): a line may come in pieces over several reads. */
static void guard_feed(struct guard_state *s, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			if (!s->overlong)
				guard_line(s);
			s->len = 0;
			s->overlong = false;
		} else if (s->len < sizeof(s->line)) {
			s->line[s->len++] = data[i];
		} else {
			s->overlong = true;
		}
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait until the watchdog has exited (its pidfd turns readable once all
 * its threads are gone, and with them its files, the probe's among them),
 * for EXIT_WAIT_MS at most. */
static void guard_wait_exit(int pidfd)
{
	long long deadline = now_ms() + EXIT_WAIT_MS;
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	for (;;) {
		long long left = deadline - now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) >= 0 || errno != EINTR)
			return;
	}
}

static void __attribute__((noreturn)) guardian_main(int rfd, int pidfd, const sigset_t *old)
{
	struct guard_state s = { 0 };
	int keep[2] = { rfd, pidfd };
	char buf[4096];
	ssize_t n;

	/* The guardian must outlive the watchdog's own shutdown (Ctrl-C goes
	 * to the whole process group) to do its job, so it ignores both. */
	child_ignore_int_term(old);
	/* It never execs: anything else it held (a gate, the probe's files if
	 * forked late) would outlive the watchdog and defeat the wait below. */
	close_inherited(keep, 2, false);
	for (;;) {
		n = read(rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		guard_feed(&s, buf, (size_t)n);
	}
	if (!s.detached)
		guard_wait_exit(pidfd);
	for (size_t i = 0; i < s.stopped.n; i++)
		kill(s.stopped.pid[i], SIGCONT); /* gone: fine */
	free(s.stopped.pid);
	_exit(0);
}

/* ---- the guardian: the watchdog's side ---------------------------------- */

int wd_guardian_start(struct wd_guardian *g)
{
	int pidfd, fds[2], err;
	sigset_t old;

	*g = (struct wd_guardian)WD_GUARDIAN_INIT;
	/* The watchdog's pidfd, for the guardian to wait on (close-on-exec,
	 * like every pidfd). */
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return wd_fail("cannot start the guardian: pidfd_open: %s", strerror(errno));
	if (pipe2(fds, O_CLOEXEC)) {
		err = errno;
		close(pidfd);
		return wd_fail("cannot start the guardian: pipe: %s", strerror(err));
	}
	block_int_term(&old);
	g->pid = fork();
	if (g->pid == 0)
		guardian_main(fds[0], pidfd, &old);
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[0]);
	close(pidfd);
	if (g->pid < 0) {
		close(fds[1]);
		return wd_fail("cannot start the guardian: fork: %s", strerror(err));
	}
	g->wfd = fds[1];
	return 0;
}

static void guardian_say(struct wd_guardian *g, char sign, pid_t tgid)
{
	char line[GUARD_LINE_MAX];
	int n;

	if (g->wfd < 0 || tgid <= 0)
		return;
	n = snprintf(line, sizeof(line), "%c%d\n", sign, (int)tgid);
	/* A dead guardian cannot be helped; the watchdog carries on. */
	pipe_write(g->wfd, line, (size_t)n);
}

void wd_guardian_stopped(struct wd_guardian *g, pid_t tgid)
{
	guardian_say(g, '+', tgid);
}

void wd_guardian_resumed(struct wd_guardian *g, pid_t tgid)
{
	guardian_say(g, '-', tgid);
}

void wd_guardian_close(struct wd_guardian *g)
{
	int st;

	if (g->wfd < 0)
		return;
	pipe_write(g->wfd, "=\n", 2);
	close(g->wfd);
	g->wfd = -1;
	if (g->pid > 0)
		wait_for(g->pid, &st, 0);
}
