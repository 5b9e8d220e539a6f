// SPDX-License-Identifier: GPL-2.0
/*
 * metrics.c - Prometheus metrics: the run's counts (mirrors
 * ethoswd/metrics.py), the --metrics-file writer and the loop's wait;
 * the text is metrics_text.c's, the HTTP side metrics_http.c's.
 *
 * Counters are totals over every budget of the run: the budgets in the
 * map now plus the final counts of those that ended (EXIT events), so
 * they never go down when a process exits.  A budget that left the map
 * before its EXIT event was read keeps its last snapshot's counts until
 * then.  Budgets are known by their whole struct wd_key (id, uid, kind):
 * two users' budgets of one cgroup are two budgets (one series).  With
 * --metrics-per-cgroup N the first N cgroups seen get a series each for
 * the whole run; later ones are summed as "other".  A caller of the root
 * cgroup, which the cgroup key gives a budget of its own (kind
 * WD_KEY_PROCESS), counts in the root cgroup's series: no series is
 * labelled by process.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "errors.h"
#include "labels.h"
#include "metrics_text.h"
#include "opts.h"
#include "report.h"
#include "text.h"
#include "idmap.h"
#include "metrics.h"
#include "metrics_http.h"

#define VERSION	   "1.0" /* cli.py VERSION */
#define STALLED_NS 5000000000ULL

/* ---- the run's state ------------------------------------------------------ */

struct seen { /* a budget's counts at the last snapshot */
	__u64 allowed, limited, windows;
	int series; /* index in m->series; m->nnamed: "other"; -1: none */
};

struct wd_metrics {
	const struct wd_opts *o;
	struct wd_probe *probe;
	const char *backend, *action;
	double start_time;
	struct wd_cgnames *names;
	wd_gauges_fn gauges;
	void *gauges_ctx;
	struct wd_report *rep;
	struct idmap seen;	  /* budget (whole key) -> struct seen * */
	struct idmap ended;	  /* budgets ended since the last snapshot */
	__u64 (*retired)[3];	  /* per series (+ "other", + none): ended budgets */
	struct wd_mseries *named; /* the first --metrics-per-cgroup cgroups */
	int nnamed;
	struct wd_http *http;
	__u64 beat;
	bool file_failed;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static char *http_metrics(void *ctx);
static bool http_health(void *ctx);

static int check_file(const char *path)
{
	char *tmp, *esc, *dir, *escdir, *slash;
	size_t n = strlen(path);
	int err;
	FILE *f;

	if (asprintf(&tmp, "%s.%d.check", path, getpid()) < 0)
		abort();
	f = fopen(tmp, "we");
	err = errno;
	if (f) {
		fclose(f);
		unlink(tmp);
		free(tmp);
		return 0;
	}
	free(tmp);
	/* os.path.dirname(os.path.abspath(path)) */
	dir = path[0] == '/' ? wd_xstrdup(path) : NULL;
	if (!dir) {
		char cwd[4096];

		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = '\0';
		if (asprintf(&dir, "%s/%s", cwd, path) < 0)
			abort();
	}
	slash = strrchr(dir, '/');
	slash[slash == dir] = '\0';
	esc = wd_xmalloc(4 * n + 1);
	escdir = wd_xmalloc(4 * strlen(dir) + 1);
	wd_fail("--metrics-file %s: cannot write in %s: %s", wd_escape(path, n, esc, 4 * n + 1),
		wd_escape(dir, strlen(dir), escdir, 4 * strlen(dir) + 1), strerror(err));
	free(esc);
	free(escdir);
	free(dir);
	return -1;
}

struct wd_metrics *wd_metrics_open(const struct wd_opts *o, bool *failed)
{
	struct wd_metrics *m;

	*failed = false;
	if (!o->metrics_file && !o->metrics_port)
		return NULL;
	if (o->metrics_file && check_file(o->metrics_file)) {
		*failed = true;
		return NULL;
	}
	m = wd_xmalloc(sizeof(*m));
	memset(m, 0, sizeof(*m));
	m->o = o;
	m->retired = wd_xmalloc((o->metrics_per_cgroup + 2) * sizeof(*m->retired));
	memset(m->retired, 0, (o->metrics_per_cgroup + 2) * sizeof(*m->retired));
	m->named = wd_xmalloc((o->metrics_per_cgroup + 1) * sizeof(*m->named));
	m->beat = mono_ns();
	if (o->metrics_port) {
		m->http = wd_http_open(o->metrics_addr, o->metrics_port, http_metrics, http_health,
				       m);
		if (!m->http) {
			wd_metrics_free(m);
			*failed = true;
			return NULL;
		}
	}
	return m;
}

void wd_metrics_start(struct wd_metrics *m, struct wd_probe *probe, const char *backend,
		      const char *action)
{
	struct timespec ts;

	if (!m)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_time = ts.tv_sec + ts.tv_nsec / 1e9;
	m->probe = probe;
	m->backend = backend;
	m->action = action;
}

void wd_metrics_bind_session(struct wd_metrics *m, struct wd_cgnames *names, wd_gauges_fn fn,
			     void *ctx, struct wd_report *rep)
{
	if (!m)
		return;
	m->names = names;
	m->gauges = fn;
	m->gauges_ctx = ctx;
	m->rep = rep;
	wd_metrics_write_file(m);
}

char *wd_metrics_describe(struct wd_metrics *m)
{
	struct wd_buf b = { 0 };
	size_t n;
	char *esc;

	wb_puts(&b, "metrics: ");
	if (m->o->metrics_file) {
		n = strlen(m->o->metrics_file);
		esc = wd_xmalloc(4 * n + 1);
		wb_printf(&b, "writing %s every %g s",
			  wd_escape(m->o->metrics_file, n, esc, 4 * n + 1), m->o->interval_s);
		free(esc);
	}
	if (m->o->metrics_port) {
		bool v6 = strchr(m->o->metrics_addr, ':') != NULL;

		wb_printf(&b, "%sserving http://%s%s%s:%d/metrics and /healthz",
			  m->o->metrics_file ? "; " : "", v6 ? "[" : "", m->o->metrics_addr,
			  v6 ? "]" : "", m->o->metrics_port);
	}
	if (m->o->metrics_per_cgroup)
		wb_printf(&b, "; a series for each of the first %d cgroups",
			  m->o->metrics_per_cgroup);
	return wb_take(&b);
}

/* The series of a budget: its cgroup's (first come), "other", or none.
 * A cgroup budget's cgroup is its id; a fallback's (kind WD_KEY_PROCESS:
 * a caller in the root cgroup) the root cgroup. */
static int series_of(struct wd_metrics *m, const struct wd_key *key)
{
	const struct wd_cgroup *cg;
	__u64 id = key->kind == WD_KEY_CGROUP ? key->id : WD_ROOT_CGROUP_ID;
	char *esc;
	size_t n;

	if (!m->o->metrics_per_cgroup)
		return -1;
	cg = m->names ? wd_cgroup_by_id(m->names, id) : NULL;
	if (!cg)
		return m->o->metrics_per_cgroup;
	n = strlen(cg->path);
	esc = wd_xmalloc(4 * n + 1);
	wd_escape(cg->path, n, esc, 4 * n + 1);
	for (int i = 0; i < m->nnamed; i++) {
		if (!strcmp(m->named[i].cgroup, esc)) {
			free(esc);
			return i;
		}
	}
	if (m->nnamed == m->o->metrics_per_cgroup) {
		free(esc);
		return m->nnamed;
	}
	/* Copies: the cache's records are trimmed. */
	m->named[m->nnamed] = (struct wd_mseries){
		esc, cg->runtime ?: "", wd_xstrdup(cg->container_id), wd_xstrdup(cg->pod_uid), 0, 0
	};
	return m->nnamed++;
}

/* retired[] row of a series: 0..N-1 named, N other, N+1 none. */
static __u64 *retired_of(struct wd_metrics *m, int series)
{
	return m->retired[series < 0 ? m->o->metrics_per_cgroup + 1 : series];
}

static struct seen *seen_of(struct wd_metrics *m, const struct wd_key *key)
{
	struct idval *e = idmap_find(&m->seen, *key);

	return e ? (struct seen *)(uintptr_t)e->val : NULL;
}

void wd_metrics_retire(struct wd_metrics *m, struct wd_key key, __u64 allowed, __u64 limited,
		       __u64 windows)
{
	struct seen *old;
	__u64 *tot;

	if (!m)
		return;
	old = seen_of(m, &key);
	idmap_del(&m->seen, key);
	tot = retired_of(m, old ? old->series : series_of(m, &key));
	tot[0] += allowed;
	tot[1] += limited;
	tot[2] += windows;
	free(old);
	idmap_set(&m->ended, key, 0);
}

void wd_metrics_snapshot(struct wd_metrics *m, struct wd_msnap *s)
{
	int fd = m->probe ? wd_probe_map_fd(m->probe, "wd_state") : -1, nser;
	struct wd_key key, next, *prev = NULL;
	struct wd_value v;
	__u64 budgets = 0;
	__u64(*per)[3];

	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
		struct seen *e;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		budgets++;
		if (idmap_find(&m->ended, key))
			continue; /* its EXIT came first; the delete is on its way */
		e = seen_of(m, &key);
		if (!e) {
			e = wd_xmalloc(sizeof(*e));
			e->series = series_of(m, &key);
			idmap_set(&m->seen, key, (__u64)(uintptr_t)e);
		}
		e->allowed = v.allowed;
		e->limited = v.limited;
		e->windows = v.limited_windows;
	}
	idmap_clear(&m->ended);
	nser = m->o->metrics_per_cgroup + 2;
	per = wd_xmalloc(nser * sizeof(*per));
	memcpy(per, m->retired, nser * sizeof(*per));
	for (int i = 0; i < m->seen.n; i++) {
		const struct seen *e = (const struct seen *)(uintptr_t)m->seen.v[i].val;
		__u64 *acc;

		acc = per[e->series < 0 ? nser - 1 : e->series];
		acc[0] += e->allowed;
		acc[1] += e->limited;
		acc[2] += e->windows;
	}
	memset(s, 0, sizeof(*s));
	s->version = VERSION;
	s->frontend = "ethoswd";
	s->backend = m->backend;
	s->action = m->action;
	s->profile = m->o->policy.profile;
	s->key = wd_key_name(m->o->policy.key);
	s->count = m->o->policy.count;
	s->start_time = m->start_time;
	s->max_calls = m->o->policy.max_calls;
	s->window_s = m->o->policy.window_ms / 1000.0;
	s->programs = m->probe ? m->probe->nlinks : 0;
	s->budgets = budgets;
	s->budgets_limit = m->o->map_size;
	if (m->gauges)
		m->gauges(m->gauges_ctx, &s->budgets_limited, &s->stopped);
	for (int i = 0; i < nser; i++) {
		s->allowed += per[i][0];
		s->limited += per[i][1];
		s->limited_windows += per[i][2];
	}
	if (m->probe)
		wd_probe_health(m->probe, &s->health);
	s->nseries = -1;
	if (m->o->metrics_per_cgroup) {
		s->nseries = m->nnamed + 1;
		s->series = wd_xmalloc(s->nseries * sizeof(*s->series));
		for (int i = 0; i < m->nnamed; i++) {
			s->series[i] = m->named[i];
			s->series[i].allowed = per[i][0];
			s->series[i].limited = per[i][1];
		}
		s->series[m->nnamed] = (struct wd_mseries){
			"other", "", "", "", per[nser - 2][0], per[nser - 2][1]
		};
	}
	free(per);
}

void wd_msnap_free(struct wd_msnap *s)
{
	free(s->series);
	s->series = NULL;
}

static char *http_metrics(void *ctx)
{
	struct wd_metrics *m = ctx;
	struct wd_msnap s;
	char *text;

	wd_metrics_snapshot(m, &s);
	text = wd_metrics_render(&s);
	wd_msnap_free(&s);
	return text;
}

static bool http_health(void *ctx)
{
	struct wd_metrics *m = ctx;

	return mono_ns() - m->beat < STALLED_NS;
}

/* ---- outputs ------------------------------------------------------------ */

int wd_metrics_wait(struct wd_metrics *m, struct ring_buffer *rb, int timeout_ms)
{
	struct pollfd p[2];

	if (!m || !m->http)
		return ring_buffer__poll(rb, timeout_ms);
	m->beat = mono_ns();
	p[0] = (struct pollfd){ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN };
	p[1] = (struct pollfd){ .fd = wd_http_fd(m->http), .events = POLLIN };
	poll(p, 2, timeout_ms);
	/* Events first: a scrape then sees every budget that ended. */
	ring_buffer__consume(rb);
	wd_http_run(m->http);
	return 0;
}

void wd_metrics_write_file(struct wd_metrics *m)
{
	char *tmp, *text;
	struct wd_msnap s;
	FILE *f;
	bool ok;

	if (!m || !m->o->metrics_file || !m->probe)
		return;
	wd_metrics_snapshot(m, &s);
	text = wd_metrics_render(&s);
	wd_msnap_free(&s);
	if (asprintf(&tmp, "%s.%d.tmp", m->o->metrics_file, getpid()) < 0)
		abort();
	f = fopen(tmp, "we");
	ok = f && fputs(text, f) >= 0;
	ok = f && !fclose(f) && ok && !rename(tmp, m->o->metrics_file);
	if (!ok) {
		int err = errno;

		unlink(tmp);
		if (!m->file_failed && m->rep) {
			char line[512];

			snprintf(line, sizeof(line),
				 "metrics file: cannot write: %s; trying again every interval",
				 strerror(err));
			wd_warn(m->rep, line);
		}
	}
	m->file_failed = !ok;
	free(tmp);
	free(text);
}

void wd_metrics_stop(struct wd_metrics *m)
{
	if (!m)
		return;
	wd_metrics_write_file(m);
	wd_http_close(m->http);
	m->http = NULL;
	m->probe = NULL;
}

void wd_metrics_free(struct wd_metrics *m)
{
	if (!m)
		return;
	wd_http_close(m->http);
	for (int i = 0; i < m->seen.n; i++)
		free((struct seen *)(uintptr_t)m->seen.v[i].val);
	for (int i = 0; i < m->nnamed; i++) {
		free(m->named[i].cgroup);
		free((char *)m->named[i].container_id);
		free((char *)m->named[i].pod_uid);
	}
	idmap_free(&m->seen);
	idmap_free(&m->ended);
	free(m->named);
	free(m->retired);
	free(m);
}
