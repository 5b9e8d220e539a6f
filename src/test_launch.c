// SPDX-License-Identifier: GPL-2.0
/*
 * test_launch.c - a driver for launch.c (tests/unit/test_cfront_launch.py).
 *
 *   test_launch CASE [ARG]
 *   test_launch check USER|- CMD [ARGS...]
 *
 * Each case prints "key value" lines on stdout for the test to check.
 * Built from launch.c, runas.c, text.c, errors.c (wd_fail()) and this
 * file; wd_one_line() below is a weak stand-in for text.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "launch.h"
#include "runas.h"
#include "text.h"

__attribute__((weak)) char *wd_one_line(const char *text, char *buf, size_t len)
{
	snprintf(buf, len, "%s", text);
	return buf;
}

static void die(const char *what)
{
	printf("FAIL %s: %s %s\n", what, strerror(errno), wd_last_error());
	exit(1);
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Poll the child until it ends (10 s at most). */
static int finish(struct wd_child *c)
{
	long long deadline = now_ms() + 10000;

	while (wd_child_poll(c) < 0 && now_ms() < deadline)
		pause_ms(10);
	return c->done ? c->status : -1;
}

/* The state letter of /proc/PID/stat ('T' stopped), '?' if gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* Wait (5 s at most) until the state of pid is, or is not, 'T'. */
static bool wait_stopped(pid_t pid, bool stopped)
{
	long long deadline = now_ms() + 5000;

	while ((proc_state(pid) == 'T') != stopped)
		if (now_ms() > deadline)
			return false;
		else
			pause_ms(5);
	return true;
}

static unsigned long inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long)st.st_ino;
}

/* Does pid hold a descriptor of the pipe with this inode? */
static bool holds_pipe(pid_t pid, unsigned long ino)
{
	char path[64], link[64], want[64];
	ssize_t n;

	snprintf(want, sizeof(want), "pipe:[%lu]", ino);
	for (int fd = 0; fd < 256; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, want))
			return true;
	}
	return false;
}

/* Wait (2 s at most) until pid lets go of the pipe; true if it did. */
static bool wait_until_released(pid_t pid, unsigned long ino)
{
	long long deadline = now_ms() + 2000;

	while (holds_pipe(pid, ino))
		if (now_ms() > deadline)
			return false;
		else
			pause_ms(5);
	return true;
}

static void start(struct wd_child *c, char **argv)
{
	fflush(stdout);
	if (wd_child_start(c, argv, NULL))
		die("wd_child_start");
}

/* ---- the gated child ---------------------------------------------------- */

static int case_release(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo ran; exit 7", NULL };
	struct wd_child c = WD_CHILD_INIT;

	start(&c, argv);
	pause_ms(50);
	printf("before_release %d\n", wd_child_poll(&c));
	fflush(stdout);
	wd_child_release(&c);
	printf("status %d\n", finish(&c));
	wd_child_abort(&c); /* released: nothing to do */
	printf("after_abort %d\n", c.status);
	return 0;
}

static int case_abort(const char *marker)
{
	char *argv[] = { "/bin/sh", "-c", "touch \"$0\"", (char *)marker, NULL };
	struct wd_child c = WD_CHILD_INIT, never = WD_CHILD_INIT;

	start(&c, argv);
	wd_child_abort(&c);
	printf("status %d\n", c.status);
	printf("poll %d\n", wd_child_poll(&c));
	printf("ran %d\n", access(marker, F_OK) == 0);
	wd_child_abort(&never); /* never started: a no-op */
	printf("never %d\n", never.status);
	return 0;
}

static int case_kill(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo ran; kill -9 $$; exit 1", NULL };
	struct wd_child c = WD_CHILD_INIT;

	start(&c, argv);
	wd_child_release(&c);
	printf("status %d\n", finish(&c));
	return 0;
}

/* A command that cannot run is refused before the child waits at the gate
 * (wd_child_start fails, the child is reaped); one that disappears between
 * the check and the release fails at exec: 127 and one line. */
static int case_missing(const char *dir)
{
	char *argv[] = { "/no/such/program", NULL };
	char *none[] = { NULL };
	char path[4096], cmd[4200];
	char *gone[] = { path, NULL };
	struct wd_child c = WD_CHILD_INIT;

	printf("refused %d\n", wd_child_start(&c, argv, NULL));
	printf("error %s\n", wd_last_error());
	printf("pid_reaped %d\n", c.pid > 0 && waitpid(c.pid, NULL, WNOHANG) < 0);
	snprintf(path, sizeof(path), "%s/gone", dir);
	snprintf(cmd, sizeof(cmd), "cp /bin/true %s", path);
	if (system(cmd))
		die("cp");
	start(&c, gone);
	unlink(path);
	wd_child_release(&c);
	printf("status %d\n", finish(&c));
	printf("empty %d\n", wd_child_start(&c, none, NULL));
	printf("error %s\n", wd_last_error());
	return 0;
}

/* The verdict on `-- argv` (as user, if given): "verdict ok" or the line. */
static int case_check(const char *user, char **argv)
{
	struct wd_user u = { 0 };
	struct wd_child c = WD_CHILD_INIT;

	if (strcmp(user, "-") && wd_user_lookup(user, &u)) {
		printf("verdict %s\n", wd_last_error());
		return 0;
	}
	if (wd_child_start(&c, argv, strcmp(user, "-") ? &u : NULL))
		printf("verdict %s\n", wd_last_error());
	else
		printf("verdict ok\n");
	wd_child_abort(&c);
	wd_user_free(&u);
	return 0;
}

/* SIGINT and SIGTERM reach the waiting child (Ctrl-C goes to the process
 * group): it ignores them, and the command still runs once released. */
static int case_sigint(void)
{
	char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	struct wd_child c = WD_CHILD_INIT;

	start(&c, argv);
	pause_ms(100);
	kill(c.pid, SIGINT);
	kill(c.pid, SIGTERM);
	pause_ms(100);
	printf("waiting %d\n", wd_child_poll(&c) == -1);
	wd_child_release(&c);
	printf("status %d\n", finish(&c));
	return 0;
}

/* The command starts clean even if ethoswd blocks and ignores signals,
 * and holds neither the gate nor the guardian's pipe (a descriptor the
 * watchdog inherited without close-on-exec is passed on).  The waiting
 * child lets go of the guardian's pipe before it is released. */
static int case_clean(void)
{
	char *grep[] = { "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL };
	char *ls[] = { "ls", "-l", "/proc/self/fd", NULL };
	struct wd_guardian g = WD_GUARDIAN_INIT;
	struct wd_child c = WD_CHILD_INIT;
	sigset_t set;
	int null;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 9) < 0)
		die("dup2");
	close(null);
	if (wd_guardian_start(&g))
		die("wd_guardian_start");
	printf("guardian pipe:[%lu]\n", inode_of(g.wfd));
	start(&c, grep);
	printf("waiting_child_holds_guardian_pipe %d\n",
	       !wait_until_released(c.pid, inode_of(g.wfd)));
	wd_child_release(&c);
	printf("status %d\n", finish(&c));
	start(&c, ls);
	printf("gate pipe:[%lu]\n", inode_of(c.gate_fd));
	wd_child_release(&c);
	printf("status %d\n", finish(&c));
	wd_guardian_close(&g);
	printf("guardian_closed %d %d\n", g.wfd, proc_state(g.pid) == '?');
	return 0;
}

/* Forked after the child (main.c forks it first), the guardian lets go of
 * the gate, so aborting the child does not wait on the guardian. */
static int case_order(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo ran", NULL };
	struct wd_guardian g = WD_GUARDIAN_INIT;
	struct wd_child c = WD_CHILD_INIT;

	start(&c, argv);
	if (wd_guardian_start(&g))
		die("wd_guardian_start");
	printf("guardian_holds_gate %d\n", !wait_until_released(g.pid, inode_of(c.gate_fd)));
	alarm(5);
	wd_child_abort(&c);
	alarm(0);
	printf("status %d\n", c.status);
	wd_guardian_close(&g);
	wd_guardian_close(&g); /* closed: a no-op */
	return 0;
}

/* Has pid exec'd `sleep` (and so dropped its close-on-exec files)? */
static bool is_sleep(pid_t pid)
{
	char path[64], comm[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	return n > 0 && !strcmp(comm, "sleep\n");
}

/* A released `sleep 30`, stopped once it runs (stopped before the exec,
 * it would hold on to the guardian's pipe). */
static void stopped_sleeper(struct wd_child *s)
{
	char *argv[] = { "sleep", "30", NULL };
	long long deadline = now_ms() + 5000;

	start(s, argv);
	wd_child_release(s);
	while (!is_sleep(s->pid))
		if (now_ms() > deadline)
			die("exec sleep");
		else
			pause_ms(5);
	kill(s->pid, SIGSTOP);
	if (!wait_stopped(s->pid, true))
		die("SIGSTOP");
}

/* A clean shutdown: "=" then close; the guardian resumes what is left at
 * once (no waiting), and Ctrl-C did not end it before. */
static int case_guardian_close(void)
{
	struct wd_guardian g = WD_GUARDIAN_INIT;
	struct wd_child s = WD_CHILD_INIT;
	long long t0;

	if (wd_guardian_start(&g))
		die("wd_guardian_start");
	stopped_sleeper(&s);
	wd_guardian_stopped(&g, s.pid);
	kill(g.pid, SIGINT);
	kill(g.pid, SIGTERM);
	pause_ms(50);
	printf("guardian_alive %d\n", strchr("?Z", proc_state(g.pid)) == NULL);
	t0 = now_ms();
	wd_guardian_close(&g);
	printf("close_fast %d\n", now_ms() - t0 < 2000);
	printf("resumed %d\n", proc_state(s.pid) != 'T');
	kill(s.pid, SIGKILL);
	printf("status %d\n", finish(&s));
	return 0;
}

/* The dying watchdog of case_guardian_dead(): registers S1 (in pieces,
 * among lines to ignore) and S2 (then resumes it), closes the pipe without
 * "=", tells the driver the PIDs and exits 500 ms later. */
static void __attribute__((noreturn)) dying_watchdog(int report)
{
	static const char junk[] = "bogus\n+0\n-\n+-5\n+99999999999\n"
				   "+1111111111111111111111111111111111111111111111111\n";
	struct wd_guardian g = WD_GUARDIAN_INIT;
	struct wd_child s1, s2;
	char pid[32];

	if (wd_guardian_start(&g))
		die("wd_guardian_start");
	stopped_sleeper(&s1);
	stopped_sleeper(&s2);
	snprintf(pid, sizeof(pid), "%d\n", (int)s1.pid);
	if (write(g.wfd, "+", 1) != 1)
		die("write");
	pause_ms(30);
	if (write(g.wfd, pid, strlen(pid)) < 0 || write(g.wfd, junk, sizeof(junk) - 1) < 0)
		die("write");
	wd_guardian_stopped(&g, s2.pid);
	wd_guardian_resumed(&g, s2.pid);
	close(g.wfd);
	dprintf(report, "%d %d %d\n", (int)s1.pid, (int)s2.pid, (int)g.pid);
	pause_ms(500);
	_exit(0);
}

static void read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
		n++;
	buf[n] = '\0';
}

/* Reap a process reparented to us (we are a subreaper), 12 s at most. */
static bool reap(pid_t pid)
{
	long long deadline = now_ms() + 12000;
	int st;

	while (waitpid(pid, &st, WNOHANG) != pid)
		if (now_ms() > deadline)
			return false;
		else
			pause_ms(10);
	return true;
}

/* The watchdog dies with S1 stopped: the guardian waits while it is still
 * alive, resumes S1 as soon as it is gone (well before 10 s), and leaves
 * S2, resumed before, alone. */
static int case_guardian_dead(void)
{
	int report[2], st, s1, s2, gpid;
	char line[128];
	long long t0;
	pid_t w;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || pipe2(report, O_CLOEXEC))
		die("setup");
	fflush(stdout);
	w = fork();
	if (w < 0)
		die("fork");
	if (w == 0)
		dying_watchdog(report[1]);
	close(report[1]);
	read_line(report[0], line, sizeof(line));
	close(report[0]);
	if (sscanf(line, "%d %d %d", &s1, &s2, &gpid) != 3)
		die("report");
	pause_ms(250);
	printf("stopped_while_alive %d\n", proc_state(s1) == 'T');
	waitpid(w, &st, 0);
	t0 = now_ms();
	printf("s1_resumed %d\n", wait_stopped(s1, false));
	printf("resume_fast %d\n", now_ms() - t0 < 5000);
	printf("guardian_exited %d\n", reap(gpid));
	printf("s2_state %c\n", proc_state(s2));
	kill(s1, SIGKILL);
	kill(s2, SIGKILL);
	printf("reaped %d %d\n", reap(s1), reap(s2));
	return 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(c, "release"))
		return case_release();
	if (!strcmp(c, "abort") && argc > 2)
		return case_abort(argv[2]);
	if (!strcmp(c, "kill"))
		return case_kill();
	if (!strcmp(c, "missing") && argc > 2)
		return case_missing(argv[2]);
	if (!strcmp(c, "check") && argc > 3)
		return case_check(argv[2], argv + 3);
	if (!strcmp(c, "sigint"))
		return case_sigint();
	if (!strcmp(c, "clean"))
		return case_clean();
	if (!strcmp(c, "order"))
		return case_order();
	if (!strcmp(c, "guardian-close"))
		return case_guardian_close();
	if (!strcmp(c, "guardian-dead"))
		return case_guardian_dead();
	fprintf(stderr, "usage: test_launch CASE [ARG]\n");
	return 2;
}
