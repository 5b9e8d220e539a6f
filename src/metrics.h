/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - Prometheus metrics (ethoswd/metrics.py): --metrics-file
 * (text format 0.0.4, temporary file + rename every interval) and
 * --metrics-listen (/metrics and /healthz over HTTP, libmicrohttpd,
 * served from the session's own loop: metrics_http.c).
 */
#ifndef ETHOSWD_METRICS_H
#define ETHOSWD_METRICS_H

#include "cgname.h"
#include "opts.h"
#include "report.h"
#include "loader.h"
#include "metrics_text.h"

struct wd_metrics;
/* Check the file's directory and bind the HTTP address (before anything
 * is attached): the metrics, NULL when no metrics option was given, or
 * NULL with wd_fail() set (*failed true). */
struct wd_metrics *wd_metrics_open(const struct wd_opts *o, bool *failed);
/* After the attach: the probe to read, what the info metric says. */
void wd_metrics_start(struct wd_metrics *m, struct wd_probe *probe, const char *backend,
		      const char *action);
/* "metrics: writing PATH every N s; serving http://..." (malloc'ed). */
char *wd_metrics_describe(struct wd_metrics *m);
/* The session's pieces: its cgroup names, gauges and reporter (warnings). */
typedef void (*wd_gauges_fn)(void *ctx, __u64 *budgets_limited, __u64 *stopped);
void wd_metrics_bind_session(struct wd_metrics *m, struct wd_cgnames *names, wd_gauges_fn fn,
			     void *ctx, struct wd_report *rep);
/* A budget ended (its EXIT event; key: its whole wd_key): keep its final
 * counts. */
void wd_metrics_retire(struct wd_metrics *m, struct wd_key key, __u64 allowed, __u64 limited,
		       __u64 windows);
void wd_metrics_snapshot(struct wd_metrics *m, struct wd_msnap *s); /* wd_msnap_free() it */
void wd_msnap_free(struct wd_msnap *s);
/* The session loop's wait: ring buffer events and HTTP requests. */
struct ring_buffer;
int wd_metrics_wait(struct wd_metrics *m, struct ring_buffer *rb, int timeout_ms);
void wd_metrics_write_file(struct wd_metrics *m); /* every interval */
/* The last file, stop serving (before the probe closes). */
void wd_metrics_stop(struct wd_metrics *m);
void wd_metrics_free(struct wd_metrics *m); /* safe on NULL */

#endif /* ETHOSWD_METRICS_H */
