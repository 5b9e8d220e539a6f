/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics_http.h - the HTTP side of --metrics-listen (metrics_http.c):
 * /metrics and /healthz, served from the session's own loop.
 */
#ifndef ETHOSWD_METRICS_HTTP_H
#define ETHOSWD_METRICS_HTTP_H

#include <stdbool.h>

/* handler(ctx, path) answers /metrics. */
struct wd_http;
typedef char *(*wd_http_metrics_fn)(void *ctx);
typedef bool (*wd_http_health_fn)(void *ctx);
struct wd_http *wd_http_open(const char *addr, int port, wd_http_metrics_fn metrics,
			     wd_http_health_fn health, void *ctx);
int wd_http_fd(struct wd_http *h); /* poll for POLLIN, then wd_http_run() */
void wd_http_run(struct wd_http *h);
void wd_http_close(struct wd_http *h); /* safe on NULL */

#endif /* ETHOSWD_METRICS_HTTP_H */
