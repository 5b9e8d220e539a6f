// SPDX-License-Identifier: GPL-2.0
/*
 * clockd.c - ethos-clockd's main: the launcher-mode clock supervisor of
 * `--jitter GRAIN` (docs/jitter.md).  One process, one thread, started by
 * either front end for `-- CMD`; it traces the command's whole tree
 * (ptrace) and answers its clock system calls (seccomp user notification)
 * with readings of the keyed clamp (probe/jitter_clamp.h).
 *
 *   clockd.c     main: arguments, secret, TSC rate, seize, the event loop,
 *                pause holds
 *   filter.c     the seccomp program the command's process installs
 *   trace.c      ptrace stops: exec (vDSO hidden), rdtsc/rdtscp emulated,
 *                group-stops, exits
 *   rewrite.c    system calls fixed at their exit (rusage, timers)
 *   notify.c     system calls answered in full (clock_gettime, ...)
 *   procfiles.c  opens of /proc files that carry CPU times
 *   clocks.c     the clocks: families, CPU-time timelines, task table
 *   pause.c      pause on the wall-clock timelines: each thread's own time
 *   readings.c   raw readings: the kernel's clocks, schedstat, /proc text
 *   memio.c      a tracee's memory (process_vm_readv/writev)
 *   state.c      the one state `cd` every part shares, holds, the log
 *
 * Each file has its own header; each calls only down this list's
 * layers: clockd -> trace, notify -> rewrite, procfiles -> clocks ->
 * pause -> readings -> state; memio, filter and coverage stand alone.
 *
 *   ethos-clockd --grain NS --mode clamp|pause --pid PID [--jfrac N]
 *   ethos-clockd --coverage      what it does with each clock source
 *
 * Environment, for experiments: CLOCKD_DEBUG=1 says on stderr what went
 * wrong inside, CLOCKD_STATS=1 prints its counters and CPU time at exit
 * (one JSON line), CLOCKD_NO_FIFO=1 keeps it at normal priority.
 *
 * with descriptors 3, 4, 5 set up by the front end (src/jitter_launch.c,
 * ethoswd/jitter.py): the socket to the command's process, the control
 * pipe from the watchdog, and the pipe for the one ready line.
 *
 * Start-up: draw the run's secret, measure the TSC rate, seize the
 * command's process (it waits at the watchdog's gate), queue the seccomp
 * program on the socket, say "ok JFRAC".  At the gate the process installs the
 * program, sends back the listener and sets PR_SET_TSC; from its exec on
 * every clock it has comes through here.
 *
 * The loop serves ptrace stops (SIGCHLD on a signalfd), notifications,
 * and the pause holds (a timerfd armed at the earliest switch point).
 *
 * Failing closed: every tracee is attached with PTRACE_O_EXITKILL, so
 * when this process ends for any reason the tree is killed: no process of
 * it ever reads an unclamped clock, and none is left stopped.  If the
 * watchdog dies (its control pipe closes without "="), this process exits
 * at once and so takes the tree with it.  After a clean stop ("=") it
 * keeps serving until the tree has exited.
 */
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include "clocks.h"
#include "coverage.h"
#include "filter.h"
#include "notify.h"
#include "pause.h"
#include "readings.h"
#include "state.h"
#include "trace.h"

/* ---- start-up ------------------------------------------------------------ */

static void __attribute__((noreturn)) fail_start(const char *fmt, ...)
{
	char line[300];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(CLOCKD_FD_READY, line, n) < 0)
		dprintf(STDERR_FILENO, CLOCKD_PROG ": %.*s", n, line);
	_exit(2);
}

static __u64 parse_u64(const char *name, const char *s, __u64 lo, __u64 hi)
{
	char *end;
	__u64 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		fail_start("%s %s: out of range %llu..%llu", name, s, (unsigned long long)lo,
			   (unsigned long long)hi);
	return v;
}

static void parse_args(int argc, char **argv)
{
	bool grain = false, mode = false;

	cd.jfrac = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--grain")) {
			cd.grain = parse_u64("--grain", argv[i + 1], WD_JITTER_GRAIN_MIN_NS,
					     WD_JITTER_GRAIN_MAX_NS);
			grain = true;
		} else if (!strcmp(argv[i], "--mode")) {
			if (strcmp(argv[i + 1], "clamp") && strcmp(argv[i + 1], "pause"))
				fail_start("--mode %s: clamp or pause", argv[i + 1]);
			cd.mode = argv[i + 1][0] == 'c' ? JM_CLAMP : JM_PAUSE;
			mode = true;
		} else if (!strcmp(argv[i], "--pid")) {
			cd.root = (pid_t)parse_u64("--pid", argv[i + 1], 2, 4194304);
		} else if (!strcmp(argv[i], "--jfrac")) { /* experiments only */
			cd.jfrac = (__u32)parse_u64("--jfrac", argv[i + 1], 0, WD_JITTER_J_ONE);
		} else {
			fail_start("unknown argument %s", argv[i]);
		}
	}
	if (!grain || !mode || !cd.root || argc % 2 == 0)
		fail_start("usage: " CLOCKD_PROG " --grain NS --mode clamp|pause --pid PID");
	/* J per mode (docs/jitter.md, "The jitter fraction"): clamp spreads
	 * the switch points over the whole grain (the edge attack's spacing is
	 * then anything from 0 to 2 G); pause keeps them near the middle, so
	 * work shorter than G(1 - J) between two reads always crosses exactly
	 * one switch point. */
	if (!cd.jfrac)
		cd.jfrac = cd.mode == JM_CLAMP ? WD_JITTER_J_ONE : WD_JITTER_J_ONE / 16;
}

/* TSC cycles per ms against CLOCK_MONOTONIC_RAW over 5 ms (constant_tsc). */
static __u64 measure_tsc_khz(void)
{
	struct timespec pause = { 0, 5000000 };
	__u64 t0 = now_ns(CLOCK_MONOTONIC_RAW), c0 = __rdtsc(), t1, c1;

	nanosleep(&pause, NULL);
	t1 = now_ns(CLOCK_MONOTONIC_RAW);
	c1 = __rdtsc();
	return (c1 - c0) * 1000000 / (t1 - t0);
}

static void start(void)
{
	unsigned short len;
	const struct sock_filter *prog = clockd_filter(&len);
	sigset_t chld;
	int fd;

	for (fd = CLOCKD_FD_CHILD; fd <= CLOCKD_FD_READY; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			fail_start("descriptor %d not given: run through --jitter", fd);
	/* ptrace stops raise SIGCHLD from the seize on: keep it pending for
	 * the loop's signalfd (left to its default it would be discarded). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	/* Ctrl-C reaches the whole process group: the watchdog decides. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* Pause releases readers at switch points: no timer slack. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	/* Every clock read of the tree waits for this process: on a loaded
	 * machine it must not queue behind other work (real-time priority 1,
	 * below every kernel real-time thread; its work per event is short,
	 * and the kernel's real-time throttling bounds it anyway). */
	if (!getenv("CLOCKD_NO_FIFO")) {
		struct sched_param sp = { .sched_priority = 1 };

		if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
			clockd_log("SCHED_FIFO: %s", strerror(errno));
	}
	if (getrandom(&cd.secret, sizeof(cd.secret), 0) != sizeof(cd.secret))
		fail_start("getrandom: %s", strerror(errno));
	cd.tsc_khz = measure_tsc_khz();
	if (cd.tsc_khz < 1000)
		fail_start("the TSC does not advance (%llu kHz)", (unsigned long long)cd.tsc_khz);
	if (trace_seize(cd.root))
		fail_start("cannot trace the command's process %d: %s", cd.root, cd.last_error);
	if (send(CLOCKD_FD_CHILD, prog, len * sizeof(*prog), 0) < 0)
		fail_start("cannot send the filter: %s", strerror(errno));
	/* "ok", and the jitter fraction for the front end's start line */
	if (dprintf(CLOCKD_FD_READY, "ok %u\n", cd.jfrac) < 0)
		_exit(2);
	close(CLOCKD_FD_READY);
}

/* ---- pause holds --------------------------------------------------------- */

static void hold_release(const struct hold *h)
{
	struct task *t = task_get(h->tid);

	if (h->notif) {
		struct seccomp_notif_resp r = { .id = h->id, .val = h->val };

		/* ENOENT: the caller was interrupted meanwhile; it retries. */
		ioctl(cd.notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
	} else if (t && t->held) {
		t->held = false;
		ptrace(PTRACE_CONT, h->tid, 0, 0);
	}
	pause_released(t);
}

/* Release what is due; the earliest still waiting, or 0. */
static __u64 holds_due(void)
{
	__u64 now = now_ns(CLOCK_MONOTONIC), next = 0;

	for (int i = 0; i < cd.nholds;) {
		if (cd.holds[i].due <= now) {
			struct hold h = cd.holds[i];

			cd.holds[i] = cd.holds[--cd.nholds];
			hold_release(&h);
			continue;
		}
		if (!next || cd.holds[i].due < next)
			next = cd.holds[i].due;
		i++;
	}
	return next;
}

static void arm(int tfd, __u64 due)
{
	struct itimerspec it = { { 0, 0 }, { (time_t)(due / NS_PER_S), (long)(due % NS_PER_S) } };

	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* ---- the loop ------------------------------------------------------------ */

/* 6.6+: the kernel hands the CPU from the caller to the supervisor and
 * back, instead of two ordinary wake-ups (each a trip through the run
 * queue on a loaded machine).  Older kernels: EINVAL, harmless. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1

static void take_listener(void)
{
	char data[8], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(cd.child_sock, &m, MSG_CMSG_CLOEXEC);

	if (n < 0 && errno == EINTR)
		return;
	c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS) {
		memcpy(&cd.notify_fd, CMSG_DATA(c), sizeof(int));
		if (ioctl(cd.notify_fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			  (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))
			clockd_log("SYNC_WAKE_UP: %s", strerror(errno));
	}
	/* one message, or the process went away before sending it */
	close(cd.child_sock);
	cd.child_sock = -1;
}

static void read_ctl(void)
{
	char buf[64];
	ssize_t n = read(cd.ctl_fd, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return;
	if (n > 0) {
		if (memchr(buf, '=', n))
			cd.detached = true;
		return;
	}
	close(cd.ctl_fd);
	cd.ctl_fd = -1;
	/* The watchdog died: fail closed (EXITKILL kills the tree). */
	if (!cd.detached)
		exit(0);
}

static void reap(int sfd)
{
	struct signalfd_siginfo si[16];
	int status;
	pid_t pid;

	/* one read takes what is pending: waitpid() below finds every stop */
	if (read(sfd, si, sizeof(si)) < 0 && errno != EAGAIN)
		return;
	while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
		trace_event(pid, status);
}

static void __attribute__((noreturn)) loop(void)
{
	sigset_t chld;
	int sfd, tfd;
	__u64 armed = 0;

	/* SIGCHLD has been blocked since before the seize: pending, not lost */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0)
		exit(1);
	reap(sfd);
	for (;;) {
		struct pollfd p[5] = {
			{ sfd, POLLIN, 0 },	      { cd.notify_fd, POLLIN, 0 },
			{ cd.child_sock, POLLIN, 0 }, { cd.ctl_fd, POLLIN, 0 },
			{ tfd, POLLIN, 0 },
		};
		__u64 next = holds_due(), ticks;

		if (next != armed) {
			arm(tfd, next);
			armed = next;
		}
		if (cd.started && cd.ntasks == 0 && !cd.nholds)
			exit(0);
		if (poll(p, 5, -1) < 0)
			continue;
		if (p[4].revents & POLLIN && read(tfd, &ticks, sizeof(ticks)) > 0)
			armed = 0;
		if (p[0].revents)
			reap(sfd);
		if (p[2].revents)
			take_listener();
		if (p[1].revents & POLLIN)
			notify_handle(cd.notify_fd);
		else if (p[1].revents & (POLLHUP | POLLERR)) {
			close(cd.notify_fd); /* no process of the tree is left */
			cd.notify_fd = -1;
		}
		if (p[3].revents)
			read_ctl();
	}
}

static void print_stats(void)
{
	struct timespec cpu;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	if (getenv("CLOCKD_STATS"))
		dprintf(STDERR_FILENO,
			"{\"clockd\": {\"notify\": %lu, \"continue\": %lu, \"procfile\": %lu, "
			"\"rdtsc\": %lu, \"exec\": %lu, \"rewrite\": %lu, \"hold\": %lu, "
			"\"signal\": %lu, \"cpu_us\": %llu}}\n",
			cd.n.notify, cd.n.cont, cd.n.procfile, cd.n.rdtsc, cd.n.exec, cd.n.rewrite,
			cd.n.hold, cd.n.signal,
			(unsigned long long)cpu.tv_sec * 1000000 +
				(unsigned long long)cpu.tv_nsec / 1000);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--coverage"))
		return clockd_coverage();
	atexit(print_stats);
	parse_args(argc, argv);
	start();
	loop();
}
