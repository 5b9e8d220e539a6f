/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics_text.h - the snapshot of every metric and its text exposition
 * (metrics_text.c).
 */
#ifndef ETHOSWD_METRICS_TEXT_H
#define ETHOSWD_METRICS_TEXT_H

#include "report.h"

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

#endif /* ETHOSWD_METRICS_TEXT_H */
