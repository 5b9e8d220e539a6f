/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_launch.h - starting --jitter's clock supervisor for -- CMD (jitter_launch.c).
 */
#ifndef ETHOSWD_JITTER_LAUNCH_H
#define ETHOSWD_JITTER_LAUNCH_H

#include <linux/types.h>
#include <stdbool.h>
#include <sys/types.h>

/* --jitter GRAIN (jitter_launch.c): the clock supervisor ethos-clockd for
 * the `-- CMD` child.  wd_jitter_open() before the child is forked (it
 * keeps child_sock), wd_jitter_start() once it waits at the gate; the
 * child calls wd_jitter_child_prepare(child_sock) just before its exec.
 * Start from WD_JITTER_INIT. */
struct wd_jitter {
	pid_t pid;	/* ethos-clockd, -1 if not running (or reaped) */
	int ctl_fd;	/* control pipe: "=" at a clean stop */
	int sup_sock;	/* the supervisor's end of the socket, until started */
	int child_sock; /* the child's end */
	__u64 grain_ns;
	const char *mode; /* "clamp" or "pause" */
};

#define WD_JITTER_INIT                                                                     \
	{                                                                                  \
		.pid = -1, .ctl_fd = -1, .sup_sock = -1, .child_sock = -1, .mode = "clamp" \
	}

int wd_jitter_open(struct wd_jitter *j);
int wd_jitter_start(struct wd_jitter *j, pid_t child, unsigned *jfrac); /* J * 65536 */
/* Clean: "=" (keep serving the tree until it exits); else just close (the
 * supervisor ends, and the tree with it).  Safe on WD_JITTER_INIT. */
void wd_jitter_close(struct wd_jitter *j, bool clean);
void wd_jitter_wait(struct wd_jitter *j, int timeout_ms); /* its end, after CMD's */
int wd_jitter_child_prepare(int sock);			  /* -1: said why */

#endif /* ETHOSWD_JITTER_LAUNCH_H */
