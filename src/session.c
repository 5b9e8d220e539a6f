// SPDX-License-Identifier: GPL-2.0
/*
 * session.c - the running watchdog (ethoswd/session.py and budgets.py).
 *
 * wd_session_run() polls the ring buffer for LIMIT, STOPPED, EXIT and
 * PROC_EXIT events, resumes throttled processes when their window ends,
 * prints a table every interval, and stops on SIGINT/SIGTERM, the end of
 * --duration, the exit of the launched command, or the exit of every -p
 * process.  wd_session_finish() detaches first, then resumes anything
 * still stopped and prints the summary.  A row is one budget: a process
 * with the process key; a tree, user or cgroup with a shared key, whose
 * row lists the processes charged to it.
 */
#include <errno.h>
#include <stddef.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "session.h"
#include "watchdog.skel.h"

#define NS_PER_MS 1000000ULL

/* A small map from a 64-bit id to a value (budgets, processes): a few
 * hundred entries at most in practice, so a plain array. */
struct idval {
	__u64 id, val;
};
struct idmap {
	struct idval *v;
	int n, cap;
};

static struct idval *idmap_find(struct idmap *m, __u64 id)
{
	for (int i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}

static void idmap_set(struct idmap *m, __u64 id, __u64 val)
{
	struct idval *e = idmap_find(m, id);

	if (e) {
		e->val = val;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		if (!m->v)
			abort();
	}
	m->v[m->n++] = (struct idval){ id, val };
}

static bool idmap_del(struct idmap *m, __u64 id)
{
	struct idval *e = idmap_find(m, id);

	if (!e)
		return false;
	*e = m->v[--m->n];
	return true;
}

struct names { /* budget id -> user or cgroup path */
	__u64 id;
	char *name; /* NULL: does not resolve */
};

struct wd_session {
	struct wd_probe *probe;
	struct wd_report *rep;
	const struct wd_opts *o;
	int action, key;
	bool shared;
	struct wd_child *child;
	struct wd_guardian *guardian;
	struct ring_buffer *rb;
	struct idmap limited;	 /* budget id -> end of last limited window (ns) */
	struct idmap stopped;	 /* tgid -> when to SIGCONT it (ns) */
	struct idmap last_total; /* budget id -> total at the last table */
	struct wd_row *gone;	 /* final rows of ended budgets */
	int ngone;
	struct wd_share *gone_shares; /* final shares of exited processes */
	int ngone_shares;
	struct names *names;
	int nnames;
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

/* ---- names of shared budgets (budgets.py Names) --------------------------- */
static __u64 cg_want;
static char cg_found[4096];
static const char *cg_root;

static int cg_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D && (__u64)st->st_ino == cg_want) {
		/* A cgroup's ID is its directory's inode number in cgroup2. */
		snprintf(cg_found, sizeof(cg_found), "/%s",
			 path[strlen(cg_root)] ? path + strlen(cg_root) + 1 : "");
		return 1;
	}
	return 0;
}

static char *cgroup_path(__u64 id)
{
	char line[4096], dev[256], mnt[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	char *out = NULL;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			cg_want = id;
			cg_root = mnt;
			cg_found[0] = 0;
			if (nftw(mnt, cg_visit, 16, FTW_PHYS) == 1)
				out = strdup(cg_found);
			break;
		}
	}
	if (f)
		fclose(f);
	return out;
}

static const char *budget_name(struct wd_session *s, __u64 id)
{
	for (int i = 0; i < s->nnames; i++)
		if (s->names[i].id == id)
			return s->names[i].name;
	char *name = NULL;

	if (s->key == WD_KEY_UID) {
		struct passwd *pw = getpwuid((uid_t)id);

		name = pw ? strdup(pw->pw_name) : NULL;
	} else if (s->key == WD_KEY_CGROUP) {
		name = cgroup_path(id);
	}
	s->names = realloc(s->names, (s->nnames + 1) * sizeof(*s->names));
	if (!s->names)
		abort();
	s->names[s->nnames++] = (struct names){ id, name };
	return name;
}

/* ---- rows ----------------------------------------------------------------- */
static const char *state_of(struct wd_session *s, __u64 id, const struct wd_share *sh, int nsh)
{
	if (idmap_find(&s->stopped, id) && !s->shared)
		return "STOPPED";
	for (int i = 0; i < nsh; i++)
		if (idmap_find(&s->stopped, sh[i].pid))
			return "STOPPED";
	return idmap_find(&s->limited, id) ? "LIMITED" : "ok";
}

static int share_cmp(const void *a, const void *b)
{
	const struct wd_share *x = a, *y = b;
	__u64 tx = x->allowed + x->limited, ty = y->allowed + y->limited;

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Every process share: live ones from wd_procs, then exited ones. */
static struct wd_share *all_shares(struct wd_session *s, int *n)
{
	int fd = bpf_map__fd(s->probe->skel->maps.wd_procs), cap = 64, k = 0;
	struct wd_share *out = malloc(cap * sizeof(*out));
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
					    .allowed = v.allowed,
					    .limited = v.limited,
					    .state = idmap_find(&s->stopped, key) ? "STOPPED" :
										    "ok" };
		memcpy(out[k++].comm, v.comm, WD_COMM_LEN);
	}
	if (!out || !(out = realloc(out, (k + s->ngone_shares + 1) * sizeof(*out))))
		abort();
	for (int i = 0; i < s->ngone_shares; i++) {
		bool live = false;

		for (int j = 0; j < k && !live; j++)
			live = out[j].pid == s->gone_shares[i].pid;
		if (!live)
			out[k++] = s->gone_shares[i];
	}
	*n = k;
	return out;
}

/* The shares of one budget, sorted (budgets.py group_shares). */
static struct wd_share *group_of(const struct wd_share *all, int n, __u64 id, int *out_n)
{
	struct wd_share *g = malloc((n + 1) * sizeof(*g));
	int k = 0;

	if (!g)
		abort();
	for (int i = 0; i < n; i++)
		if (all[i].budget == id)
			g[k++] = all[i];
	qsort(g, k, sizeof(*g), share_cmp);
	*out_n = k;
	return g;
}

static void make_row(struct wd_session *s, struct wd_row *r, __u64 id, const struct wd_value *v,
		     const struct wd_share *all, int nall)
{
	__u64 now_ms = mono_ns() / NS_PER_MS;
	__u32 start = v->window >> 32;
	struct idval *last = idmap_find(&s->last_total, id);

	memset(r, 0, sizeof(*r));
	r->key = s->key;
	r->id = id;
	memcpy(r->comm, v->comm, WD_COMM_LEN);
	/* Calls of a window that is still current (mod 2^32 ms, as the probe). */
	r->window = (__u32)(now_ms - start) < s->o->policy.window_ms ? (__u32)v->window : 0;
	r->allowed = v->allowed;
	r->limited = v->limited;
	r->limited_windows = v->limited_windows;
	r->activity = v->allowed + v->limited - (last ? last->val : 0);
	r->window_start_ms = -1;
	if (s->shared) {
		r->name = budget_name(s, id);
		r->shares = group_of(all, nall, id, &r->nshares);
	}
	r->state = state_of(s, id, r->shares, r->nshares);
}

static void free_rows(struct wd_row *rows, int n)
{
	for (int i = 0; i < n; i++)
		free(rows[i].shares);
	free(rows);
}

/* Rows of the budgets in the map now (and, with `gone`, ended ones). */
static struct wd_row *live_rows(struct wd_session *s, int *n, bool with_gone)
{
	int fd = bpf_map__fd(s->probe->skel->maps.wd_state), nall = 0, k = 0, cap = 64;
	struct wd_share *all = s->shared ? all_shares(s, &nall) : NULL;
	struct wd_row *rows = malloc(cap * sizeof(*rows));
	struct wd_key key, next, *prev = NULL;
	struct wd_value v;

	while (rows && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		if (k + 1 >= cap && !(rows = realloc(rows, (cap *= 2) * sizeof(*rows))))
			break;
		make_row(s, &rows[k++], key.id, &v, all, nall);
	}
	if (!rows || !(rows = realloc(rows, (k + s->ngone + 1) * sizeof(*rows))))
		abort();
	for (int i = 0; with_gone && i < s->ngone; i++) {
		bool live = false;

		for (int j = 0; j < k && !live; j++)
			live = rows[j].id == s->gone[i].id;
		if (!live) {
			rows[k] = s->gone[i];
			rows[k].shares = group_of(s->gone[i].shares, s->gone[i].nshares,
						  s->gone[i].id, &rows[k].nshares);
			k++;
		}
	}
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

static void forget_stopped(struct wd_session *s, __u32 tgid)
{
	if (idmap_del(&s->stopped, tgid) && s->guardian)
		wd_guardian_resumed(s->guardian, tgid);
}

/* A row from an event's counts (the budget may be gone from the map). */
static void event_row(struct wd_session *s, const struct wd_event *e, struct wd_row *r)
{
	struct wd_value v = { .window = ((__u64)e->window_start_ms << 32) | e->calls,
			      .allowed = e->allowed,
			      .limited = e->limited,
			      .limited_windows = e->limited_windows };
	struct wd_share *all = NULL;
	int nall = 0;

	memcpy(v.comm, e->comm, WD_COMM_LEN);
	if (s->shared)
		all = all_shares(s, &nall);
	make_row(s, r, e->key, &v, all, nall);
	free(all);
}

static void on_limit(struct wd_session *s, const struct wd_event *e)
{
	__u64 end = window_end_ns(s, e->window_start_ms);
	bool first = !idmap_find(&s->limited, e->key);
	struct wd_row r;
	__u64 max_calls, window_ms;

	idmap_set(&s->limited, e->key, end);
	if (s->action == WD_ACT_THROTTLE) {
		if (!idmap_find(&s->stopped, e->tgid) && s->guardian)
			wd_guardian_stopped(s->guardian, e->tgid);
		idmap_set(&s->stopped, e->tgid, end);
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

	idmap_del(&s->limited, e->key);
	forget_stopped(s, e->tgid);
	event_row(s, e, &r);
	r.state = "exited";
	for (int i = 0; i < s->ngone; i++) {
		if (s->gone[i].id == r.id) {
			free(s->gone[i].shares);
			s->gone[i] = s->gone[--s->ngone];
			break;
		}
	}
	s->gone = realloc(s->gone, (s->ngone + 1) * sizeof(*s->gone));
	if (!s->gone)
		abort();
	s->gone[s->ngone++] = r;
	if (e->limited_windows > 0)
		wd_report_exited(s->rep, &r);
}

static void on_proc_exit(struct wd_session *s, const struct wd_event *e)
{
	struct wd_share sh = { .pid = e->tgid,
			       .budget = e->key,
			       .allowed = e->allowed,
			       .limited = e->limited,
			       .state = "exited" };

	forget_stopped(s, e->tgid);
	memcpy(sh.comm, e->comm, WD_COMM_LEN);
	for (int i = 0; i < s->ngone_shares; i++) {
		if (s->gone_shares[i].pid == sh.pid) {
			s->gone_shares[i] = sh;
			return;
		}
	}
	s->gone_shares = realloc(s->gone_shares, (s->ngone_shares + 1) * sizeof(sh));
	if (!s->gone_shares)
		abort();
	s->gone_shares[s->ngone_shares++] = sh;
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
		kill((pid_t)e.id, SIGCONT);
		if (s->guardian)
			wd_guardian_resumed(s->guardian, e.id);
	}
}

static void clear_due(struct wd_session *s, __u64 now)
{
	__u64 window_ns = s->o->policy.window_ms * NS_PER_MS;
	struct idmap due = { 0 };
	struct wd_row *rows;
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
	rows = live_rows(s, &n, false);
	for (int i = 0; i < due.n; i++)
		for (int j = 0; j < n; j++)
			if (rows[j].id == due.v[i].id)
				wd_report_clear(s->rep, &rows[j]);
	free_rows(rows, n);
	free(due.v);
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
				  struct wd_guardian *guardian)
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
	s->started = mono_ns() / 1e9;
	s->rb = ring_buffer__new(bpf_map__fd(probe->skel->maps.wd_events), on_event, s, NULL);
	if (!s->rb) {
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
	rows = live_rows(s, &n, false);
	if (s->shared)
		procs = all_shares(s, &nprocs);
	wd_report_table(s->rep, rows, n, &s->health, procs, nprocs);
	for (int i = 0; i < n; i++)
		idmap_set(&s->last_total, rows[i].id, rows[i].allowed + rows[i].limited);
	free(procs);
	free_rows(rows, n);
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
		ring_buffer__poll(s->rb, next_wake_ms(s, next_table, end));
		if (got_hup && s->reload) {
			got_hup = 0;
			s->reload(s->reload_ctx);
		}
		now = mono_ns();
		resume_due(s, now);
		clear_due(s, now);
		if (now >= next_table) {
			table(s);
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
		kill((pid_t)s->stopped.v[i].id, SIGCONT);
	for (int i = 0; i < n; i++) {
		if (!rows[i].limited_windows)
			continue;
		if (!s->shared)
			kill((pid_t)rows[i].id, SIGCONT);
		for (int j = 0; j < rows[i].nshares; j++)
			kill((pid_t)rows[i].shares[j].pid, SIGCONT);
	}
	s->stopped.n = 0;
}

void wd_session_finish(struct wd_session *s)
{
	struct wd_share *procs = NULL;
	struct wd_row *rows;
	int n, nprocs = 0;

	ring_buffer__consume(s->rb);
	check_health(s);
	rows = live_rows(s, &n, true);
	if (s->shared)
		procs = all_shares(s, &nprocs);
	/* Detach (and release the object) first: a process resumed while
	 * attached could be stopped again by an event never read. */
	ring_buffer__free(s->rb);
	wd_probe_close(s->probe);
	if (s->action == WD_ACT_THROTTLE)
		resume_all(s, rows, n);
	wd_report_summary(s->rep, rows, n, &s->health, mono_ns() / 1e9 - s->started, procs, nprocs);
	free(procs);
	free_rows(rows, n);
	for (int i = 0; i < s->ngone; i++)
		free(s->gone[i].shares);
	for (int i = 0; i < s->nnames; i++)
		free(s->names[i].name);
	free(s->gone);
	free(s->gone_shares);
	free(s->names);
	free(s->limited.v);
	free(s->stopped.v);
	free(s->last_total.v);
	free(s);
}
