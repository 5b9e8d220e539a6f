/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session.h - the running watchdog (ethoswd/session.py + budgets.py):
 * events, throttle timers, tables, the exit summary.
 */
#ifndef ETHOSWD_SESSION_H
#define ETHOSWD_SESSION_H

#include "launch.h"
#include "opts.h"
#include "report.h"
#include "loader.h"

struct wd_session;

struct wd_stopfile;

/* stopfile: --state-file's, or NULL. */
struct wd_session *wd_session_new(struct wd_probe *probe, struct wd_report *rep,
				  const struct wd_opts *o, int action, struct wd_child *child,
				  struct wd_guardian *guardian, struct wd_stopfile *stopfile);
/* Serve and write metrics from the loop (NULL: none); call before run. */
struct wd_metrics;
void wd_session_set_metrics(struct wd_session *s, struct wd_metrics *m);
/* SIGHUP with --config calls fn(ctx) from the loop (reload.c); without
 * --config SIGHUP stops the session like SIGTERM. */
void wd_session_on_reload(struct wd_session *s, void (*fn)(void *), void *ctx);
/* Run until a stop condition; the reason ("SIGINT", "duration", ...). */
const char *wd_session_run(struct wd_session *s);
/* Drain events, close the probe, resume what was throttled, print the
 * summary; frees the session. */
void wd_session_finish(struct wd_session *s);

#endif /* ETHOSWD_SESSION_H */
