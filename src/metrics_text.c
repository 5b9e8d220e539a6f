// SPDX-License-Identifier: GPL-2.0
/*
 * metrics_text.c - the Prometheus text format (0.0.4) of a metrics
 * snapshot, byte for byte as prometheus_client's generate_latest() writes
 * ethoswd/metrics.py's families: HELP and TYPE lines, labels sorted by
 * name and escaped (\\, \n, \"), numbers as floatToGoString() prints them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"
#include "metrics_text.h"

/* ---- numbers: prometheus_client's floatToGoString ----------------------- */

/* Python's repr() of a finite double: the shortest digits that read
 * back the same; fixed notation unless the exponent is below -4 or 16 or
 * more (Python's float_repr_style "short"). */
static void py_repr(double d, char *out, size_t len)
{
	char buf[40], digits[24];
	int exp, nd = 0, p, dp;
	size_t k = 0;

	for (p = 1; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	for (char *c = buf; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	exp = d == 0 ? 0 : atoi(strchr(buf, 'e') + 1);
	dp = exp + 1; /* digits before the point */
#define PUT(c) (k + 1 < len ? (void)(out[k++] = (c)) : (void)0)
	if (signbit(d))
		PUT('-');
	if (exp < -4 || exp >= 16) {
		PUT(digits[0]);
		if (nd > 1)
			PUT('.');
		for (int i = 1; i < nd; i++)
			PUT(digits[i]);
		k += snprintf(out + k, len - k, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
		return;
	}
	if (dp <= 0) {
		PUT('0');
		PUT('.');
		for (int i = 0; i < -dp; i++)
			PUT('0');
	}
	for (int i = 0; i < nd || i < dp; i++) {
		if (i == dp && dp > 0)
			PUT('.');
		PUT(i < nd ? digits[i] : '0');
	}
	if (dp >= nd) {
		PUT('.');
		PUT('0');
	}
#undef PUT
	out[k] = '\0';
}

char *wd_go_float(double d, char *buf, size_t len)
{
	char s[64], mant[64];
	char *dot;
	size_t n;

	py_repr(d, s, sizeof(s));
	dot = strchr(s, '.');
	if (d > 0 && dot && dot - s > 6) {
		/* f'{s[0]}.{s[1:dot]}{s[dot + 1:]}'.rstrip('0.') + f'e+0{dot - 1}' */
		snprintf(mant, sizeof(mant), "%c.%.*s%s", s[0], (int)(dot - s - 1), s + 1, dot + 1);
		n = strlen(mant);
		while (n && (mant[n - 1] == '0' || mant[n - 1] == '.'))
			mant[--n] = '\0';
		snprintf(buf, len, "%se+0%d", mant, (int)(dot - s - 1));
		return buf;
	}
	snprintf(buf, len, "%s", s);
	return buf;
}

/* ---- the text format ----------------------------------------------------- */

/* HELP text: \ and newline escaped; label values also ". */
static void put_escaped(struct wd_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			wb_puts(b, "\\\\");
		else if (*s == '\n')
			wb_puts(b, "\\n");
		else if (*s == '"' && quote)
			wb_puts(b, "\\\"");
		else
			wb_putn(b, s, 1);
	}
}

static void family(struct wd_buf *b, const char *name, const char *type, const char *help)
{
	wb_printf(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	wb_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* A sample; labels: NULL-terminated name, value pairs, sorted by name. */
static void sample(struct wd_buf *b, const char *name, double value, const char *const *labels)
{
	char num[64];

	wb_puts(b, name);
	for (int i = 0; labels && labels[i]; i += 2) {
		wb_printf(b, "%s%s=\"", i ? "," : "{", labels[i]);
		put_escaped(b, labels[i + 1], true);
		wb_puts(b, labels[i + 2] ? "\"" : "\"}");
	}
	wb_printf(b, " %s\n", wd_go_float(value, num, sizeof(num)));
}

static void one(struct wd_buf *b, const char *name, const char *type, const char *help,
		double value)
{
	family(b, name, type, help);
	sample(b, name, value, NULL);
}

/* Every health counter the probe has is exported: a new one fails the
 * build here until it gets a metric (and one in ethoswd/metrics.py). */
_Static_assert(WD_H_SLOTS == 5 && sizeof(struct wd_health_counts) == 5 * sizeof(__u64),
	       "a health counter has no metric");

char *wd_metrics_render(const struct wd_msnap *s)
{
	static const char *const health_help[] = {
		"Calls of processes the full map could not track, NOT limited (raise --map-size)",
		"Children of targets that got no entry (the map was full), NOT limited",
		"Ring-buffer events lost",
		"Calls that lost every race to open a window, counted as over the limit",
		"Throttled processes that could not be recorded as stopped: a SIGCONT to them is "
		"NOT escalated",
	};
	const __u64 health[] = { s->health.map_full, s->health.targets_full, s->health.events_lost,
				 s->health.contended, s->health.stops_full };
	static const char *const health_names[] = { "map_full", "targets_full", "events_lost",
						    "contended", "stops_full" };
	const char *info[] = { "action",  s->action,  "backend",   s->backend, "count",
			       s->count,  "frontend", s->frontend, "key",      s->key,
			       "profile", s->profile, "version",   s->version, NULL };
	struct wd_buf b = { 0 };
	char name[64];

	family(&b, "ethos_watchdog_info", "gauge",
	       "The running watchdog: version, front end, backend, action, policy profile, "
	       "budget key and read class");
	sample(&b, "ethos_watchdog_info", 1, info);
	one(&b, "ethos_start_time_seconds", "gauge",
	    "Start of the watchdog, seconds since the Unix epoch", s->start_time);
	one(&b, "ethos_limit_calls", "gauge",
	    "Counted calls allowed per window per budget "
	    "(--max-calls)",
	    s->max_calls);
	one(&b, "ethos_window_seconds", "gauge", "Length of a budget's window (--window-ms)",
	    s->window_s);
	one(&b, "ethos_programs_attached", "gauge", "BPF programs attached", s->programs);
	one(&b, "ethos_budgets", "gauge", "Budgets in the probe's map now", s->budgets);
	one(&b, "ethos_budgets_limit", "gauge", "Budgets the probe's map can hold (--map-size)",
	    s->budgets_limit);
	one(&b, "ethos_budgets_limited", "gauge",
	    "Budgets that hit the limit in their current or last window (state LIMITED or "
	    "STOPPED)",
	    s->budgets_limited);
	one(&b, "ethos_processes_stopped", "gauge", "Processes stopped by throttle now",
	    s->stopped);
	one(&b, "ethos_calls_allowed_total", "counter",
	    "Counted calls within the limit, every budget of the run", s->allowed);
	one(&b, "ethos_calls_limited_total", "counter",
	    "Counted calls over the limit (denied, stopped, killed, or only reported with "
	    "monitor), every budget of the run",
	    s->limited);
	one(&b, "ethos_limited_windows_total", "counter", "Windows in which a budget hit the limit",
	    s->limited_windows);
	for (size_t i = 0; i < sizeof(health) / sizeof(health[0]); i++) {
		snprintf(name, sizeof(name), "ethos_health_%s_total", health_names[i]);
		one(&b, name, "counter", health_help[i], health[i]);
	}
	for (int w = 0; s->nseries >= 0 && w < 2; w++) {
		snprintf(name, sizeof(name), "ethos_cgroup_calls_%s_total",
			 w ? "limited" : "allowed");
		family(&b, name, "counter",
		       w ? "Counted calls over the limit, per cgroup: the first "
			   "--metrics-per-cgroup cgroups seen, the rest summed in cgroup=\"other\"" :
			   "Counted calls within the limit, per cgroup: the first "
			   "--metrics-per-cgroup cgroups seen, the rest summed in cgroup=\"other\"");
		for (int i = 0; i < s->nseries; i++) {
			const struct wd_mseries *x = &s->series[i];
			const char *labels[] = {
				"cgroup",	 x->cgroup,	      "container_id",
				x->container_id, "container_runtime", x->runtime,
				"pod_uid",	 x->pod_uid,	      NULL
			};

			sample(&b, name, w ? x->limited : x->allowed, labels);
		}
	}
	return wb_take(&b);
}
