// SPDX-License-Identifier: GPL-2.0
/*
 * reload.c - SIGHUP with --config (ethoswd/reload.py): parse the command
 * line again with the file as it is now, compare with the running policy,
 * apply at once what lives in the probe's maps (max-calls, window-ms,
 * comm, exclude-comm, exclude-exe, the profile's name) or refuse the
 * whole reload, keeping the running policy, when anything else changed
 * (built into the loaded probe, or fixed for the run).  One `reload`
 * event says what changed, what was refused and why; the words and the
 * order are reload.py's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "errors.h"
#include "labels.h"
#include "opts.h"
#include "policy.h"
#include "report.h"
#include "text.h"
#include "wdfeatures.h"
#include "reload.h"
#include "watchdog.skel.h"

#define BUILT_IN "built into the loaded probe: restart to apply"
#define SWITCH                                                                     \
	"turns a filter on or off, which is built into the loaded probe: restart " \
	"to apply"
#define FIXED "fixed for the run: restart to apply"

struct change {
	const char *setting;
	char *old, *new;
	const char *reason; /* NULL: can change while attached */
};

struct diff {
	struct change c[32];
	int n;
	bool refused;
	char *why_backend; /* features' refusal of the new backend/action */
};

static void add(struct diff *d, const char *setting, char *old, char *new, const char *reason)
{
	d->c[d->n++] = (struct change){ setting, old, new, reason };
	d->refused |= reason != NULL;
}

/* One setting: recorded when the texts (or, with `same` >= 0, the sets)
 * differ; takes the texts. */
static void cmp(struct diff *d, const char *setting, char *old, char *new, const char *reason,
		int same)
{
	if (same < 0 ? strcmp(old, new) : !same)
		add(d, setting, old, new, reason);
	else
		free(old), free(new);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static char *names(char (*v)[WD_COMM_LEN], int n)
{
	struct wd_buf b = { 0 };

	for (int i = 0; i < n; i++)
		wb_printf(&b, "%s%s", i ? "," : "", v[i]);
	return wb_take(&b);
}

/* Is every name of x in y? */
static bool names_in(char (*x)[WD_COMM_LEN], int nx, char (*y)[WD_COMM_LEN], int ny)
{
	for (int i = 0; i < nx; i++) {
		int j = 0;

		while (j < ny && strncmp(x[i], y[j], WD_COMM_LEN))
			j++;
		if (j == ny)
			return false;
	}
	return true;
}

static bool same_names(char (*a)[WD_COMM_LEN], int na, char (*b)[WD_COMM_LEN], int nb)
{
	return names_in(a, na, b, nb) && names_in(b, nb, a, na);
}

static char *paths(const struct wd_fileid *f, int n)
{
	struct wd_buf b = { 0 };

	for (int i = 0; i < n; i++)
		wb_printf(&b, "%s%s", i ? "," : "", f[i].path);
	return wb_take(&b);
}

/* Is every file of x (by device and inode) in y? */
static bool files_in(const struct wd_fileid *x, int nx, const struct wd_fileid *y, int ny)
{
	for (int i = 0; i < nx; i++) {
		int j = 0;

		while (j < ny && (x[i].dev != y[j].dev || x[i].ino != y[j].ino))
			j++;
		if (j == ny)
			return false;
	}
	return true;
}

static bool same_files(const struct wd_fileid *a, int na, const struct wd_fileid *b, int nb)
{
	return files_in(a, na, b, nb) && files_in(b, nb, a, na);
}

/* The same filesystems counted (reload.py: the sorted magic numbers). */
static bool same_fs(const struct wd_policy *a, const struct wd_policy *b)
{
	if (a->nfs != b->nfs)
		return false;
	for (int i = 0; i < a->nfs; i++) {
		int j = 0;

		while (j < b->nfs && a->fs[i].magic != b->fs[j].magic)
			j++;
		if (j == b->nfs)
			return false;
	}
	return true;
}

static char *seconds(double s)
{
	return s > 0 ? fmt("%g", s) : strdup("");
}

static char *pids(const struct wd_opts *o)
{
	struct wd_buf b = { 0 };

	for (int i = 0; i < o->npid; i++)
		wb_printf(&b, "%s%u", i ? "," : "", o->pid[i]);
	return wb_take(&b);
}

/* --metrics-listen as reload.py shows it: "ADDR PORT", or "". */
static char *listen_text(const struct wd_opts *o)
{
	return o->metrics_port ? fmt("%s %d", o->metrics_addr, o->metrics_port) : strdup("");
}

/* reload.py compare(), in its order. */
static void compare(struct diff *d, struct wd_opts *o, struct wd_opts *n, const struct wd_reload *r)
{
	const struct wd_policy *po = &o->policy, *pn = &n->policy;
	int b, a;
	char why[1024];

	cmp(d, "profile", strdup(po->profile), strdup(pn->profile), NULL, -1);
	cmp(d, "max-calls", fmt("%llu", (unsigned long long)po->max_calls),
	    fmt("%llu", (unsigned long long)pn->max_calls), NULL, -1);
	cmp(d, "window-ms", fmt("%llu", (unsigned long long)po->window_ms),
	    fmt("%llu", (unsigned long long)pn->window_ms), NULL, -1);
	cmp(d, "comm", names(o->comm, o->ncomm), names(n->comm, n->ncomm),
	    !o->ncomm == !n->ncomm ? NULL : SWITCH,
	    same_names(o->comm, o->ncomm, n->comm, n->ncomm));
	cmp(d, "exclude-comm", names(o->exclude_comm, o->nexclude_comm),
	    names(n->exclude_comm, n->nexclude_comm),
	    !o->nexclude_comm == !n->nexclude_comm ? NULL : SWITCH,
	    same_names(o->exclude_comm, o->nexclude_comm, n->exclude_comm, n->nexclude_comm));
	cmp(d, "exclude-exe", paths(po->exclude_exe, po->nexe), paths(pn->exclude_exe, pn->nexe),
	    !po->nexe == !pn->nexe ? NULL : SWITCH,
	    same_files(po->exclude_exe, po->nexe, pn->exclude_exe, pn->nexe));
	cmp(d, "count", strdup(po->count), strdup(pn->count), BUILT_IN, same_fs(po, pn));
	cmp(d, "file", paths(po->files, po->nfiles), paths(pn->files, pn->nfiles), BUILT_IN,
	    same_files(po->files, po->nfiles, pn->files, pn->nfiles));
	cmp(d, "key", strdup(wd_key_name(po->key)), strdup(wd_key_name(pn->key)), BUILT_IN, -1);
	if (wd_choose(r->feats, n->backend, n->action, &b, &a, why, sizeof(why))) {
		d->why_backend = strdup(wd_last_error());
		add(d, "backend", strdup(wd_backend_name(r->backend)),
		    strdup(wd_backend_name(n->backend)), d->why_backend);
	} else {
		cmp(d, "backend", strdup(wd_backend_name(r->backend)), strdup(wd_backend_name(b)),
		    BUILT_IN, -1);
		cmp(d, "action", strdup(wd_action_name(r->action)), strdup(wd_action_name(a)),
		    BUILT_IN, -1);
	}
	cmp(d, "map-size", fmt("%u", o->map_size), fmt("%u", n->map_size), BUILT_IN, -1);
	cmp(d, "pid", pids(o), pids(n), FIXED, -1);
	cmp(d, "interval", seconds(o->interval_s), seconds(n->interval_s), FIXED, -1);
	cmp(d, "duration", seconds(o->duration_s), seconds(n->duration_s), FIXED, -1);
	cmp(d, "json", strdup(o->json ? "true" : "false"), strdup(n->json ? "true" : "false"),
	    FIXED, -1);
	cmp(d, "user", strdup(o->user.set ? o->user.name : ""),
	    strdup(n->user.set ? n->user.name : ""), FIXED, -1);
	cmp(d, "state-file", strdup(o->state_file ?: ""), strdup(n->state_file ?: ""), FIXED, -1);
	cmp(d, "metrics-file", strdup(o->metrics_file ?: ""), strdup(n->metrics_file ?: ""), FIXED,
	    -1);
	cmp(d, "metrics-listen", listen_text(o), listen_text(n), FIXED, -1);
	cmp(d, "metrics-per-cgroup", fmt("%d", o->metrics_per_cgroup),
	    fmt("%d", n->metrics_per_cgroup), FIXED, -1);
	cmp(d, "jitter", fmt("%llu", (unsigned long long)o->jitter_ns),
	    fmt("%llu", (unsigned long long)n->jitter_ns), FIXED, -1);
	cmp(d, "jitter-mode", strdup(o->jitter_mode), strdup(n->jitter_mode), FIXED, -1);
	cmp(d, "jitter-via", strdup(o->jitter_via), strdup(n->jitter_via), FIXED, -1);
}

/* ---- the probe's sets (probe.py set_names / set_files) -------------------- */

static int put(struct bpf_map *map, const void *key, size_t len, bool add)
{
	__u8 one = 1;

	if (add)
		return bpf_map__update_elem(map, key, len, &one, 1, BPF_ANY);
	return bpf_map__delete_elem(map, key, len, 0) && errno != ENOENT ? -1 : 0;
}

/* An exclusion set (*_out) loses its old entries first, a target set
 * gains its new ones first: never laxer in between. */
static void set_names(struct bpf_map *map, bool out, char (*old)[WD_COMM_LEN], int nold,
		      char (*new)[WD_COMM_LEN], int nnew)
{
	for (int step = 0; step < 2; step++) {
		bool adding = (step == 0) != out;

		for (int i = 0; i < (adding ? nnew : nold); i++) {
			char key[WD_COMM_LEN] = {};

			strncpy(key, adding ? new[i] : old[i], WD_COMM_LEN - 1);
			if (adding || !same_names(&old[i], 1, new, nnew))
				put(map, key, sizeof(key), adding);
		}
	}
}

static void set_files(struct bpf_map *map, const struct wd_fileid *old, int nold,
		      const struct wd_fileid *new, int nnew)
{
	for (int step = 0; step < 2; step++) {
		bool adding = step == 1; /* only exclusions change live: drop first */

		for (int i = 0; i < (adding ? nnew : nold); i++) {
			const struct wd_fileid *f = adding ? &new[i] : &old[i];
			struct wd_file key = { .dev = f->dev, .ino = f->ino };

			if (adding || !same_files(f, 1, new, nnew))
				put(map, &key, sizeof(key), adding);
		}
	}
}

static void apply(struct wd_reload *r, struct wd_opts *n)
{
	struct watchdog_bpf *s = r->probe->skel;
	struct wd_opts *o = r->o;
	struct wd_config cfg = { .max_calls = n->policy.max_calls,
				 .window_ms = n->policy.window_ms };
	struct wd_fileid *exe = o->policy.exclude_exe;
	int zero = 0, nexe = o->policy.nexe;

	bpf_map__update_elem(s->maps.wd_config, &zero, sizeof(zero), &cfg, sizeof(cfg), BPF_ANY);
	if (o->ncomm)
		set_names(s->maps.wd_comm_in, false, o->comm, o->ncomm, n->comm, n->ncomm);
	if (o->nexclude_comm)
		set_names(s->maps.wd_comm_out, true, o->exclude_comm, o->nexclude_comm,
			  n->exclude_comm, n->nexclude_comm);
	if (nexe)
		set_files(s->maps.wd_exe_out, exe, nexe, n->policy.exclude_exe, n->policy.nexe);
	o->policy.max_calls = n->policy.max_calls;
	o->policy.window_ms = n->policy.window_ms;
	o->policy.profile = n->policy.profile;
	memcpy(o->comm, n->comm, sizeof(o->comm));
	o->ncomm = n->ncomm;
	memcpy(o->exclude_comm, n->exclude_comm, sizeof(o->exclude_comm));
	o->nexclude_comm = n->nexclude_comm;
	/* The new list is kept; the old one goes with the new options. */
	o->policy.exclude_exe = n->policy.exclude_exe;
	o->policy.nexe = n->policy.nexe;
	n->policy.exclude_exe = exe;
	n->policy.nexe = nexe;
}

/* ---- the event ------------------------------------------------------------ */

static void report(struct wd_reload *r, struct diff *d, const char *error)
{
	struct wd_json *rec = wj_new();
	struct wd_jarr *ch = wja_new(), *rf = wja_new();
	struct wd_buf said = { 0 };
	bool ok = !error && !d->refused;

	for (int i = 0; i < d->n; i++) {
		struct change *c = &d->c[i];
		struct wd_json *j = wj_new();

		wb_printf(&said, "%s%s %s -> %s", i ? "; " : "", c->setting,
			  *c->old ? c->old : "(none)", *c->new ? c->new : "(none)");
		if (c->reason)
			wb_printf(&said, " (%s)", c->reason);
		wj_str(j, "setting", c->setting);
		wj_str(j, "old", c->old);
		wj_str(j, "new", c->new);
		wja_take(ch, wj_end(j));
		if (c->reason) {
			j = wj_new();
			wj_str(j, "setting", c->setting);
			wj_str(j, "reason", c->reason);
			wja_take(rf, wj_end(j));
		}
	}
	wj_str(rec, "event", "reload");
	wj_str(rec, "config", r->o->config);
	wj_bool(rec, "applied", ok);
	wj_take(rec, "changes", wja_end(ch));
	wj_take(rec, "refused", wja_end(rf));
	if (error)
		wj_str(rec, "error", error);
	else
		wj_null(rec, "error");
	if (error || d->refused)
		wd_info(r->rep, rec, "reload of %s refused, the running policy stays: %s",
			r->o->config, error ? error : said.p);
	else if (d->n)
		wd_info(r->rep, rec, "reload of %s: applied %s", r->o->config, said.p);
	else
		wd_info(r->rep, rec, "reload of %s: no change", r->o->config);
	free(said.p);
}

void wd_reload(void *ctx)
{
	struct wd_reload *r = ctx;
	struct wd_opts n;
	struct diff d = { .n = 0 };
	char error[1024];

	if (wd_opts_parse(r->argc, r->argv, &n)) {
		snprintf(error, sizeof(error), "%s", wd_last_error());
		report(r, &d, error);
	} else {
		compare(&d, r->o, &n, r);
		if (!d.refused && d.n)
			apply(r, &n);
		report(r, &d, NULL);
	}
	wd_opts_free(&n);
	for (int i = 0; i < d.n; i++)
		free(d.c[i].old), free(d.c[i].new);
	free(d.why_backend);
}
