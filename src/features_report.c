// SPDX-License-Identifier: GPL-2.0
/*
 * features_report.c - the --probe-features output (mirrors
 * ethoswd/main.py print_features): every feature, every backend with its
 * actions and routes, auto's choice and the policy (policy_json.c), as
 * text lines or one JSON record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitter_report.h"
#include "labels.h"
#include "opts.h"
#include "policy.h"
#include "policy_json.h"
#include "report.h"
#include "strutil.h"
#include "text.h"
#include "jitter_bpf_run.h"
#include "wdfeatures.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- --probe-features (main.print_features) ---------------------------- */

/* One backend's line of the table: available, and its actions. */
struct backend_info {
	char missing[640]; /* "" when available */
	int nact;
	int act[4];
};

static void backend_info(const struct wd_features *f, int b, struct backend_info *bi)
{
	const char *problem = wd_backend_problem(f, b);

	snprintf(bi->missing, sizeof(bi->missing), "%s", problem ? problem : "");
	bi->nact = 0;
	for (size_t i = 0; !problem && i < NELEMS(wd_action_order); i++)
		if (!wd_action_problem(f, b, wd_action_order[i]))
			bi->act[bi->nact++] = wd_action_order[i];
}

/* A growing list of text lines (malloc'ed each). */
struct lines {
	char *l[192];
	int n;
};

static void add(struct lines *ls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct lines *ls, const char *fmt, ...)
{
	va_list ap;

	if (ls->n >= (int)NELEMS(ls->l))
		return;
	va_start(ap, fmt);
	if (vasprintf(&ls->l[ls->n], fmt, ap) >= 0)
		ls->n++;
	va_end(ap);
}

static void text_backends(const struct wd_features *f, struct lines *ls,
			  const struct backend_info *bi)
{
	struct wd_route rt[WD_NROUTES];

	add(ls, "%s", "");
	add(ls, "%-11s %-24s %s", "BACKEND", "ACTIONS", "STATUS");
	for (int b = 0; b < WD_NBACKENDS; b++) {
		char acts[64] = "";

		for (int i = 0; i < bi[b].nact; i++)
			wd_cat(acts, sizeof(acts), "%s%s", i ? "," : "",
			       wd_action_name(bi[b].act[i]));
		add(ls, "%-11s %-24s %s%s", wd_backend_name(b), acts[0] ? acts : "-",
		    bi[b].missing[0] ? "missing " : "available", bi[b].missing);
	}
	for (int b = 0; b < WD_NBACKENDS; b++) {
		if (!bi[b].nact)
			continue;
		add(ls, "%s", "");
		add(ls, "ROUTES with %s, %s:", wd_backend_name(b), wd_action_name(bi[b].act[0]));
		wd_routes(f, b, bi[b].act[0], rt);
		for (int i = 0; i < WD_NROUTES; i++)
			add(ls, "  %-38s %-20s %s", rt[i].route, rt[i].status, rt[i].how);
	}
}

/* The write probe of the BPF modes: bpf_probe_write_user loads, and why. */
struct jb_probe {
	bool ok;
	char detail[700];
};

/* The JITTER block (main.py: jitter.features_lines). */
static void text_jitter(struct lines *ls, const struct wd_jrow *rows, int n,
			const struct jb_probe *jb)
{
	char *bpf[64];
	int nb;

	add(ls, "%s", "");
	add(ls, "JITTER (--jitter GRAIN, launcher mode: -- CMD):");
	add(ls, "  supervisor ethos-clockd: %s", n < 0 ? "missing (run make clockd)" : "available");
	for (int i = 0; i < n; i++)
		add(ls, "  %s: %s (%s)", rows[i].source, rows[i].status, rows[i].how);
	nb = wd_jb_features_lines(jb->ok, jb->detail, bpf, 64);
	for (int i = 0; i < nb; i++) {
		add(ls, "%s", bpf[i]);
		free(bpf[i]);
	}
}

char *wd_jrows_json(const struct wd_jrow *rows, int n)
{
	struct wd_jarr *a = wja_new();

	for (int i = 0; i < n; i++) {
		struct wd_json *j = wj_new();

		wj_str(j, "source", rows[i].source);
		wj_str(j, "status", rows[i].status);
		wj_str(j, "how", rows[i].how);
		wja_take(a, wj_end(j));
	}
	return wja_end(a);
}

static char *jitter_json(const struct wd_jrow *rows, int n, const struct jb_probe *jb)
{
	struct wd_json *j = wj_new();

	wj_bool(j, "supervisor", n >= 0);
	wj_take(j, "launcher", wd_jrows_json(rows, n));
	wj_take(j, "bpf", wd_jb_features_json(jb->ok, jb->detail));
	return wj_end(j);
}

static void print_text(const struct wd_features *f, const struct wd_policy *p, struct wd_report *r,
		       const struct backend_info *bi, bool chose, int cb, int ca, const char *why,
		       const struct wd_jrow *rows, int nrows, const struct jb_probe *jb)
{
	struct lines ls = { .n = 0 };
	char count[1024];

	add(&ls, "Kernel %s", f->kernel);
	add(&ls, "%s", "");
	add(&ls, "%-34s %-4s %s", "FEATURE", "OK", "DETAIL");
	for (int i = 0; i < WD_NFEATURES; i++)
		add(&ls, "%-34s %-4s %s", f->feat[i].name, f->feat[i].ok ? "yes" : "no",
		    f->feat[i].detail);
	text_backends(f, &ls, bi);
	text_jitter(&ls, rows, nrows, jb);
	add(&ls, "%s", "");
	if (chose)
		add(&ls, "auto: backend %s, action %s (%s)", wd_backend_name(cb),
		    wd_action_name(ca), why);
	else
		add(&ls, "auto: %s", why);
	wd_policy_describe_count(p, count, sizeof(count));
	add(&ls, "policy %s: %llu calls / %llu ms %s; counting %s", p->profile,
	    (unsigned long long)p->max_calls, (unsigned long long)p->window_ms,
	    wd_policy_describe_key(p), count);
	wd_emit(r, NULL, (const char *const *)ls.l, ls.n);
	for (int i = 0; i < ls.n; i++)
		free(ls.l[i]);
}

char *wd_routes_json(const struct wd_route rt[WD_NROUTES])
{
	struct wd_jarr *a = wja_new();

	for (int i = 0; i < WD_NROUTES; i++) {
		struct wd_json *j = wj_new();

		wj_str(j, "route", rt[i].route);
		wj_str(j, "status", rt[i].status);
		wj_str(j, "how", rt[i].how);
		wja_take(a, wj_end(j));
	}
	return wja_end(a);
}

static char *routes_json(const struct wd_features *f, const struct backend_info *bi)
{
	struct wd_json *all = wj_new();
	struct wd_route rt[WD_NROUTES];

	for (int b = 0; b < WD_NBACKENDS; b++) {
		if (!bi[b].nact)
			continue;
		wd_routes(f, b, bi[b].act[0], rt);
		wj_take(all, wd_backend_name(b), wd_routes_json(rt));
	}
	return wj_end(all);
}

static char *backends_json(const struct backend_info *bi)
{
	struct wd_json *all = wj_new();

	for (int b = 0; b < WD_NBACKENDS; b++) {
		struct wd_json *j = wj_new();
		struct wd_jarr *a = wja_new();

		for (int i = 0; i < bi[b].nact; i++)
			wja_str(a, wd_action_name(bi[b].act[i]));
		wj_bool(j, "available", !bi[b].missing[0]);
		wj_take(j, "actions", wja_end(a));
		if (bi[b].missing[0])
			wj_str(j, "missing", bi[b].missing);
		else
			wj_null(j, "missing");
		wj_take(all, wd_backend_name(b), wj_end(j));
	}
	return wj_end(all);
}

static void print_json(const struct wd_features *f, const struct wd_policy *p, struct wd_report *r,
		       const struct backend_info *bi, bool chose, int cb, int ca, const char *why,
		       const struct wd_jrow *rows, int nrows, const struct jb_probe *jb)
{
	struct wd_json *rec = wj_new(), *feats = wj_new(), *aut = wj_new();

	wj_str(rec, "event", "features");
	wj_str(rec, "kernel", f->kernel);
	for (int i = 0; i < WD_NFEATURES; i++) {
		struct wd_json *j = wj_new();

		wj_bool(j, "ok", f->feat[i].ok);
		wj_str(j, "detail", f->feat[i].detail);
		wj_take(feats, f->feat[i].name, wj_end(j));
	}
	wj_take(rec, "features", wj_end(feats));
	wj_take(rec, "backends", backends_json(bi));
	wj_take(rec, "routes", routes_json(f, bi));
	wj_take(rec, "jitter", jitter_json(rows, nrows, jb));
	if (chose) {
		wj_str(aut, "backend", wd_backend_name(cb));
		wj_str(aut, "action", wd_action_name(ca));
	} else {
		wj_null(aut, "backend");
		wj_null(aut, "action");
	}
	wj_str(aut, "reason", why);
	wj_take(rec, "auto", wj_end(aut));
	wj_take(rec, "policy", wd_policy_json(p));
	wd_emit(r, rec, NULL, 0);
}

/* --probe-features: every feature, then every backend and action, and
 * the policy the other flags given would run. */
int wd_print_features(const struct wd_features *f, const struct wd_opts *o, struct wd_report *r)
{
	struct backend_info bi[WD_NBACKENDS];
	struct wd_jrow rows[WD_JROWS_MAX];
	int nrows = wd_clockd_coverage(rows, WD_JROWS_MAX);
	char why[2048];
	int cb = -1, ca = -1;
	bool chose;
	struct jb_probe jb;

	for (int b = 0; b < WD_NBACKENDS; b++)
		backend_info(f, b, &bi[b]);
	chose = !wd_choose(f, WD_BACKEND_AUTO, WD_ACT_AUTO, &cb, &ca, why, sizeof(why));
	jb.ok = wd_jb_probe_write(jb.detail, sizeof(jb.detail));
	if (r->json)
		print_json(f, &o->policy, r, bi, chose, cb, ca, why, rows, nrows, &jb);
	else
		print_text(f, &o->policy, r, bi, chose, cb, ca, why, rows, nrows, &jb);
	return 0;
}
