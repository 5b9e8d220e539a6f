// SPDX-License-Identifier: GPL-2.0
/*
 * report.c - output: the live table, limit/clear/exit lines, warnings and
 * the exit summary (mirrors ethoswd/report.py, byte for byte).
 *
 * Records go to stdout, as text or one JSON object per line (--json);
 * status lines go to stderr.  Rows carry the fields of the Python rows
 * (pid, comm, window, total, ...) so the table and --json agree.  Names
 * go through text.c (escaped, cut to the column) and every text line
 * through wd_one_line_dup() before it is written.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgname.h"
#include "errors.h"
#include "labels.h"
#include "report.h"
#include "text.h"

#define TABLE_ROWS 20
#define HEAD_FMT   "%7s %-16s %8s %11s %11s %11s %-8s"
#define BUDGET_FMT "%9s %-16s %7s %9s %9s %9s %-7s %5s"

/* ---- numbers, clock, names ---------------------------------------------- */

char *wd_num(unsigned long long value, int width, char *buf, size_t len)
{
	static const struct {
		unsigned long long div;
		const char *unit;
	} units[] = {
		{ 1000000000000000ULL, "P" }, { 1000000000000ULL, "T" }, { 1000000000ULL, "G" },
		{ 1000000ULL, "M" },	      { 1000ULL, "k" },
	};
	size_t i;

	snprintf(buf, len, "%llu", value);
	if ((int)strlen(buf) <= width)
		return buf;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (value >= units[i].div) {
			snprintf(buf, len, "%.1f%s", (double)value / (double)units[i].div,
				 units[i].unit);
			break;
		}
	}
	return buf;
}

static char *clock_now(char buf[16])
{
	time_t t = time(NULL);
	struct tm tm;

	strftime(buf, 16, "%H:%M:%S", localtime_r(&t, &tm));
	return buf;
}

static bool shared(const struct wd_row *r)
{
	return r->shared;
}

/* The COMM column: the escaped name, exactly 16 columns. */
static char *comm_cell(const char *comm, int width, char *buf, size_t len)
{
	return wd_cell(comm, WD_COMM_LEN, width, buf, len);
}

/* A user or cgroup path, else the command name that opened the window,
 * escaped, with the budget's user (tree, cgroup) or "(process)" after it;
 * its tail kept if too long.  A bare command name is cut like COMM.  A
 * container's cgroup shows the head of its ID instead of the path
 * (report.py _budget_name). */
static char *budget_name(const struct wd_row *r, int width, char *buf, size_t len)
{
	char tag[300] = "", *esc, *raw;
	size_t n, cap;

	if (r->key == WD_KEY_TREE || r->key == WD_KEY_CGROUP) {
		if (r->user)
			snprintf(tag, sizeof(tag), " (%s)", r->user);
		else
			snprintf(tag, sizeof(tag), " (%u)", r->uid);
	} else if (r->key == WD_KEY_PROCESS) {
		snprintf(tag, sizeof(tag), " (process)");
	}
	if (r->key == WD_KEY_CGROUP && r->cg && r->cg->runtime) {
		/* A container: the head of its ID (as `podman ps` shows it),
		 * then the user, cut to width. */
		char etag[4 * sizeof(tag) + 1], text[sizeof(etag) + 65];
		int head;

		wd_escape(tag, strlen(tag), etag, sizeof(etag));
		head = width - (int)strlen(etag);
		snprintf(text, sizeof(text), "%.*s%s", head < 4 ? 4 : head, r->cg->container_id,
			 etag);
		snprintf(buf, len, "%-*.*s", width, width, text);
		return buf;
	}
	if ((!r->name || !*r->name) && !*tag)
		return comm_cell(r->comm, width, buf, len);
	if (r->name && *r->name) {
		raw = wd_xstrdup(r->name);
	} else {
		raw = wd_xmalloc(WD_COMM_LEN + 1);
		memcpy(raw, r->comm, WD_COMM_LEN);
		raw[WD_COMM_LEN] = '\0';
	}
	n = strlen(raw) + strlen(tag);
	cap = n * 4 + 1;
	esc = wd_xmalloc(cap);
	wd_escape(raw, strlen(raw), esc, cap);
	wd_escape(tag, strlen(tag), esc + strlen(esc), cap - strlen(esc));
	n = strlen(esc);
	if ((int)n <= width)
		snprintf(buf, len, "%-*s", width, esc);
	else
		snprintf(buf, len, "...%s", esc + n - (width - 3));
	free(esc);
	free(raw);
	return buf;
}

/* "1234 comm" or "tree:1234 comm" for event lines. */
static char *who(const struct wd_row *r, char *buf, size_t len)
{
	char name[64], num[32], tag[64];

	if (!shared(r)) {
		snprintf(buf, len, "%7llu %s", (unsigned long long)r->id,
			 comm_cell(r->comm, 16, name, sizeof(name)));
		if (r->cg && r->cg->runtime) /* " [podman 3f2a1b4c5d6e]" */
			snprintf(buf + strlen(buf), len - strlen(buf), " [%s %.12s]",
				 r->cg->runtime, r->cg->container_id);
		return buf;
	}
	snprintf(tag, sizeof(tag), "%s:%s", wd_key_name(r->key),
		 wd_num(r->id, 6, num, sizeof(num)));
	snprintf(buf, len, "%-13s %s", tag, budget_name(r, 10, name, sizeof(name)));
	return buf;
}

static __u64 total(const struct wd_row *r)
{
	return r->allowed + r->limited;
}

/* One table line; window is the WINDOW column or "-" in the summary. */
static char *row_line(const struct wd_row *r, const char *window, char *buf, size_t len)
{
	char a[32], b[32], c[32], d[32], e[32], f[32], name[64], state[8];

	if (!shared(r)) {
		snprintf(buf, len, "%7llu %s %8s %11s %11s %11s %-8s", (unsigned long long)r->id,
			 comm_cell(r->comm, 16, name, sizeof(name)), window,
			 wd_num(total(r), 11, a, 32), wd_num(r->allowed, 11, b, 32),
			 wd_num(r->limited, 11, c, 32), r->state);
		return buf;
	}
	snprintf(state, sizeof(state), "%s", r->state); /* state[:7] */
	snprintf(buf, len, BUDGET_FMT, wd_num(r->id, 9, a, 32),
		 budget_name(r, 16, name, sizeof(name)),
		 strcmp(window, "-") ? wd_num(r->window, 7, f, 32) : "-",
		 wd_num(total(r), 9, b, 32), wd_num(r->allowed, 9, c, 32),
		 wd_num(r->limited, 9, d, 32), state, wd_num(r->nshares, 5, e, 32));
	return buf;
}

/* The run's key: that of any budget that did not fall back (report.py
 * _head_key); rows are n rows, or n row pointers with `ptrs`. */
static void head_line(bool is_shared, const void *rows, bool ptrs, int n, char *buf, size_t len)
{
	const struct wd_row *first = NULL, *r;
	char key[16];
	int i;

	if (!is_shared) {
		snprintf(buf, len, HEAD_FMT, "PID", "COMM", "WINDOW", "TOTAL", "ALLOWED", "LIMITED",
			 "STATE");
		return;
	}
	for (i = 0; i < n; i++) {
		r = ptrs ? ((const struct wd_row *const *)rows)[i] :
			   &((const struct wd_row *)rows)[i];
		if (!i)
			first = r;
		if (r->key != WD_KEY_PROCESS) {
			first = r;
			break;
		}
	}
	snprintf(key, sizeof(key), "%s", first ? wd_key_name(first->key) : "id");
	for (i = 0; key[i]; i++)
		if (key[i] >= 'a' && key[i] <= 'z')
			key[i] -= 'a' - 'A';
	snprintf(buf, len, BUDGET_FMT, key, "NAME", "WINDOW", "TOTAL", "ALLOWED", "LIMITED",
		 "STATE", "PROCS");
}

/* ---- JSON rows ---------------------------------------------------------- */

/* safetext.name_fields(raw, key): key, and key_hex when the raw text is
 * not clean printable UTF-8. */
static void text_fields(struct wd_json *j, const char *key, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;
	bool clean = true;
	char *hex, hkey[32];
	long cp;

	wj_strn(j, key, text, n);
	while (i < n) {
		k = wd_utf8_next(s + i, n - i, &cp);
		clean &= wd_printable(cp);
		i += k;
	}
	if (clean)
		return;
	hex = wd_xmalloc(2 * n + 1);
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", s[i]);
	hex[2 * n] = '\0';
	snprintf(hkey, sizeof(hkey), "%s_hex", key);
	wj_str(j, hkey, hex);
	free(hex);
}

static void name_fields(struct wd_json *j, const char *comm)
{
	text_fields(j, "comm", comm, strnlen(comm, WD_COMM_LEN));
}

/* cgnames.fields(): the cgroup's path and, for a container, its runtime,
 * ID and pod UID; "cgroup": null when it did not resolve. */
static void cgroup_fields(struct wd_json *j, const struct wd_cgroup *cg)
{
	if (!cg) {
		wj_null(j, "cgroup");
		return;
	}
	text_fields(j, "cgroup", cg->path, strlen(cg->path));
	if (!cg->runtime)
		return;
	wj_str(j, "container_runtime", cg->runtime);
	wj_str(j, "container_id", cg->container_id);
	if (cg->pod_uid[0])
		wj_str(j, "pod_uid", cg->pod_uid);
}

static char *share_json(const struct wd_share *s)
{
	struct wd_json *j = wj_new();

	wj_u64(j, "pid", s->pid);
	wj_u64(j, "budget", s->budget);
	wj_str(j, "budget_key", wd_key_name(s->budget_key));
	if (s->budget_key == WD_KEY_PROCESS)
		wj_null(j, "budget_uid");
	else
		wj_u64(j, "budget_uid", s->budget_uid);
	wj_u64(j, "allowed", s->allowed);
	wj_u64(j, "limited", s->limited);
	wj_u64(j, "total", s->allowed + s->limited);
	wj_str(j, "state", s->state);
	name_fields(j, s->comm);
	cgroup_fields(j, s->cg);
	return wj_end(j);
}

static char *shares_json(const struct wd_share *s, int n)
{
	struct wd_jarr *a = wja_new();
	int i;

	for (i = 0; i < n; i++)
		wja_take(a, share_json(&s[i]));
	return wja_end(a);
}

/* A row's members, added to j (an event record or a row object). */
static void row_members(struct wd_json *j, const struct wd_row *r)
{
	struct wd_jarr *pids;
	int i;

	wj_u64(j, "window", r->window);
	wj_u64(j, "total", total(r));
	wj_u64(j, "allowed", r->allowed);
	wj_u64(j, "limited", r->limited);
	wj_u64(j, "limited_windows", r->limited_windows);
	wj_u64(j, "activity", r->activity);
	wj_str(j, "state", r->state);
	name_fields(j, r->comm);
	if (r->window_start_ms >= 0)
		wj_int(j, "window_start_ms", r->window_start_ms);
	if (!shared(r) || r->key == WD_KEY_CGROUP)
		cgroup_fields(j, r->cg);
	if (!shared(r)) {
		wj_u64(j, "pid", r->id);
		return;
	}
	wj_str(j, "key", wd_key_name(r->key));
	wj_u64(j, "id", r->id);
	if (r->key == WD_KEY_PROCESS)
		wj_null(j, "uid");
	else
		wj_u64(j, "uid", r->uid);
	wj_str(j, "user", r->user); /* null when NULL */
	wj_str(j, "name", r->name); /* null when NULL */
	pids = wja_new();
	for (i = 0; i < r->nshares; i++)
		wja_u64(pids, r->shares[i].pid);
	wj_take(j, "pids", wja_end(pids));
	wj_take(j, "processes", shares_json(r->shares, r->nshares));
}

static char *rows_json(const struct wd_row *rows, int n)
{
	struct wd_jarr *a = wja_new();
	struct wd_json *j;
	int i;

	for (i = 0; i < n; i++) {
		j = wj_new();
		row_members(j, &rows[i]);
		wja_take(a, wj_end(j));
	}
	return wja_end(a);
}

static char *health_json(const struct wd_health_counts *h)
{
	struct wd_json *j = wj_new();

	wj_u64(j, "map_full", h ? h->map_full : 0);
	wj_u64(j, "contended", h ? h->contended : 0);
	wj_u64(j, "events_lost", h ? h->events_lost : 0);
	wj_u64(j, "targets_full", h ? h->targets_full : 0);
	wj_u64(j, "stops_full", h ? h->stops_full : 0);
	return wj_end(j);
}

/* ---- emitting ----------------------------------------------------------- */

static void emit_json(struct wd_report *r, struct wd_json *rec)
{
	struct timespec ts;
	char *s;

	if (!wj_has(rec, "time")) {
		clock_gettime(CLOCK_REALTIME, &ts);
		wj_double(rec, "time", ts.tv_sec + ts.tv_nsec / 1e9, 3);
	}
	s = wj_end(rec);
	fprintf(r->out, "%s\n", s);
	free(s);
}

void wd_emit(struct wd_report *r, struct wd_json *rec, const char *const *lines, int n)
{
	char *s;
	int i;

	if (r->json && rec) {
		emit_json(r, rec);
		rec = NULL;
	} else if (!r->json) {
		for (i = 0; i < n; i++) {
			s = wd_one_line_dup(lines[i]);
			fprintf(r->out, "%s\n", s);
			free(s);
		}
	}
	if (rec)
		wj_free(rec);
	fflush(r->out);
}

/* wd_emit() of one text line. */
static void emit1(struct wd_report *r, struct wd_json *rec, const char *line)
{
	wd_emit(r, rec, &line, 1);
}

void wd_info(struct wd_report *r, struct wd_json *rec, const char *fmt, ...)
{
	va_list ap;
	char *text, *line;

	if (r->json) {
		if (rec && wj_len(rec))
			wd_emit(r, rec, NULL, 0);
		else if (rec)
			wj_free(rec);
		return;
	}
	if (rec)
		wj_free(rec);
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	line = wd_one_line_dup(text);
	fprintf(stderr, "%s: %s\n", WD_PROG, line);
	fflush(stderr);
	free(line);
	free(text);
}

void wd_warn_rec(struct wd_report *r, const char *text, struct wd_json *extra)
{
	struct wd_json *rec = extra ? extra : wj_new();
	char clk[16], *line;

	wj_str(rec, "event", "warning");
	wj_str(rec, "message", text);
	if (asprintf(&line, "%s WARN  %s", clock_now(clk), text) < 0)
		abort();
	emit1(r, rec, line);
	free(line);
}

void wd_warn(struct wd_report *r, const char *text)
{
	wd_warn_rec(r, text, NULL);
}

/* ---- events ------------------------------------------------------------- */

static struct wd_json *event_rec(const char *event, const struct wd_row *row)
{
	struct wd_json *j = wj_new();

	row_members(j, row);
	wj_str(j, "event", event);
	return j;
}

void wd_report_limit(struct wd_report *r, const struct wd_row *row, __u64 max_calls,
		     __u64 window_ms, const char *action)
{
	struct wd_json *rec = event_rec("limit", row);
	char line[512], clk[16], w[128], a[32], b[32];

	wj_str(rec, "action", action);
	wj_u64(rec, "max_calls", max_calls);
	wj_u64(rec, "window_ms", window_ms);
	snprintf(line, sizeof(line), "%s LIMIT %s over %s calls in %s ms -> %s", clock_now(clk),
		 who(row, w, sizeof(w)), wd_num(max_calls, 6, a, 32), wd_num(window_ms, 5, b, 32),
		 action);
	emit1(r, rec, line);
}

void wd_report_clear(struct wd_report *r, const struct wd_row *row)
{
	char line[512], clk[16], w[128], a[32];

	snprintf(line, sizeof(line), "%s CLEAR %s under the limit again (%s limited)",
		 clock_now(clk), who(row, w, sizeof(w)), wd_num(row->limited, 8, a, 32));
	emit1(r, event_rec("clear", row), line);
}

void wd_report_exited(struct wd_report *r, const struct wd_row *row)
{
	char line[512], clk[16], w[128], a[32], b[32];

	snprintf(line, sizeof(line), "%s EXIT  %s allowed %s, limited %s", clock_now(clk),
		 who(row, w, sizeof(w)), wd_num(row->allowed, 10, a, 32),
		 wd_num(row->limited, 10, b, 32));
	emit1(r, event_rec("exit", row), line);
}

/* si_code values the kernel sets for kill(), tgkill() and pidfd_send_signal()
 * without a siginfo (SI_USER, SI_TKILL): then the sender is the caller
 * (report.py SENDER_KNOWN_CODES). */
static bool sender_known(int code)
{
	return code == 0 || code == -6;
}

/* s escaped (safetext.escape), malloc'ed. */
static char *escaped_name(const char *s)
{
	size_t n = strnlen(s, WD_COMM_LEN);
	char *out = wd_xmalloc(4 * n + 1);

	return wd_escape(s, n, out, 4 * n + 1);
}

void wd_report_escalate(struct wd_report *r, const struct wd_row *row, __u32 pid, bool resumed,
			__u32 by_pid, int by_code, const char *by_comm)
{
	struct wd_json *rec = event_rec("escalate", row), *by;
	char line[1024], clk[16], name[64], where[512] = "", user[300] = "", what[320], *by_name;

	wj_str(rec, "action", "kill");
	wj_u64(rec, "pid", pid);
	wj_null(rec, "resumed_by");
	wj_str(rec, "reason",
	       "ran on during its throttled window although stopped (the stop was "
	       "discarded, e.g. by a tracer)");
	snprintf(what, sizeof(what), "ran on during its throttled window although stopped");
	if (resumed) {
		by = wj_new();
		by_name = escaped_name(by_comm);
		wj_str(rec, "reason", "resumed during its throttled window");
		wj_u64(by, "pid", by_pid);
		wj_int(by, "si_code", by_code);
		wj_bool(by, "sender_known", sender_known(by_code));
		name_fields(by, by_comm);
		wj_take(rec, "resumed_by", wj_end(by));
		if (sender_known(by_code))
			snprintf(what, sizeof(what),
				 "resumed by pid %u (%s) during its throttled window", by_pid,
				 by_name);
		else
			snprintf(
				what, sizeof(what),
				"resumed by a SIGCONT with si_code %d (sender unknown; pid %u (%s) "
				"was running) during its throttled window",
				by_code, by_pid, by_name);
		free(by_name);
	}
	if (shared(row)) {
		/* The whole budget key: tree and cgroup budgets are per user
		 * (report.py escalate). */
		if (row->key == WD_KEY_TREE || row->key == WD_KEY_CGROUP) {
			char uid[16], *esc;
			const char *u = row->user ? row->user : uid;

			snprintf(uid, sizeof(uid), "%u", row->uid);
			esc = wd_xmalloc(4 * strlen(u) + 1);
			wd_escape(u, strlen(u), esc, 4 * strlen(u) + 1);
			snprintf(user, sizeof(user), ", user %s", esc);
			free(esc);
		}
		snprintf(where, sizeof(where), " (budget %s %llu%s)", wd_key_name(row->key),
			 (unsigned long long)row->id, user);
	}
	snprintf(line, sizeof(line), "%s KILL  %7u %s%s %s -> killed", clock_now(clk), pid,
		 comm_cell(row->comm, 16, name, sizeof(name)), where, what);
	emit1(r, rec, line);
}

/* ---- table and summary -------------------------------------------------- */

/* {"processes": rows} with the process key, else budgets and processes. */
static void budgets_members(struct wd_json *j, const struct wd_row *rows, int n,
			    const struct wd_share *procs, int nprocs)
{
	if (!procs) {
		wj_take(j, "processes", rows_json(rows, n));
		return;
	}
	wj_take(j, "budgets", rows_json(rows, n));
	wj_take(j, "processes", shares_json(procs, nprocs));
}

/* Ties: by id, then key name, then uid (report.py's sort keys). */
static int by_budget(const struct wd_row *a, const struct wd_row *b)
{
	int k;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->shared && (k = strcmp(wd_key_name(a->key), wd_key_name(b->key))))
		return k;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

static int by_activity(const void *pa, const void *pb)
{
	const struct wd_row *a = pa, *b = pb;

	if (a->activity != b->activity)
		return a->activity > b->activity ? -1 : 1;
	if (total(a) != total(b))
		return total(a) > total(b) ? -1 : 1;
	return by_budget(a, b);
}

static int by_total(const void *pa, const void *pb)
{
	const struct wd_row *a = *(const struct wd_row *const *)pa;
	const struct wd_row *b = *(const struct wd_row *const *)pb;

	if (total(a) != total(b))
		return total(a) > total(b) ? -1 : 1;
	return by_budget(a, b);
}

/* Text lines collected for one wd_emit(). */
struct lines {
	int n;
	char *v[TABLE_ROWS + 8];
};

static void add_line(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_line(struct lines *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&l->v[l->n++], fmt, ap) < 0)
		abort();
	va_end(ap);
}

static void emit_lines(struct wd_report *r, struct lines *l)
{
	int i;

	wd_emit(r, NULL, (const char *const *)l->v, l->n);
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
}

void wd_report_table(struct wd_report *r, struct wd_row *rows, int n,
		     const struct wd_health_counts *h, const struct wd_share *procs, int nprocs)
{
	struct wd_json *rec;
	struct lines l = { 0 };
	char clk[16], buf[512], num[32];
	int i;

	if (n)
		qsort(rows, n, sizeof(*rows), by_activity);
	if (r->json) {
		rec = wj_new();
		wj_str(rec, "event", "interval");
		wj_take(rec, "health", health_json(h));
		budgets_members(rec, rows, n, procs, nprocs);
		wd_emit(r, rec, NULL, 0);
		return;
	}
	add_line(&l, "%s  %d %s tracked", clock_now(clk), n, procs ? "budgets" : "processes");
	head_line(procs != NULL, rows, false, n, buf, sizeof(buf));
	add_line(&l, "%s", buf);
	for (i = 0; i < n && i < TABLE_ROWS; i++)
		add_line(&l, "%s",
			 row_line(&rows[i], wd_num(rows[i].window, 8, num, 32), buf, sizeof(buf)));
	if (n > TABLE_ROWS)
		add_line(&l, "        ... %d more (use --json for all)", n - TABLE_ROWS);
	add_line(&l, "%s", "");
	emit_lines(r, &l);
}

static char *not_listed_json(const struct wd_not_listed *nl, bool is_shared)
{
	struct wd_json *j = wj_new();

	if (is_shared)
		wj_u64(j, "budgets", nl->budgets);
	wj_u64(j, "processes", nl->processes);
	wj_u64(j, "total", nl->total);
	wj_u64(j, "allowed", nl->allowed);
	wj_u64(j, "limited", nl->limited);
	wj_u64(j, "limited_windows", nl->limited_windows);
	return wj_end(j);
}

static void summary_json(struct wd_report *r, const struct wd_row *rows, int n,
			 const struct wd_health_counts *h, double seconds,
			 const struct wd_share *procs, int nprocs, const __u64 tot[4],
			 const struct wd_not_listed *nl)
{
	struct wd_json *rec = wj_new();

	wj_str(rec, "event", "summary");
	wj_double(rec, "seconds", seconds, 3);
	wj_take(rec, "health", health_json(h));
	budgets_members(rec, rows, n, procs, nprocs);
	wj_u64(rec, "total", tot[0]);
	wj_u64(rec, "allowed", tot[1]);
	wj_u64(rec, "limited", tot[2]);
	wj_u64(rec, "limited_windows", tot[3]);
	if (nl)
		wj_take(rec, "not_listed", not_listed_json(nl, procs != NULL));
	wd_emit(r, rec, NULL, 0);
}

static void summary_text(struct wd_report *r, const struct wd_row *rows, int n,
			 const struct wd_health_counts *h, double seconds, bool is_shared,
			 const __u64 tot[4], const struct wd_not_listed *nl)
{
	static const struct wd_not_listed none;
	const struct wd_row **order = wd_xmalloc((n + 1) * sizeof(*order));
	struct lines l = { 0 };
	char buf[512], a[32], b[32], c[32];
	int i;

	for (i = 0; i < n; i++)
		order[i] = &rows[i];
	if (n)
		qsort(order, n, sizeof(*order), by_total);
	add_line(&l, "%s", "");
	if (!nl)
		nl = &none;
	add_line(&l, "Summary: %.1f s, %llu %s, %s calls", seconds,
		 (unsigned long long)n + (is_shared ? nl->budgets : nl->processes),
		 is_shared ? "budgets" : "processes", wd_num(tot[0], 20, a, 32));
	add_line(&l, "         %s allowed, %s limited in %s windows", wd_num(tot[1], 20, a, 32),
		 wd_num(tot[2], 20, b, 32), wd_num(tot[3], 20, c, 32));
	if (nl->processes || nl->budgets) {
		if (is_shared)
			add_line(&l,
				 "         %llu ended budgets, %llu exited processes not listed "
				 "(the newest %d are)",
				 (unsigned long long)nl->budgets, (unsigned long long)nl->processes,
				 WD_EXITED_ROWS);
		else
			add_line(&l,
				 "         %llu exited processes not listed (the newest %d are)",
				 (unsigned long long)nl->processes, WD_EXITED_ROWS);
	}
	head_line(is_shared, order, true, n, buf, sizeof(buf));
	add_line(&l, "%s", buf);
	for (i = 0; i < n && i < TABLE_ROWS; i++)
		add_line(&l, "%s", row_line(order[i], "-", buf, sizeof(buf)));
	if (h &&
	    (h->contended || h->events_lost || h->map_full || h->targets_full || h->stops_full))
		add_line(&l,
			 "health: contended %llu, events_lost %llu, map_full %llu, "
			 "stops_full %llu, targets_full %llu",
			 (unsigned long long)h->contended, (unsigned long long)h->events_lost,
			 (unsigned long long)h->map_full, (unsigned long long)h->stops_full,
			 (unsigned long long)h->targets_full);
	emit_lines(r, &l);
	free(order);
}

void wd_report_summary(struct wd_report *r, struct wd_row *rows, int n,
		       const struct wd_health_counts *h, double seconds,
		       const struct wd_share *procs, int nprocs, const struct wd_not_listed *nl)
{
	__u64 tot[4] = { 0 };
	int i;

	for (i = 0; i < n; i++) {
		tot[0] += total(&rows[i]);
		tot[1] += rows[i].allowed;
		tot[2] += rows[i].limited;
		tot[3] += rows[i].limited_windows;
	}
	if (nl) {
		tot[0] += nl->total;
		tot[1] += nl->allowed;
		tot[2] += nl->limited;
		tot[3] += nl->limited_windows;
	}
	if (r->json)
		summary_json(r, rows, n, h, seconds, procs, nprocs, tot, nl);
	else
		summary_text(r, rows, n, h, seconds, procs != NULL, tot, nl);
}
