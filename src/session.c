// SPDX-License-Identifier: GPL-2.0
/*
 * session.c - the running watchdog (ethoswd/session.py and budgets.py).
 *
 * wd_session_run() polls the ring buffer for LIMIT, STOPPED, ESCALATE, EXIT
 * and PROC_EXIT events, resumes throttled processes when their window ends,
 * prints a table every interval, and stops on SIGINT/SIGTERM, the end of
 * --duration, the exit of the launched command, or the exit of every -p
 * process.  wd_session_finish() detaches first, then resumes anything
 * still stopped and prints the summary.  A row is one budget: a process
 * with the process key; a tree, user or cgroup with a shared key, whose
 * row lists the processes charged to it.  Budgets are known by their whole
 * struct wd_key (id, uid, kind): a row's key is the one its budget really
 * has, "process" where the caller fell back to a budget of its own.  Rows
 * of exited processes are kept by exited.c (the newest WD_EXITED_ROWS,
 * older ones folded into the summary's not_listed counts), and every set
 * is an idmap (hashed, by the whole key), so memory stays bounded and each
 * event or table costs time in proportion to the live processes, however
 * long the watchdog runs.  Rows of processes, and cgroup budgets' rows, name
 * their cgroup (path, container runtime and ID: cgname.c, through
 * names.c's cache); the metrics (metrics.c) are read in the same loop.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "errors.h"
#include "labels.h"
#include "launch.h"
#include "opts.h"
#include "report.h"
#include "text.h"
#include "cgname.h"
#include "exited.h"
#include "idmap.h"
#include "metrics.h"
#include "names.h"
#include "session.h"
#include "stopfile.h"
#include "watchdog.skel.h"

#define NS_PER_MS 1000000ULL

struct wd_session {
	struct wd_probe *probe;
	struct wd_report *rep;
	const struct wd_opts *o;
	int action, key;
	bool shared;
	struct wd_child *child;
	struct wd_guardian *guardian;
	struct wd_stopfile *stopfile; /* --state-file, or NULL */
	struct ring_buffer *rb;
	struct idmap limited;	    /* budget -> end of last limited window (ns) */
	struct idmap stopped;	    /* wd_pid_key(tgid) -> when to SIGCONT it (ns) */
	struct idmap last_total;    /* budget -> total at the last table */
	struct wd_exited exited;    /* rows of ended budgets, exited processes */
	struct wd_names names;	    /* users and cgroups of budgets, processes' cgroups */
	struct wd_metrics *metrics; /* --metrics-file/--metrics-listen, or NULL */
	struct wd_health_counts health;
	const char *stop_reason;
	char reason_buf[64];
	double started;
	void (*reload)(void *); /* SIGHUP with --config */
	void *reload_ctx;
};

static volatile sig_atomic_t got_signal, got_hup;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

void wd_session_on_reload(struct wd_session *s, void (*fn)(void *), void *ctx)
{
	s->reload = fn;
	s->reload_ctx = ctx;
}

/* The limit the probe holds now (a reload may have changed it). */
static void probe_limits(struct wd_session *s, __u64 *max_calls, __u64 *window_ms)
{
	struct wd_config cfg = { .max_calls = s->o->policy.max_calls,
				 .window_ms = s->o->policy.window_ms };
	int zero = 0;

	bpf_map__lookup_elem(s->probe->skel->maps.wd_config, &zero, sizeof(zero), &cfg, sizeof(cfg),
			     0);
	*max_calls = cfg.max_calls;
	*window_ms = cfg.window_ms;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: the probe's window clock. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- rows ----------------------------------------------------------------- */
static const char *state_of(struct wd_session *s, const struct wd_key *k, const struct wd_share *sh,
			    int nsh)
{
	if (!s->shared && idmap_find(&s->stopped, wd_pid_key(k->id)))
		return "STOPPED";
	for (int i = 0; i < nsh; i++)
		if (idmap_find(&s->stopped, wd_pid_key(sh[i].pid)))
			return "STOPPED";
	return idmap_find(&s->limited, *k) ? "LIMITED" : "ok";
}

static int share_cmp(const void *a, const void *b)
{
	const struct wd_share *x = a, *y = b;
	__u64 tx = x->allowed + x->limited, ty = y->allowed + y->limited;

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The cgroup a row names: a cgroup budget's (kind WD_KEY_CGROUP), else
 * process pid's own (a process-key row; a share of a tree, uid or
 * fallback budget), read once while it is listed. */
static const struct wd_cgroup *where(struct wd_session *s, __u32 pid, int kind, __u64 id)
{
	if (kind == WD_KEY_CGROUP)
		return wd_cgroup_by_id(s->names.cg, id);
	return wd_cgroup_of_pid(s->names.cg, pid);
}

/* Every process share: live ones from wd_procs, then the kept shares of
 * exited processes whose PID is not live again (*hidden counts those). */
static struct wd_share *all_shares(struct wd_session *s, int *n, int *hidden)
{
	int fd = bpf_map__fd(s->probe->skel->maps.wd_procs), cap = 64, k = 0, hid = 0;
	struct wd_share *out = malloc(cap * sizeof(*out));
	struct wd_keep *gone = &s->exited.shares;
	struct idmap live = { 0 };
	__u32 key, next, *prev = NULL;
	struct wd_proc v;

	while (out && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		if (k == cap && !(out = realloc(out, (cap *= 2) * sizeof(*out))))
			break;
		out[k] = (struct wd_share){ .pid = key,
					    .budget = v.key,
					    .budget_key = (int)v.key_kind,
					    .budget_uid = v.key_uid,
					    .allowed = v.allowed,
					    .limited = v.limited,
					    .state = idmap_find(&s->stopped, wd_pid_key(key)) ?
							     "STOPPED" :
							     "ok" };
		out[k].cg = where(s, key, (int)v.key_kind, v.key);
		memcpy(out[k++].comm, v.comm, WD_COMM_LEN);
		idmap_set(&live, wd_pid_key(key), 0);
	}
	if (!out || !(out = realloc(out, (k + gone->n + 1) * sizeof(*out))))
		abort();
	for (int i = wd_keep_first(gone); i >= 0; i = wd_keep_next(gone, i)) {
		const struct wd_share *sh = wd_keep_at(gone, i);

		if (idmap_find(&live, wd_pid_key(sh->pid)))
			hid++;
		else
			out[k++] = *sh;
	}
	idmap_free(&live);
	if (hidden)
		*hidden = hid;
	*n = k;
	return out;
}

/* The budget of a share, as the probe keys it. */
static struct wd_key share_key(const struct wd_share *sh)
{
	return (struct wd_key){ .id = sh->budget,
				.uid = sh->budget_uid,
				.kind = (__u32)sh->budget_key };
}

/* Budgets in the order of their whole key (id, uid, kind). */
static int key_cmp(const struct wd_key *x, const struct wd_key *y)
{
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return 0;
}

/* By budget, then as budgets.py group_shares sorts a budget's shares. */
static int budget_cmp(const void *a, const void *b)
{
	struct wd_key x = share_key(a), y = share_key(b);
	int c = key_cmp(&x, &y);

	return c ? c : share_cmp(a, b);
}

/* The shares of one budget (its whole key), sorted: a copy of its run in
 * `all`, which budget_cmp sorted (a binary search, so a table costs
 * O(n log n)). */
static struct wd_share *group_of(const struct wd_share *all, int n, const struct wd_key *b,
				 int *out_n)
{
	int lo = 0, hi = n, end;
	struct wd_share *g;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		struct wd_key k = share_key(&all[mid]);

		if (key_cmp(&k, b) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < n; end++) {
		struct wd_key k = share_key(&all[end]);

		if (!wd_key_eq(&k, b))
			break;
	}
	g = malloc((end - lo + 1) * sizeof(*g));
	if (!g)
		abort();
	memcpy(g, all + lo, (end - lo) * sizeof(*g));
	*out_n = end - lo;
	return g;
}

static void make_row(struct wd_session *s, struct wd_row *r, const struct wd_key *k,
		     const struct wd_value *v, const struct wd_share *all, int nall)
{
	__u64 now_ms = mono_ns() / NS_PER_MS;
	__u32 start = v->window >> 32;
	struct idval *last = idmap_find(&s->last_total, *k);

	memset(r, 0, sizeof(*r));
	r->shared = s->shared;
	r->key = s->shared ? (int)k->kind : WD_KEY_PROCESS;
	r->id = k->id;
	r->uid = k->uid;
	memcpy(r->comm, v->comm, WD_COMM_LEN);
	/* Calls of a window that is still current (mod 2^32 ms, as the probe). */
	r->window = (__u32)(now_ms - start) < s->o->policy.window_ms ? (__u32)v->window : 0;
	r->allowed = v->allowed;
	r->limited = v->limited;
	r->limited_windows = v->limited_windows;
	r->activity = v->allowed + v->limited - (last ? last->val : 0);
	r->window_start_ms = -1;
	if (s->shared) {
		r->name = wd_names_get(&s->names, r->key, k->id);
		if (r->key != WD_KEY_PROCESS)
			r->user = wd_names_get(&s->names, WD_NAME_USER, k->uid);
		r->shares = group_of(all, nall, k, &r->nshares);
	}
	if (!s->shared || r->key == WD_KEY_CGROUP)
		r->cg = where(s, (__u32)k->id, r->key, k->id);
	r->state = state_of(s, k, r->shares, r->nshares);
}

static void free_rows(struct wd_row *rows, int n)
{
	for (int i = 0; i < n; i++)
		free(rows[i].shares);
	free(rows);
}

/* Rows of the budgets in the map now; with nl, also the kept rows of
 * ended budgets (those whose key is live again are folded into *nl, which
 * gets the summary's not_listed counts). */
static struct wd_row *live_rows(struct wd_session *s, int *n, struct wd_not_listed *nl)
{
	int fd = bpf_map__fd(s->probe->skel->maps.wd_state), nall = 0, k = 0, cap = 64, hidden = 0;
	struct wd_share *all = s->shared ? all_shares(s, &nall, &hidden) : NULL;
	struct wd_row *rows = malloc(cap * sizeof(*rows));
	struct wd_keep *gone = &s->exited.rows;
	struct wd_key key, next, *prev = NULL;
	struct idmap live = { 0 };
	struct wd_value v;

	if (all)
		qsort(all, nall, sizeof(*all), budget_cmp);
	while (rows && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		if (k + 1 >= cap && !(rows = realloc(rows, (cap *= 2) * sizeof(*rows))))
			break;
		make_row(s, &rows[k], &key, &v, all, nall);
		if (nl)
			idmap_set(&live, wd_row_key(&rows[k]), 0);
		k++;
	}
	if (!rows || !(rows = realloc(rows, (k + (nl ? gone->n : 0) + 1) * sizeof(*rows))))
		abort();
	if (nl) {
		wd_exited_not_listed(&s->exited, nl);
		nl->processes += hidden;
	}
	for (int i = nl ? wd_keep_first(gone) : -1; i >= 0; i = wd_keep_next(gone, i)) {
		const struct wd_row *g = wd_keep_at(gone, i);
		struct wd_key gk = wd_row_key(g);

		if (idmap_find(&live, gk)) {
			wd_exited_fold(&s->exited, nl, g);
			continue;
		}
		rows[k] = *g;
		if (s->shared)
			rows[k].shares = group_of(all, nall, &gk, &rows[k].nshares);
		k++;
	}
	idmap_free(&live);
	free(all);
	*n = k;
	return rows;
}

/* ---- events --------------------------------------------------------------- */
static __u64 window_end_ns(struct wd_session *s, __u32 start_ms32)
{
	__u64 now_ms = mono_ns() / NS_PER_MS;
	__u64 start_ms = now_ms - (__u32)(now_ms - start_ms32);

	return (start_ms + s->o->policy.window_ms) * NS_PER_MS;
}

/* A stopped process was resumed or is gone: off the guardian's list and
 * the state file. */
static void unlist(struct wd_session *s, __u32 tgid)
{
	if (s->guardian)
		wd_guardian_resumed(s->guardian, tgid);
	if (s->stopfile)
		wd_stopfile_remove(s->stopfile, tgid);
}

static void forget_stopped(struct wd_session *s, __u32 tgid)
{
	if (idmap_del(&s->stopped, wd_pid_key(tgid)))
		unlist(s, tgid);
}

static void flush_stopfile(struct wd_session *s)
{
	const char *problem = s->stopfile ? wd_stopfile_flush(s->stopfile) : NULL;

	if (problem)
		wd_warn(s->rep, problem);
}

/* The budget of an event, as the map keys it. */
static struct wd_key event_key(const struct wd_session *s, const struct wd_event *e)
{
	if (!s->shared)
		return (struct wd_key){ .id = e->key };
	return (struct wd_key){ .id = e->key, .uid = e->key_uid, .kind = e->key_kind };
}

/* A row from an event's counts (the budget may be gone from the map). */
static void event_row(struct wd_session *s, const struct wd_event *e, struct wd_row *r)
{
	struct wd_key k = event_key(s, e);
	struct wd_value v = { .window = ((__u64)e->window_start_ms << 32) | e->calls,
			      .allowed = e->allowed,
			      .limited = e->limited,
			      .limited_windows = e->limited_windows };
	struct wd_share *all = NULL;
	int nall = 0;

	memcpy(v.comm, e->comm, WD_COMM_LEN);
	if (s->shared) {
		all = all_shares(s, &nall, NULL);
		qsort(all, nall, sizeof(*all), budget_cmp);
	}
	make_row(s, r, &k, &v, all, nall);
	free(all);
}

static void on_limit(struct wd_session *s, const struct wd_event *e)
{
	__u64 end = window_end_ns(s, e->window_start_ms);
	struct wd_key k = event_key(s, e);
	bool first = !idmap_find(&s->limited, k);
	struct wd_row r;
	__u64 max_calls, window_ms;

	idmap_set(&s->limited, k, end);
	if (s->action == WD_ACT_THROTTLE) {
		if (!idmap_find(&s->stopped, wd_pid_key(e->tgid)) && s->guardian)
			wd_guardian_stopped(s->guardian, e->tgid);
		if (!idmap_find(&s->stopped, wd_pid_key(e->tgid)) && s->stopfile)
			wd_stopfile_add(s->stopfile, e->tgid);
		idmap_set(&s->stopped, wd_pid_key(e->tgid), end);
	}
	if (!first || e->kind != WD_EV_LIMIT)
		return;
	event_row(s, e, &r);
	/* The probe's clock (ms mod 2^32): what a replay computes. */
	r.window_start_ms = e->window_start_ms;
	probe_limits(s, &max_calls, &window_ms);
	wd_report_limit(s->rep, &r, max_calls, window_ms, wd_action_name(s->action));
	free(r.shares);
}

static void on_exit_event(struct wd_session *s, const struct wd_event *e)
{
	struct wd_row r;

	idmap_del(&s->limited, event_key(s, e));
	forget_stopped(s, e->tgid);
	event_row(s, e, &r);
	r.state = "exited";
	wd_exited_ended(&s->exited, &r);
	wd_metrics_retire(s->metrics, event_key(s, e), e->allowed, e->limited, e->limited_windows);
	if (e->limited_windows > 0)
		wd_report_exited(s->rep, &r);
	free(r.shares);
	/* After the last use of r.cg. */
	if (!s->shared || e->key_kind == WD_KEY_PROCESS)
		wd_cgroup_forget_pid(s->names.cg, e->tgid);
}

static void on_proc_exit(struct wd_session *s, const struct wd_event *e)
{
	struct wd_share sh = { .pid = e->tgid,
			       .budget = e->key,
			       .budget_key = (int)e->key_kind,
			       .budget_uid = e->key_uid,
			       .allowed = e->allowed,
			       .limited = e->limited,
			       .state = "exited" };

	forget_stopped(s, e->tgid);
	memcpy(sh.comm, e->comm, WD_COMM_LEN);
	sh.cg = where(s, e->tgid, (int)e->key_kind, e->key);
	wd_exited_exited(&s->exited, &sh); /* keeps a copy of sh.cg */
	wd_cgroup_forget_pid(s->names.cg, e->tgid);
}

/* Throttle escalated to kill (probe/limiter.h wd_escalate): nothing left
 * to resume; report who was killed and who resumed it. */
static void on_escalate(struct wd_session *s, const struct wd_event *e)
{
	struct wd_row r;

	forget_stopped(s, e->tgid);
	event_row(s, e, &r);
	r.state = "killed";
	wd_report_escalate(s->rep, &r, e->tgid, e->why == WD_STOP_RESUMED, e->by_pid, e->by_code,
			   e->by_comm);
	free(r.shares);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct wd_session *s = ctx;
	struct wd_event e;

	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	if (e.kind == WD_EV_LIMIT || e.kind == WD_EV_STOPPED)
		on_limit(s, &e);
	else if (e.kind == WD_EV_ESCALATE)
		on_escalate(s, &e);
	else if (e.kind == WD_EV_PROC_EXIT)
		on_proc_exit(s, &e);
	else if (e.kind == WD_EV_EXIT)
		on_exit_event(s, &e);
	return 0;
}

/* ---- timers --------------------------------------------------------------- */
static void resume_due(struct wd_session *s, __u64 now)
{
	for (int i = 0; i < s->stopped.n; i++) {
		struct idval e = s->stopped.v[i];

		if (now < e.val)
			continue;
		idmap_del(&s->stopped, e.id);
		i--;
		kill((pid_t)e.id.id, SIGCONT);
		unlist(s, e.id.id);
	}
}

static void clear_due(struct wd_session *s, __u64 now)
{
	__u64 window_ns = s->o->policy.window_ms * NS_PER_MS;
	struct idmap due = { 0 }, at = { 0 };
	struct wd_row *rows;
	struct idval *j;
	int n;

	/* A whole window after the last limited one without a new LIMIT. */
	for (int i = 0; i < s->limited.n; i++) {
		struct idval e = s->limited.v[i];

		if (now < e.val + window_ns)
			continue;
		idmap_set(&due, e.id, 0);
		idmap_del(&s->limited, e.id);
		i--;
	}
	if (!due.n)
		return;
	/* One snapshot of the map for every budget cleared in this pass. */
	rows = live_rows(s, &n, NULL);
	for (int i = 0; i < n; i++)
		idmap_set(&at, wd_row_key(&rows[i]), i);
	for (int i = 0; i < due.n; i++)
		if ((j = idmap_find(&at, due.v[i].id)))
			wd_report_clear(s->rep, &rows[j->val]);
	free_rows(rows, n);
	idmap_free(&due);
	idmap_free(&at);
}

static const struct {
	const char *name, *help;
	size_t off;
} health_slots[] = {
	{ "map_full",
	  "calls from processes the full PID map could not track were NOT "
	  "limited; raise --map-size",
	  offsetof(struct wd_health_counts, map_full) },
	{ "contended",
	  "calls lost every race to open a window and were counted as over "
	  "the limit (failed with deny, never signalled)",
	  offsetof(struct wd_health_counts, contended) },
	{ "events_lost", "ring-buffer events were lost; limit/exit lines may be missing",
	  offsetof(struct wd_health_counts, events_lost) },
	{ "targets_full",
	  "children of target processes could not be recorded as targets "
	  "and are NOT limited",
	  offsetof(struct wd_health_counts, targets_full) },
	{ "stops_full",
	  "stopped processes could not be recorded as stopped: a SIGCONT from another "
	  "process is NOT escalated for them; raise --map-size",
	  offsetof(struct wd_health_counts, stops_full) },
};

static void check_health(struct wd_session *s)
{
	struct wd_health_counts now;

	wd_probe_health(s->probe, &now);
	for (size_t i = 0; i < sizeof(health_slots) / sizeof(health_slots[0]); i++) {
		__u64 *old = (__u64 *)((char *)&s->health + health_slots[i].off);
		__u64 cur = *(__u64 *)((char *)&now + health_slots[i].off);
		char text[512];
		struct wd_json *extra;

		if (cur <= *old)
			continue;
		snprintf(text, sizeof(text), "%s: %llu more (%llu in all): %s",
			 health_slots[i].name, (unsigned long long)(cur - *old),
			 (unsigned long long)cur, health_slots[i].help);
		extra = wj_new();
		wj_str(extra, "counter", health_slots[i].name);
		wj_u64(extra, "count", cur);
		wd_warn_rec(s->rep, text, extra);
		*old = cur;
	}
}

/* ---- the loop ------------------------------------------------------------- */
struct wd_session *wd_session_new(struct wd_probe *probe, struct wd_report *rep,
				  const struct wd_opts *o, int action, struct wd_child *child,
				  struct wd_guardian *guardian, struct wd_stopfile *stopfile)
{
	struct wd_session *s = calloc(1, sizeof(*s));
	struct sigaction sa = { .sa_handler = on_signal };

	if (!s)
		return NULL;
	s->probe = probe;
	s->rep = rep;
	s->o = o;
	s->action = action;
	s->key = o->policy.key;
	s->shared = s->key != WD_KEY_PROCESS;
	s->child = child;
	s->guardian = guardian;
	s->stopfile = stopfile;
	s->started = mono_ns() / 1e9;
	/* A table's large buffers (its shares, its JSON) are mmap'ed and given
	 * back when freed.  A fixed threshold turns off glibc's moving one,
	 * which would put them in the heap, where freed pages stay resident:
	 * a 200 000-exit soak crept up 5% that way. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	wd_exited_init(&s->exited, s->shared);
	wd_names_init(&s->names);
	s->rb = ring_buffer__new(bpf_map__fd(probe->skel->maps.wd_events), on_event, s, NULL);
	if (!s->rb) {
		wd_exited_free(&s->exited);
		wd_names_free(&s->names);
		free(s);
		wd_fail("could not open the event ring buffer: %s", strerror(errno));
		return NULL;
	}
	/* From here on SIGINT/SIGTERM end the loop and detach cleanly. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o->config)
		sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	return s;
}

static void gauges(void *ctx, __u64 *budgets_limited, __u64 *stopped)
{
	struct wd_session *s = ctx;

	*budgets_limited = s->limited.n;
	*stopped = s->stopped.n;
}

void wd_session_set_metrics(struct wd_session *s, struct wd_metrics *m)
{
	s->metrics = m;
	wd_metrics_bind_session(m, s->names.cg, gauges, s, s->rep);
}

static int next_wake_ms(struct wd_session *s, __u64 next_table, __u64 end)
{
	__u64 soonest = next_table, now = mono_ns();

	if (end && end < soonest)
		soonest = end;
	for (int i = 0; i < s->stopped.n; i++)
		if (s->stopped.v[i].val < soonest)
			soonest = s->stopped.v[i].val;
	if (soonest <= now)
		return 0;
	return (soonest - now) / NS_PER_MS > 100 ? 100 : (int)((soonest - now) / NS_PER_MS);
}

static void table(struct wd_session *s)
{
	int n, nprocs = 0;
	struct wd_row *rows;
	struct wd_share *procs = NULL;

	check_health(s);
	rows = live_rows(s, &n, NULL);
	if (s->shared)
		procs = all_shares(s, &nprocs, NULL);
	wd_report_table(s->rep, rows, n, &s->health, procs, nprocs);
	/* Only the budgets in this table: ended ones are forgotten. */
	idmap_clear(&s->last_total);
	for (int i = 0; i < n; i++)
		idmap_set(&s->last_total, wd_row_key(&rows[i]), rows[i].allowed + rows[i].limited);
	free(procs);
	free_rows(rows, n);
	wd_names_trim(&s->names, 2 * WD_EXITED_ROWS + n);
}

static bool targets_alive(struct wd_session *s)
{
	for (int i = 0; i < s->o->npid; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/proc/%u", s->o->pid[i]);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

static void check_stop(struct wd_session *s, __u64 now, __u64 end)
{
	if (got_signal) {
		s->stop_reason = got_signal == SIGINT ? "SIGINT" :
				 got_signal == SIGHUP ? "SIGHUP" :
							"SIGTERM";
	} else if (end && now >= end) {
		s->stop_reason = "duration";
	} else if (s->child && wd_child_poll(s->child) >= 0) {
		snprintf(s->reason_buf, sizeof(s->reason_buf), "command exited (status %d)",
			 s->child->status);
		s->stop_reason = s->reason_buf;
	} else if (s->o->npid && !targets_alive(s)) {
		s->stop_reason = "all target processes exited";
	}
}

const char *wd_session_run(struct wd_session *s)
{
	__u64 interval = s->o->interval_s * 1e9, now = mono_ns();
	__u64 next_table = now + interval;
	__u64 end = s->o->duration_s > 0 ? now + (__u64)(s->o->duration_s * 1e9) : 0;

	while (!s->stop_reason) {
		wd_metrics_wait(s->metrics, s->rb, next_wake_ms(s, next_table, end));
		if (got_hup && s->reload) {
			got_hup = 0;
			s->reload(s->reload_ctx);
		}
		now = mono_ns();
		resume_due(s, now);
		flush_stopfile(s);
		clear_due(s, now);
		if (now >= next_table) {
			table(s);
			wd_metrics_write_file(s->metrics);
			next_table += interval * ((now - next_table) / interval + 1);
		}
		check_stop(s, now, end);
	}
	return s->stop_reason;
}

/* Resume what throttle stopped: every stopped process and every process
 * of a budget that was ever limited (a stop may have raced its event). */
static void resume_all(struct wd_session *s, struct wd_row *rows, int n)
{
	for (int i = 0; i < s->stopped.n; i++)
		kill((pid_t)s->stopped.v[i].id.id, SIGCONT);
	for (int i = 0; i < n; i++) {
		if (!rows[i].limited_windows)
			continue;
		if (!s->shared)
			kill((pid_t)rows[i].id, SIGCONT);
		for (int j = 0; j < rows[i].nshares; j++)
			kill((pid_t)rows[i].shares[j].pid, SIGCONT);
	}
	idmap_clear(&s->stopped);
}

void wd_session_finish(struct wd_session *s)
{
	struct wd_share *procs = NULL;
	struct wd_not_listed nl;
	struct wd_row *rows;
	int n, nprocs = 0;

	ring_buffer__consume(s->rb);
	check_health(s);
	rows = live_rows(s, &n, &nl);
	if (s->shared)
		procs = all_shares(s, &nprocs, NULL);
	wd_metrics_stop(s->metrics); /* the last file; the maps close next */
	/* Detach (and release the object) first: a process resumed while
	 * attached could be stopped again by an event never read. */
	ring_buffer__free(s->rb);
	wd_probe_close(s->probe);
	if (s->action == WD_ACT_THROTTLE)
		resume_all(s, rows, n);
	if (s->stopfile) {
		wd_stopfile_clear(s->stopfile);
		flush_stopfile(s);
	}
	wd_report_summary(s->rep, rows, n, &s->health, mono_ns() / 1e9 - s->started, procs, nprocs,
			  &nl);
	free(procs);
	free_rows(rows, n);
	wd_exited_free(&s->exited);
	wd_names_free(&s->names);
	idmap_free(&s->limited);
	idmap_free(&s->stopped);
	idmap_free(&s->last_total);
	free(s);
}
