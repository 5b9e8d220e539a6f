/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ethoswd.h - what the parts of the C front end (ethoswd) share.
 *
 * ethoswd is watchdog.py as one C program on libbpf: the same probe
 * (the probe/ headers, built once into a CO-RE object), the same options, output,
 * refusals and exit statuses.  Each part mirrors one Python module:
 *
 *   opts.c      ethoswd/cli.py               options, help, value checks
 *   policy.c    ethoswd/policy.py            profiles, read classes, keys
 *   text.c      ethoswd/safetext.py          escaping, JSON strings
 *   report.c    ethoswd/report.py            tables, events, summary
 *   features.c  ethoswd/features.py          kernel probing
 *   choose.c    ethoswd/features.py          backend/action choice, offsets
 *   features_report.c  main.print_features   --probe-features output
 *   policy_json.c  Policy.as_dict()          the policy as JSON
 *   kbtf.c      (bpfsys.Btf, lighter)        the kernel's BTF for the checks
 *   sysenv.c    ethoswd/environment.py       capabilities, mounts, -p checks
 *   launch.c    launcher.py + guardian.py    -- CMD gate, guardian
 *   runas.c     ethoswd/runas.py             -u USER, the command's file
 *   loader.c    ethoswd/probe.py             skeleton, maps, attach
 *   session.c   session.py + budgets.py      the running loop
 *   main.c      ethoswd/main.py              top-down flow
 *
 * Errors: a setup problem is one line made with wd_fail() (stored, not
 * printed); the function returns -1 and main() prints
 * "ethoswd: error: <line>" and exits 2 with nothing left attached.
 */
#ifndef ETHOSWD_H
#define ETHOSWD_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "../probe/watchdog_map.h"

#define WD_PROG		      "ethoswd"
#define WD_MAX_LIST	      64   /* entries of a repeatable option */
#define WD_MAX_FS	      64   /* filesystems of a read class */
#define WD_MAX_FILES	      1024 /* --file entries (map wd_files) */
#define WD_METRICS_SERIES_MAX 1000 /* --metrics-per-cgroup (cli.py METRICS_SERIES_MAX) */

/* ---- errors (main.c) ---------------------------------------------------- */
/* Store a one-line setup error (printf format); always returns -1. */
int wd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *wd_last_error(void);

/* ---- options (opts.c) and policy (policy.c) ----------------------------- */
enum wd_backend {
	WD_BACKEND_AUTO = -1,
	WD_BACKEND_LSM = 0,
	WD_BACKEND_KPROBE = 1,
	WD_BACKEND_TRACEPOINT = 2,
	WD_NBACKENDS = 3
};
/* Actions use WD_ACT_* of watchdog_map.h; -1 is auto. */
#define WD_ACT_AUTO  (-1)
/* Budget keys use WD_KEY_* of watchdog_map.h; -1 is "from the profile". */
#define WD_KEY_UNSET (-1)

struct wd_fileid {	 /* a file as the probe matches it */
	char path[4096]; /* realpath() */
	__u64 dev;	 /* kernel dev_t: MAJOR << 20 | MINOR */
	__u64 ino;
};

struct wd_fs {	       /* a filesystem of a read class */
	char name[32]; /* "proc", or "0x1234" as given */
	__u64 magic;
};

struct wd_policy {
	const char *profile; /* "seed" | "fingerprint" */
	__u64 max_calls;
	__u64 window_ms;
	char count[256]; /* the --count label ("all", "sysinfo", ...) */
	bool counts_all; /* no filesystems and no files */
	int nfs;
	struct wd_fs fs[WD_MAX_FS]; /* sorted by name */
	int nfiles;
	struct wd_fileid *files; /* malloc'ed, nfiles entries */
	int key;		 /* WD_KEY_* */
	int nexe;
	struct wd_fileid *exclude_exe; /* malloc'ed, nexe entries */
	int nnotes;
	char notes[8][512]; /* warnings to print at start */
};

/* -u USER: whom `-- CMD` runs as (runas.c). */
struct wd_user {
	bool set;
	char name[256];
	__u32 uid, gid;
	int ngroups;
	unsigned int *groups; /* gid_t, malloc'ed: the supplementary groups */
};

struct wd_opts {
	int backend; /* enum wd_backend */
	int action;  /* WD_ACT_* or WD_ACT_AUTO */
	int npid;
	__u32 pid[WD_MAX_LIST];
	int ncomm;
	char comm[WD_MAX_LIST][WD_COMM_LEN];
	int nexclude_comm;
	char exclude_comm[WD_MAX_LIST][WD_COMM_LEN];
	double interval_s; /* -i, default 1 */
	double duration_s; /* --duration, 0: none */
	bool json;
	bool probe_features;
	bool ebpf;		    /* hidden: print the probe's settings and exit */
	__u32 map_size;		    /* --map-size, default WD_MAX_PIDS */
	const char *state_file;	    /* --state-file PATH, or NULL */
	const char *resume_stopped; /* --resume-stopped PATH, or NULL */
	const char *metrics_file;   /* --metrics-file, or NULL */
	char metrics_addr[64];	    /* --metrics-listen's address ("::1", no []) */
	int metrics_port;	    /* --metrics-listen's port, 0: none */
	int metrics_per_cgroup;	    /* --metrics-per-cgroup N, 0: none */
	char **command;		    /* after "--", NULL-terminated, or NULL */
	int ncommand;
	const char *config;  /* --config FILE, or NULL */
	struct wd_user user; /* -u USER */
	struct wd_policy policy;
	__u64 jitter_ns;	 /* --jitter GRAIN, 0: none */
	const char *jitter_mode; /* --jitter-mode: "clamp" (default) or "pause" */
	const char *jitter_via;	 /* --jitter-via: auto (default), launcher, write, quantize */
};

/* --jitter-via's refusals that need no kernel (jitter_bpf_report.c,
 * jitter_cover.py check_via): 0, or -1 with wd_fail(). */
int wd_jb_check_via(__u64 grain_ns, const char *mode, const char *via, bool command);

/* Parse argv (argv[0] is the program); 0 ok, 1 --help/--version printed
 * (exit 0), -1 on a bad option (wd_fail() holds the line). */
int wd_opts_parse(int argc, char **argv, struct wd_opts *o);
void wd_opts_free(struct wd_opts *o);
const char *wd_backend_name(int backend); /* "lsm", "kprobe", ... */
const char *wd_action_name(int action);	  /* "deny", "throttle", ... */
const char *wd_key_name(int key);	  /* "process", "tree", ... */
/* Python's str.strip() of ASCII white space, malloc'ed. */
char *wd_strip_dup(const char *text);

/* What policy.resolve() reads of the command line (strings as given). */
struct wd_policy_args {
	const char *count; /* --count, or NULL: the profile's */
	int key;	   /* --key as WD_KEY_*, or WD_KEY_UNSET */
	bool targets;	   /* -p PID or -- CMD given */
	int nfiles;
	const char **files; /* --file paths */
	int nexe;
	const char **exe; /* --exclude-exe paths */
};
/* policy.resolve(): fill p (profile, max_calls and window_ms already set
 * from the options; 0 there: the profile's); 0, or -1 with wd_fail(). */
int wd_policy_resolve(struct wd_policy *p, const struct wd_policy_args *a);
const char *wd_policy_describe_key(const struct wd_policy *p);
/* Which callers get a budget of their own instead of the shared key's
 * ("the caller is in the root cgroup ..."), or NULL. */
const char *wd_policy_fallback(const struct wd_policy *p);
/* "every read-family call" | "reads of files on proc,sysfs or reads of 2 listed files" */
void wd_policy_describe_count(const struct wd_policy *p, char *buf, size_t len);
bool wd_policy_needs_btf(const struct wd_policy *p);

/* ---- text and JSON (text.c) --------------------------------------------- */
/* escape(): a process-controlled name as printable ASCII, exactly as
 * ethoswd/safetext.py escape() (\\, \n, \r, \t, \xHH); returns buf. */
char *wd_escape(const char *raw, size_t rawlen, char *buf, size_t len);
/* cell(): escape() padded or cut to exactly `width` columns ("+" marks a cut). */
char *wd_cell(const char *raw, size_t rawlen, int width, char *buf, size_t len);
/* one_line(): a composed line with non-printables escaped (safetext.one_line). */
char *wd_one_line(const char *text, char *buf, size_t len);

/* A JSON object built member by member; wj_end() writes the members in
 * key order (as Python's json.dumps(sort_keys=True)) and returns a
 * malloc'ed string.  Nested values: build them with another wd_json (or
 * wj_array_*) and add the text with wj_raw().  Strings are escaped as JSON
 * (invalid UTF-8 as U+FFFD). */
struct wd_json;
struct wd_json *wj_new(void);
void wj_str(struct wd_json *j, const char *key, const char *val);
void wj_strn(struct wd_json *j, const char *key, const char *val, size_t n);
void wj_int(struct wd_json *j, const char *key, long long val);
void wj_u64(struct wd_json *j, const char *key, unsigned long long val);
void wj_double(struct wd_json *j, const char *key, double val, int decimals);
void wj_bool(struct wd_json *j, const char *key, bool val);
void wj_null(struct wd_json *j, const char *key);
void wj_raw(struct wd_json *j, const char *key, const char *json_text);
void wj_take(struct wd_json *j, const char *key, char *json_text); /* wj_raw + free */
char *wj_end(struct wd_json *j);				   /* frees j */
/* JSON arrays: "[" elements "]", built the same way. */
struct wd_jarr;
struct wd_jarr *wja_new(void);
void wja_raw(struct wd_jarr *a, const char *json_text);
void wja_take(struct wd_jarr *a, char *json_text);
void wja_str(struct wd_jarr *a, const char *val);
void wja_u64(struct wd_jarr *a, unsigned long long val);
char *wja_end(struct wd_jarr *a); /* frees a */

/* Helpers of text.c that the other parts use too. */
struct wd_buf { /* a growing NUL-terminated string */
	char *p;
	size_t len, cap;
};
void wb_putn(struct wd_buf *b, const char *s, size_t n);
void wb_puts(struct wd_buf *b, const char *s);
void wb_printf(struct wd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *wb_take(struct wd_buf *b); /* the text (malloc'ed, never NULL) */
void *wd_xmalloc(size_t n);	 /* abort() when out of memory */
void *wd_xrealloc(void *p, size_t n);
char *wd_xstrdup(const char *s);
/* One UTF-8 character: its length; *cp = code point, -1 if invalid. */
size_t wd_utf8_next(const unsigned char *s, size_t n, long *cp);
bool wd_printable(long cp);		 /* Python str.isprintable() of one char */
char *wd_one_line_dup(const char *text); /* one_line(), malloc'ed */
/* Python's repr() of a command-line string (for error lines), malloc'ed. */
char *wd_repr_dup(const char *text);
char *wd_json_quote(const char *text, size_t n); /* "...", malloc'ed */
/* Python's repr(round(x, decimals)) (decimals < 0: repr(x)); returns buf. */
char *wd_json_double(double x, int decimals, char *buf, size_t len);
bool wj_has(const struct wd_json *j, const char *key);
int wj_len(const struct wd_json *j);
void wj_free(struct wd_json *j);

/* ---- report (report.c): stdout records, stderr status lines ------------- */
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

/* ---- -u USER, the command's file, the child's pre-exec steps (runas.c) --- */
/* -u USER (a name or numeric UID of the user database): 0, or -1 with
 * wd_fail() ("no such user").  Fills u, groups malloc'ed. */
int wd_user_lookup(const char *text, struct wd_user *u);
void wd_user_free(struct wd_user *u);
/* The file `-- file` runs, found as execvp() finds it but as user u (NULL
 * or unset: as the caller), into out; -1 with the one-line refusal in msg
 * if it cannot run: not found, a directory, not executable (by u), or
 * neither ELF nor #! (execvp would run that through /bin/sh).  Switches
 * only the effective ids, and back: call it as root. */
int wd_command_resolve(const char *file, const struct wd_user *u, char *out, size_t outlen,
		       char *msg, size_t msglen);
/* The launched child's steps between the gate and exec: default signal
 * dispositions, nothing blocked, then u's groups, GID and UID (all three
 * of each, no way back).  0, or -1 with errno. */
int wd_pre_exec(const struct wd_user *u);

/* ---- the -- CMD gate and the guardian (launch.c) ------------------------ */
#include <sys/types.h>

/* `-- CMD` forked first (its PID goes into the target map) and held at a
 * gate until the probe is attached: wd_child_release() lets it exec the
 * command; if the watchdog fails (or dies) first, the child exits 127
 * without running anything.  The forked child never returns into the
 * caller.  Start from WD_CHILD_INIT. */
struct wd_child {
	pid_t pid;   /* -1 until started */
	int gate_fd; /* write end of the gate, -1 once used */
	int status;  /* exit status once done */
	bool done;
};
#define WD_CHILD_INIT                                                 \
	{                                                             \
		.pid = -1, .gate_fd = -1, .status = -1, .done = false \
	}

/* Fork the gated child of argv (NULL-terminated, argv[0] looked up in
 * PATH as user u, NULL: as root), which runs it as u once released; 0, or
 * -1 with wd_fail() (the command cannot run: nothing was started). */
int wd_child_start(struct wd_child *c, char **argv, const struct wd_user *u);
/* A step the child runs after the gate opens and before -u's drop and its
 * exec: fn(arg), with the descriptor arg kept open for it; -1 keeps the
 * command from running (exit 127).  --jitter: wd_jitter_child_prepare. */
struct wd_child_hook {
	int (*fn)(int arg);
	int arg;
};
int wd_child_start_hooked(struct wd_child *c, char **argv, const struct wd_user *u,
			  const struct wd_child_hook *hook);
void wd_child_release(struct wd_child *c); /* let it exec the command */
/* If never released: close the gate, reap the child, status 127.  A
 * released command is left running.  Safe on WD_CHILD_INIT. */
void wd_child_abort(struct wd_child *c);
/* -1 while running, else the exit status (shell convention: 128+N for
 * signal N), also left in c->status. */
int wd_child_poll(struct wd_child *c);

/* --jitter GRAIN (jitter_launch.c): the clock supervisor ethos-clockd for
 * the `-- CMD` child.  wd_jitter_open() before the child is forked (it
 * keeps child_sock), wd_jitter_start() once it waits at the gate; the
 * child calls wd_jitter_child_prepare(child_sock) just before its exec.
 * Start from WD_JITTER_INIT. */
struct wd_jitter {
	pid_t pid;	/* ethos-clockd, -1 if not running (or reaped) */
	int ctl_fd;	/* control pipe: "=" at a clean stop */
	int sup_sock;	/* the supervisor's end of the socket, until started */
	int child_sock; /* the child's end */
	__u64 grain_ns;
	const char *mode; /* "clamp" or "pause" */
};

#define WD_JITTER_INIT                                                                     \
	{                                                                                  \
		.pid = -1, .ctl_fd = -1, .sup_sock = -1, .child_sock = -1, .mode = "clamp" \
	}

const char *wd_clockd_path(char *buf, size_t len); /* next to this program */
/* One line of `ethos-clockd --coverage` (jitter_report.c). */
struct wd_jrow {
	char source[160], status[24], how[160];
};
#define WD_JROWS_MAX 32
/* The supervisor's table: the number of rows, -1 if it is missing. */
int wd_clockd_coverage(struct wd_jrow *rows, int max);
char *wd_jrows_json(const struct wd_jrow *rows, int n); /* [{source, status, how}] */
int wd_jitter_open(struct wd_jitter *j);
int wd_jitter_start(struct wd_jitter *j, pid_t child, unsigned *jfrac); /* J * 65536 */
/* Clean: "=" (keep serving the tree until it exits); else just close (the
 * supervisor ends, and the tree with it).  Safe on WD_JITTER_INIT. */
void wd_jitter_close(struct wd_jitter *j, bool clean);
void wd_jitter_wait(struct wd_jitter *j, int timeout_ms); /* its end, after CMD's */
int wd_jitter_child_prepare(int sock);			  /* -1: said why */

/* The guardian: a helper process that resumes the processes the watchdog
 * stopped (action throttle) if the watchdog dies while they are stopped.
 * It is one of the watchdog's own processes: pass its pid to the probe as
 * the guard TGID so it is never limited.  Start from WD_GUARDIAN_INIT. */
struct wd_guardian {
	pid_t pid; /* -1 until started */
	int wfd;   /* write end of its pipe, -1 once closed */
};
#define WD_GUARDIAN_INIT             \
	{                            \
		.pid = -1, .wfd = -1 \
	}

/* Fork the guardian of the calling process; 0, or -1 with wd_fail(). */
int wd_guardian_start(struct wd_guardian *g);
void wd_guardian_stopped(struct wd_guardian *g, pid_t tgid); /* "+PID" */
void wd_guardian_resumed(struct wd_guardian *g, pid_t tgid); /* "-PID" */
/* After detaching: say so ("="), close the pipe (the guardian resumes what
 * is still listed at once) and reap it.  Safe on WD_GUARDIAN_INIT. */
void wd_guardian_close(struct wd_guardian *g);

/* ---- environment (sysenv.c): environment.py ----------------------------- */
/* What decides whether ethoswd may run (environment.Privileges). */
struct wd_privileges {
	__u64 caps;	  /* the effective set (CapEff) */
	int last_cap;	  /* /proc/sys/kernel/cap_last_cap */
	char tracefs[64]; /* a mounted tracefs closed to this user, or "" */
	int kmajor, kminor;
	__u64 memlock; /* RLIMIT_MEMLOCK's hard limit (RLIM_INFINITY) */
	unsigned int uid;
};
int wd_privileges_read(struct wd_privileges *p); /* -1 with wd_fail() */
/* -1 with wd_fail() naming each missing capability and what it is for
 * (action WD_ACT_THROTTLE adds CAP_KILL); 0 if p has what it takes. */
int wd_privilege_problem(const struct wd_privileges *p, int action);
int wd_require_privileges(int action); /* read, then the problem */
/* CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): an EPERM is the kernel's. */
bool wd_bpf_capable(void);
/* Mount tracefs/debugfs/securityfs where absent (mount(2)); the number of
 * notes "mounted X on Y" written (at most max). */
int wd_mount_pseudo(char notes[][128], int max);
/* A -p PID must be a live process (not a zombie, not a thread of another)
 * and neither pid 1, a kernel thread nor ethoswd itself; -1 with
 * wd_fail() otherwise. */
int wd_check_target_pid(__u32 pid);

/* ---- the policy as JSON (policy_json.c) --------------------------------- */
/* Policy.as_dict() as JSON text (malloc'ed): profile, count, filesystems
 * {name: magic}, files and exclude_exe [{path, dev, ino}], key, per_user,
 * fallback ({key, when} or null), max_calls, window_ms. */
char *wd_policy_json(const struct wd_policy *p);

#endif /* ETHOSWD_H */
