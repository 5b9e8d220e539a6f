/* SPDX-License-Identifier: GPL-2.0 */
/*
 * report.h - output (report.c; ethoswd/report.py): stdout records, stderr status
 * lines, the live table, limit/clear/exit lines and the summary.
 */
#ifndef ETHOSWD_REPORT_H
#define ETHOSWD_REPORT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdio.h>

#include "labels.h"

struct wd_json;

struct wd_report {
	bool json;
	FILE *out; /* stdout */
};
/* A status line: stderr "ethoswd: <text>" in text mode; in JSON mode the
 * record `rec` (if not NULL) goes to stdout with a "time" member added.
 * Takes ownership of rec. */
void wd_info(struct wd_report *r, struct wd_json *rec, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wd_warn(struct wd_report *r, const char *text);
/* wd_warn() with more members for the JSON record (extra is taken; NULL ok). */
void wd_warn_rec(struct wd_report *r, const char *text, struct wd_json *extra);
/* report._n(): value in at most `width` characters (1.2M, 3.4G...). */
char *wd_num(unsigned long long value, int width, char *buf, size_t len);
/* Emit a record (JSON mode) or the text lines (text mode). */
void wd_emit(struct wd_report *r, struct wd_json *rec, const char *const *lines, int n);

/* Rows: one budget each (a process with the process key; a tree, user or
 * cgroup with a shared key, listing its processes' shares), carrying the
 * same fields as the Python rows (report.py), so text and JSON agree. */
struct wd_cgroup;
struct wd_share { /* one process's share of a shared budget */
	__u32 pid;
	__u64 budget;	  /* wd_key.id it was charged to, */
	int budget_key;	  /* its kind (WD_KEY_*) */
	__u32 budget_uid; /* and its uid (0 for WD_KEY_PROCESS) */
	__u64 allowed, limited;
	char comm[WD_COMM_LEN];	    /* raw kernel bytes, NUL-padded */
	const char *state;	    /* "ok", "STOPPED", "exited" */
	const struct wd_cgroup *cg; /* its cgroup (cgname.h), or NULL */
};

struct wd_row {
	bool shared;		/* a budget row (the run's key is shared) */
	int key;		/* WD_KEY_* of this budget (PROCESS: a fallback) */
	__u64 id;		/* the pid (process key) or budget id */
	__u32 uid;		/* the budget's wd_key.uid (0 for PROCESS) */
	char comm[WD_COMM_LEN]; /* raw */
	const char *name;	/* user or cgroup path, or NULL */
	const char *user;	/* the user of uid, or NULL */
	__u64 window;		/* calls in the current window (0 if expired) */
	__u64 allowed, limited, limited_windows;
	__u64 activity;		   /* total - total at the previous table */
	const char *state;	   /* "ok", "LIMITED", "STOPPED", "exited" */
	int nshares;		   /* shared key: the processes charged to it */
	struct wd_share *shares;   /* sorted by total desc, then pid */
	long long window_start_ms; /* LIMIT events only, else -1 */
	/* A process row, or a budget row of the cgroup key: its cgroup
	 * (cgname.h; NULL: it did not resolve).  Other rows: unused. */
	const struct wd_cgroup *cg;
};

struct wd_health_counts { /* names as in session.py HEALTH_NAMES */
	__u64 map_full, contended, events_lost, targets_full, stops_full;
};

void wd_report_limit(struct wd_report *r, const struct wd_row *row, __u64 max_calls,
		     __u64 window_ms, const char *action);
void wd_report_clear(struct wd_report *r, const struct wd_row *row);
void wd_report_exited(struct wd_report *r, const struct wd_row *row);
/* Throttle escalated to kill process pid (named as row->comm), which ran
 * on during its throttled window: resumed by a SIGCONT from by_pid
 * (by_comm) with si_code by_code, or (!resumed) a thread called again
 * although its stop had been sent (report.py Reporter.escalate). */
void wd_report_escalate(struct wd_report *r, const struct wd_row *row, __u32 pid, bool resumed,
			__u32 by_pid, int by_code, const char *by_comm);
/* procs: every process share with a shared key (non-NULL even when
 * nprocs is 0: it selects the budget layout); NULL with the process key.
 * wd_report_table() sorts rows in place; wd_report_summary() does not. */
void wd_report_table(struct wd_report *r, struct wd_row *rows, int n,
		     const struct wd_health_counts *h, const struct wd_share *procs, int nprocs);
/* The rows of exited processes a summary leaves out (exited.c): its
 * totals and its count include them; NULL leaves not_listed out. */
struct wd_not_listed {
	__u64 budgets;	 /* shared key: ended budgets */
	__u64 processes; /* exited processes (their rows with the process key,
			    their shares with a shared key) */
	__u64 total, allowed, limited, limited_windows;
};
void wd_report_summary(struct wd_report *r, struct wd_row *rows, int n,
		       const struct wd_health_counts *h, double seconds,
		       const struct wd_share *procs, int nprocs, const struct wd_not_listed *nl);

#endif /* ETHOSWD_REPORT_H */
