// SPDX-License-Identifier: GPL-2.0
/*
 * test_features.c - print what features.c, choose.c and features_report.c
 * make of this kernel, one "|"-separated line per answer, for
 * tests/host/test_cfront_features.py to compare with ethoswd/features.py
 * on the same kernel.
 *
 *   test_features [SPEC...]     features, then the decisions for each
 *                               SPEC: "-" as probed, or feature indexes
 *                               "3,9" whose yes/no is flipped first
 *   test_features --print       main.print_features, text
 *   test_features --print-json  main.print_features, JSON
 *
 * Built with those three, offsets.c and the bottom rooms (errors.c,
 * labels.c, strutil.c): what the rest of ethoswd provides (policy, JSON,
 * the report) is stubbed here as weak symbols, which the real ones
 * replace when linked with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "labels.h"
#include "opts.h"
#include "policy.h"
#include "report.h"
#include "sysenv.h"
#include "text.h"
#include "offsets.h"
#include "wdfeatures.h"

#define WEAK __attribute__((weak))

/* ---- stubs of policy.c ----------------------------------------------- */

WEAK bool wd_policy_needs_btf(const struct wd_policy *p)
{
	return !p->counts_all || p->nexe > 0;
}

/* The default (seed) policy only. */
WEAK const char *wd_policy_describe_key(const struct wd_policy *p)
{
	(void)p;
	return "per process";
}

WEAK const char *wd_policy_fallback(const struct wd_policy *p)
{
	(void)p;
	return NULL;
}

WEAK void wd_policy_describe_count(const struct wd_policy *p, char *buf, size_t len)
{
	(void)p;
	snprintf(buf, len, "every read-family call");
}

/* ---- a minimal JSON builder (text.c), keys sorted at the end ---------- */

struct wd_json {
	int n;
	char *key[64];
	char *val[64];
};

struct wd_jarr {
	size_t len;
	char *text;
};

static char *jstring(const char *s)
{
	char *out = malloc(strlen(s) * 6 + 3), *o = out;

	*o++ = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			o += sprintf(o, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			o += sprintf(o, "\\u%04x", (unsigned char)*s);
		else
			*o++ = *s;
	}
	strcpy(o, "\"");
	return out;
}

WEAK struct wd_json *wj_new(void)
{
	return calloc(1, sizeof(struct wd_json));
}

WEAK void wj_take(struct wd_json *j, const char *key, char *json_text)
{
	j->key[j->n] = strdup(key);
	j->val[j->n++] = json_text;
}

WEAK void wj_raw(struct wd_json *j, const char *key, const char *json_text)
{
	wj_take(j, key, strdup(json_text));
}

WEAK void wj_str(struct wd_json *j, const char *key, const char *val)
{
	wj_take(j, key, jstring(val));
}

WEAK void wj_u64(struct wd_json *j, const char *key, unsigned long long val)
{
	char *t;

	if (asprintf(&t, "%llu", val) >= 0)
		wj_take(j, key, t);
}

WEAK void wj_bool(struct wd_json *j, const char *key, bool val)
{
	wj_raw(j, key, val ? "true" : "false");
}

WEAK void wj_null(struct wd_json *j, const char *key)
{
	wj_raw(j, key, "null");
}

WEAK char *wj_end(struct wd_json *j)
{
	struct wd_jarr a = { 0, NULL };
	int order[64];
	FILE *fp;

	for (int i = 0; i < j->n; i++)
		order[i] = i;
	for (int i = 1; i < j->n; i++) /* insertion sort by key */
		for (int k = i; k > 0 && strcmp(j->key[order[k - 1]], j->key[order[k]]) > 0; k--) {
			int t = order[k];

			order[k] = order[k - 1], order[k - 1] = t;
		}
	fp = open_memstream(&a.text, &a.len);

	fputc('{', fp);
	for (int i = 0; i < j->n; i++) {
		char *k = jstring(j->key[order[i]]);

		fprintf(fp, "%s%s: %s", i ? ", " : "", k, j->val[order[i]]);
		free(k);
	}
	fputc('}', fp);
	fclose(fp);
	for (int i = 0; i < j->n; i++)
		free(j->key[i]), free(j->val[i]);
	free(j);
	return a.text;
}

WEAK struct wd_jarr *wja_new(void)
{
	struct wd_jarr *a = calloc(1, sizeof(*a));

	a->text = strdup("[");
	return a;
}

WEAK void wja_take(struct wd_jarr *a, char *json_text)
{
	char *t;

	if (asprintf(&t, "%s%s%s", a->text, a->text[1] ? ", " : "", json_text) >= 0) {
		free(a->text);
		a->text = t;
	}
	free(json_text);
}

WEAK void wja_str(struct wd_jarr *a, const char *val)
{
	wja_take(a, jstring(val));
}

WEAK char *wja_end(struct wd_jarr *a)
{
	char *t;

	if (asprintf(&t, "%s]", a->text) < 0)
		t = NULL;
	free(a->text);
	free(a);
	return t;
}

WEAK void wd_emit(struct wd_report *r, struct wd_json *rec, const char *const *lines, int n)
{
	if (rec) {
		char *t = wj_end(rec);

		fprintf(r->out, "%s\n", t);
		free(t);
	}
	for (int i = 0; !r->json && i < n; i++)
		fprintf(r->out, "%s\n", lines[i]);
}

/* ---- the answers ------------------------------------------------------ */

static const int actions[] = { WD_ACT_DENY, WD_ACT_THROTTLE, WD_ACT_KILL, WD_ACT_MONITOR };

static void print_choices(const struct wd_features *f)
{
	char why[2048];
	int b, a;

	for (int cb = -1; cb < WD_NBACKENDS; cb++)
		for (int i = -1; i < 4; i++) {
			int ca = i < 0 ? WD_ACT_AUTO : actions[i];

			printf("choose|%s|%s|", wd_backend_name(cb), wd_action_name(ca));
			if (wd_choose(f, cb, ca, &b, &a, why, sizeof(why)))
				printf("error|%s%s\n", wd_last_error(),
				       strcmp(why, wd_last_error()) ? "|why differs" : "");
			else
				printf("%s|%s|%s\n", wd_backend_name(b), wd_action_name(a), why);
		}
}

static void print_offsets(const struct wd_features *f)
{
	struct wd_offset off[WD_MAX_OFFSETS];
	struct wd_policy p;

	for (int b = 0; b < WD_NBACKENDS; b++)
		for (int k = -1; k < 4; k++) { /* -1: no policy; bit 0 classes, bit 1 exe */
			int n;

			memset(&p, 0, sizeof(p));
			p.counts_all = !(k & 1);
			p.nexe = !!(k & 2);
			n = wd_features_offsets(f, b, k < 0 ? NULL : &p, off);
			printf("offsets|%s|%d|", wd_backend_name(b), k);
			if (n < 0)
				printf("error|%s", wd_last_error());
			for (int i = 0; i < n; i++)
				printf("%s%s=%lld", i ? "," : "", off[i].define, off[i].off);
			printf("\n");
		}
}

static void print_decisions(const struct wd_features *f, const char *spec)
{
	struct wd_route rt[WD_NROUTES];
	char line[4096];
	const char *p;

	printf("spec|%s\n", spec);
	for (int b = 0; b < WD_NBACKENDS; b++) {
		p = wd_backend_problem(f, b);
		printf("backend|%s|%s\n", wd_backend_name(b), p ? p : "ok");
		for (int i = 0; i < 4; i++) {
			p = wd_action_problem(f, b, actions[i]);
			printf("action|%s|%s|%s\n", wd_backend_name(b), wd_action_name(actions[i]),
			       p ? p : "ok");
			wd_routes(f, b, actions[i], rt);
			for (int r = 0; r < WD_NROUTES; r++)
				printf("route|%s|%s|%s|%s|%s\n", wd_backend_name(b),
				       wd_action_name(actions[i]), rt[r].route, rt[r].status,
				       rt[r].how);
		}
	}
	for (int k = 0; k < 4; k++) {
		p = wd_key_problem(f, k);
		printf("key|%s|%s\n", wd_key_name(k), p ? p : "ok");
	}
	print_choices(f);
	print_offsets(f);
	wd_summary_line(f, line, sizeof(line));
	printf("summary|%s\n", line);
}

/* Flip the yes/no of the features listed in spec ("3,9"; "-": none). */
static void flip(struct wd_features *f, const char *spec)
{
	const char *s = spec;

	while (*s && strcmp(spec, "-")) {
		int i = atoi(s);

		if (i >= 0 && i < WD_NFEATURES)
			f->feat[i].ok = !f->feat[i].ok;
		s += strcspn(s, ",");
		s += *s == ',';
	}
}

int main(int argc, char **argv)
{
	static struct wd_opts o;
	struct wd_features f;
	struct wd_report r = { .json = false, .out = stdout };
	char notes[4][128];
	int n;

	/* As main.c's choose(): mount tracefs, debugfs and securityfs where
	 * absent, then probe (on a freshly booted machine tracefs may not be
	 * mounted yet). The notes go to stderr, as the front ends' do. */
	n = wd_mount_pseudo(notes, 4);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "test_features: %s\n", notes[i]);
	wd_features_probe(&f, true);
	o.policy.profile = "seed";
	o.policy.max_calls = WD_DEFAULT_MAX_CALLS;
	o.policy.window_ms = WD_DEFAULT_WINDOW_MS;
	snprintf(o.policy.count, sizeof(o.policy.count), "all");
	o.policy.counts_all = true;
	if (argc > 1 && !strncmp(argv[1], "--print", 7)) {
		r.json = !strcmp(argv[1], "--print-json");
		wd_print_features(&f, &o, &r);
		wd_features_free(&f);
		return 0;
	}
	printf("kernel|%s\nuring_tp|%s\nuring_ops|%s\n", f.kernel, f.uring_tp, f.uring_ops);
	for (int i = 0; i < WD_NFEATURES; i++)
		printf("feature|%s|%s|%s\n", f.feat[i].name, f.feat[i].ok ? "yes" : "no",
		       f.feat[i].detail);
	for (int i = 1; i < argc; i++) {
		flip(&f, argv[i]);
		print_decisions(&f, argv[i]);
		flip(&f, argv[i]);
	}
	wd_features_free(&f);
	return 0;
}
