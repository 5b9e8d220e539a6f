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
#include "ethoswd.h"
#include "loader.h"

/* One series of --metrics-per-cgroup (labels already escaped). */
struct wd_mseries {
	char *cgroup;				      /* safetext-escaped path, or "other" */
	const char *runtime, *container_id, *pod_uid; /* "" when none */
	__u64 allowed, limited;
};

/* Every value the exposition shows (metrics.py Metrics.snapshot()). */
struct wd_msnap {
	const char *version, *frontend, *backend, *action, *profile, *key, *count;
	double start_time, window_s;
	__u64 max_calls, programs, budgets, budgets_limit, budgets_limited, stopped;
	__u64 allowed, limited, limited_windows;
	struct wd_health_counts health;
	int nseries; /* -1: no --metrics-per-cgroup */
	struct wd_mseries *series;
};

/* The text exposition of a snapshot, as prometheus_client's
 * generate_latest() writes it (malloc'ed). */
char *wd_metrics_render(const struct wd_msnap *s);
/* prometheus_client's floatToGoString() (Python repr, Go's exponents). */
char *wd_go_float(double d, char *buf, size_t len);

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

/* metrics_http.c: the HTTP side.  handler(ctx, path) answers /metrics. */
struct wd_http;
typedef char *(*wd_http_metrics_fn)(void *ctx);
typedef bool (*wd_http_health_fn)(void *ctx);
struct wd_http *wd_http_open(const char *addr, int port, wd_http_metrics_fn metrics,
			     wd_http_health_fn health, void *ctx);
int wd_http_fd(struct wd_http *h); /* poll for POLLIN, then wd_http_run() */
void wd_http_run(struct wd_http *h);
void wd_http_close(struct wd_http *h); /* safe on NULL */

#endif /* ETHOSWD_METRICS_H */
