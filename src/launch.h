/* SPDX-License-Identifier: GPL-2.0 */
/*
 * launch.h - the -- CMD gate and the guardian (launch.c; ethoswd/launcher.py,
 * guardian.py).
 */
#ifndef ETHOSWD_LAUNCH_H
#define ETHOSWD_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct wd_user;

/* `-- CMD` forked first (its PID goes into the target map) and held at a
 * gate until the probe is attached: wd_child_release() lets it exec the
 * command; if the watchdog fails (or dies) first, the child exits 127
 * without running anything.  The forked child never returns into the
 * caller.  Start from WD_CHILD_INIT. */
struct wd_child {
	pid_t pid;   /* -1 until started */
	int gate_fd; /* write end of the gate, -1 once used */
	int status;  /* exit status once done */
	bool done;
};
#define WD_CHILD_INIT                                                 \
	{                                                             \
		.pid = -1, .gate_fd = -1, .status = -1, .done = false \
	}

/* Fork the gated child of argv (NULL-terminated, argv[0] looked up in
 * PATH as user u, NULL: as root), which runs it as u once released; 0, or
 * -1 with wd_fail() (the command cannot run: nothing was started). */
int wd_child_start(struct wd_child *c, char **argv, const struct wd_user *u);
/* A step the child runs after the gate opens and before -u's drop and its
 * exec: fn(arg), with the descriptor arg kept open for it; -1 keeps the
 * command from running (exit 127).  --jitter: wd_jitter_child_prepare. */
struct wd_child_hook {
	int (*fn)(int arg);
	int arg;
};
int wd_child_start_hooked(struct wd_child *c, char **argv, const struct wd_user *u,
			  const struct wd_child_hook *hook);
void wd_child_release(struct wd_child *c); /* let it exec the command */
/* If never released: close the gate, reap the child, status 127.  A
 * released command is left running.  Safe on WD_CHILD_INIT. */
void wd_child_abort(struct wd_child *c);
/* -1 while running, else the exit status (shell convention: 128+N for
 * signal N), also left in c->status. */
int wd_child_poll(struct wd_child *c);

/* The guardian: a helper process that resumes the processes the watchdog
 * stopped (action throttle) if the watchdog dies while they are stopped.
 * It is one of the watchdog's own processes: pass its pid to the probe as
 * the guard TGID so it is never limited.  Start from WD_GUARDIAN_INIT. */
struct wd_guardian {
	pid_t pid; /* -1 until started */
	int wfd;   /* write end of its pipe, -1 once closed */
};
#define WD_GUARDIAN_INIT             \
	{                            \
		.pid = -1, .wfd = -1 \
	}

/* Fork the guardian of the calling process; 0, or -1 with wd_fail(). */
int wd_guardian_start(struct wd_guardian *g);
void wd_guardian_stopped(struct wd_guardian *g, pid_t tgid); /* "+PID" */
void wd_guardian_resumed(struct wd_guardian *g, pid_t tgid); /* "-PID" */
/* After detaching: say so ("="), close the pipe (the guardian resumes what
 * is still listed at once) and reap it.  Safe on WD_GUARDIAN_INIT. */
void wd_guardian_close(struct wd_guardian *g);

#endif /* ETHOSWD_LAUNCH_H */
