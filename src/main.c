// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - ethoswd's top-down flow (ethoswd/main.py): parse, check,
 * probe the kernel, load and attach, run, detach.
 *
 * Exit status: 0; with -- CMD the launched command's own status, or 0
 * if ethoswd stopped first (--duration, a signal) and left the command
 * running, unlimited; 2 for any setup problem (one line "ethoswd: error:
 * ...", nothing left attached); 130 if interrupted (SIGINT) during
 * start-up, nothing left attached.
 *
 * ethoswd is watchdog.py as one C program on libbpf: the same probe (the
 * probe/ headers, built once into a CO-RE object), the same output,
 * refusals and exit statuses.  Its parts, each with its own header, from
 * the top down; a part calls only parts on lower lines:
 *
 *   main.c                  the top-down flow (ethoswd/main.py)
 *   features_report.c       --probe-features output (main.print_features)
 *   jitter_bpf_probe.c      may --jitter write a reader's memory here
 *   features.c              kernel probing (ethoswd/features.py)
 *   session.c, reload.c     the running loop (session.py, budgets.py); SIGHUP
 *   choose.c, offsets.c     backend/action choice; the struct members read
 *   jitter_bpf.c, metrics.c --jitter's BPF modes; Prometheus metrics
 *   loader.c                the probe: skeleton, maps, attach (probe.py)
 *   opts.c                  options, help, value checks (ethoswd/cli.py)
 *   jitter_bpf_report.c, jitter_bpf_attach.c   --jitter's mode; libc uprobes
 *   stopfile.c, exited.c, metrics_text.c       state file; exited rows; text
 *   report.c, launch.c, policy_json.c, corebtf.c, names.c
 *                           output (report.py); -- CMD gate and guardian;
 *                           the policy as JSON; BTF for libbpf; budget names
 *   policy.c, sysenv.c, runas.c, config.c, jitter_launch.c, metrics_http.c,
 *   cgname.c, minbtf.c      policy.py, environment.py, runas.py, config.py,
 *                           --jitter's supervisor, /metrics, cgroup names,
 *                           the cut BTF
 *   text.c, kbtf.c, idmap.c, jitter_report.c, detach.c
 *                           escaping and JSON (safetext.py); the kernel's
 *                           BTF; maps by key; ethos-clockd's table; detach
 *   labels.c, strutil.c, errors.c
 *                           backend/action/key names; string helpers; the
 *                           one error line (wd_fail)
 *
 * Errors: a setup problem is one line made with wd_fail() (stored, not
 * printed); the function returns -1 and main() prints
 * "ethoswd: error: <line>" and exits 2 with nothing left attached.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "jitter_launch.h"
#include "jitter_report.h"
#include "labels.h"
#include "launch.h"
#include "opts.h"
#include "policy.h"
#include "policy_json.h"
#include "report.h"
#include "strutil.h"
#include "sysenv.h"
#include "text.h"
#include "offsets.h"
#include "jitter_bpf_run.h"
#include "loader.h"
#include "metrics.h"
#include "reload.h"
#include "session.h"
#include "stopfile.h"
#include "wdfeatures.h"

/* A SIGINT before the session's own handler: start-up stops at the next
 * step, detaches what it attached and exits 130 (main.py's
 * KeyboardInterrupt). */
static volatile sig_atomic_t interrupted;

static void on_startup_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* What throttle does to a process it cannot keep stopped (probe/limiter.h;
 * main.py ESCALATION). */
#define ESCALATION                                                                  \
	"throttle escalates to kill: a process that another one resumes (SIGCONT) " \
	"during its throttled window is killed at its next counted call"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Everything a run holds, released in one place whatever happened. */
struct run {
	struct wd_opts o;
	struct wd_report rep;
	struct wd_features feats;
	struct wd_probe probe;
	struct wd_probe_cfg cfg;
	struct wd_child child;
	struct wd_guardian guardian;
	struct wd_stopfile stopfile; /* --state-file */
	struct wd_metrics *metrics;  /* --metrics-file/--metrics-listen, or NULL */
	struct wd_jitter jitter;
	struct wd_jb jb; /* --jitter in a BPF mode (jitter_bpf.c) */
	struct wd_jrow jrows[WD_JROWS_MAX];
	int njrows;
	unsigned jfrac; /* the supervisor's J * 65536 */
	bool loaded;
	int backend, action;
	char why[1024];
	__u32 targets[WD_LIST_MAX + 1];
	__u32 uids[WD_LIST_MAX + 1]; /* the real UID each target runs as */
	int ntargets;
	struct wd_reload reload; /* SIGHUP with --config */
	double t_start, t_features, t_load, t_attach;
};

/* --jitter by ethos-clockd (-- CMD), not by a BPF mode. */
static bool launcher(const struct run *r)
{
	return r->o.jitter_ns && !strcmp(r->jb.run.via, "launcher");
}

/* Targets, capabilities, mounts, features, and the backend/action/key
 * choice. */
static int choose(struct run *r)
{
	char notes[4][128];
	struct wd_offset offs[WD_MAX_OFFSETS];
	const char *problem;
	double t0;
	int n;

	for (int i = 0; i < r->o.npid; i++)
		if (wd_check_target_pid(r->o.pid[i]))
			return -1;
	if (wd_require_privileges(WD_ACT_AUTO))
		return -1;
	n = wd_mount_pseudo(notes, 4);
	for (int i = 0; i < n; i++)
		wd_info(&r->rep, NULL, "%s", notes[i]);
	t0 = now_s();
	/* --probe-features shows every feature; a run probes what can
	 * change an answer (wdfeatures.h). */
	wd_features_probe(&r->feats, r->o.probe_features);
	r->t_features = now_s() - t0;
	if (r->o.probe_features)
		return 0;
	if (wd_choose(&r->feats, r->o.backend, r->o.action, &r->backend, &r->action, r->why,
		      sizeof(r->why)))
		return -1;
	if (wd_require_privileges(r->action))
		return -1;
	problem = wd_key_problem(&r->feats, r->o.policy.key);
	if (problem)
		return wd_fail("%s", problem);
	if (r->o.jitter_ns) { /* which --jitter mode (jitter_cover.choose_via) */
		char detail[700] = "";
		/* the launcher needs no probe (-- CMD with auto, or asked for) */
		bool ok = !strcmp(r->o.jitter_via, "launcher") ||
			  (!strcmp(r->o.jitter_via, "auto") && r->o.ncommand) ||
			  wd_jb_probe_write(detail, sizeof(detail));

		if (wd_jb_choose_via(r->o.jitter_ns, r->o.jitter_mode, r->o.jitter_via,
				     r->o.ncommand > 0, ok, detail, &r->jb.run))
			return -1;
	}
	/* The same refusals as watchdog.py for what needs BTF offsets ... */
	if (wd_features_offsets(&r->feats, r->backend, &r->o.policy, offs) < 0)
		return -1;
	/* ... and the CO-RE object itself is relocated against the BTF. */
	if (!r->feats.feat[WD_F_BTF].ok)
		return wd_fail("ethoswd needs the kernel's BTF to load its CO-RE probe (%s); "
			       "use watchdog.py, which compiles the probe for this kernel, "
			       "or a kernel with CONFIG_DEBUG_INFO_BTF=y",
			       r->feats.feat[WD_F_BTF].detail);
	return 0;
}

static void fill_cfg(struct run *r)
{
	const struct wd_policy *p = &r->o.policy;
	struct wd_probe_cfg *c = &r->cfg;

	c->backend = r->backend;
	c->action = r->action;
	c->key = p->key;
	c->self_tgid = getpid();
	c->guard_tgid = r->guardian.pid > 0 ? (__u32)r->guardian.pid : 0;
	c->targets = r->o.npid || r->o.ncommand;
	c->comm_in = r->o.ncomm > 0;
	c->comm_out = r->o.nexclude_comm > 0;
	c->exclude_exe = p->nexe > 0;
	c->count_fs = p->nfs > 0;
	c->count_files = p->nfiles > 0;
	c->uring_tp = r->feats.uring_tp[0] ? r->feats.uring_tp : NULL;
	c->map_size = r->o.map_size;
	c->btf = r->feats.btf;
	if (c->count_fs || c->count_files) {
		c->cast_func_id = r->feats.cast_func_id; /* 0: no typed file reads */
		c->file_btf_id = r->feats.file_btf_id;
	}
}

/* --ebpf: what watchdog.py prints as its cflags, as the settings of the
 * compiled object (the same names and order; no -I, no BTF offsets:
 * CO-RE relocates those), and exit without loading anything. */
static void print_ebpf(struct run *r)
{
	const struct wd_probe_cfg *c = &r->cfg;
	char up[16];
	size_t i;

	fill_cfg(r);
	for (i = 0; wd_backend_name(c->backend)[i] && i < sizeof(up) - 1; i++)
		up[i] = wd_backend_name(c->backend)[i] - 'a' + 'A';
	up[i] = '\0';
	printf("// ethoswd runs probe/watchdog.bpf.c compiled once (CO-RE); these are its "
	       "load-time settings, as watchdog.py's -D switches\n");
	printf("// settings: -DWD_BACKEND_%s -DWD_ACTION=%d -DWD_SELF_TGID=%u -DWD_MAX_PIDS=%u", up,
	       c->action, c->self_tgid, c->map_size);
	if (c->targets)
		printf(" -DWD_FILTER_TARGETS");
	if (c->uring_tp && c->backend != WD_BACKEND_LSM)
		printf(" -DWD_URING");
	if (c->comm_in)
		printf(" -DWD_FILTER_COMM");
	if (c->comm_out)
		printf(" -DWD_EXCLUDE_COMM");
	printf(" -DWD_KEY=%d", c->key);
	if (c->count_fs)
		printf(" -DWD_COUNT_FS");
	if (c->count_files)
		printf(" -DWD_COUNT_FILES");
	if (c->exclude_exe)
		printf(" -DWD_EXCLUDE_EXE");
	if (c->file_btf_id) /* typed file reads (kernel_read.h) */
		printf(" -DWD_CAST_FUNC_ID=%u -DWD_FILE_BTF_ID=%u", c->cast_func_id,
		       c->file_btf_id);
	printf(" -DWD_GUARD_TGID=...\n");
}

/* Guardian, gated child, load, maps, attach. */
static int build_and_attach(struct run *r)
{
	double t0;
	bool failed;

	if (r->o.state_file && wd_stopfile_open(&r->stopfile, r->o.state_file))
		return -1;
	/* The metrics file's directory and the HTTP port: refused before
	 * anything is attached. */
	r->metrics = wd_metrics_open(&r->o, &failed);
	if (failed)
		return -1;
	if (r->action == WD_ACT_THROTTLE && wd_guardian_start(&r->guardian))
		return -1;
	for (int i = 0; i < r->o.npid; i++) {
		r->uids[r->ntargets] = WD_UID_FROM_PROC;
		r->targets[r->ntargets++] = r->o.pid[i];
	}
	if (r->o.ncommand) {
		struct wd_child_hook hook = { wd_jitter_child_prepare, -1 };

		if (launcher(r)) {
			r->jitter.grain_ns = r->o.jitter_ns;
			r->jitter.mode = r->o.jitter_mode;
			if (wd_jitter_open(&r->jitter))
				return -1;
			hook.arg = r->jitter.child_sock;
		}
		if (wd_child_start_hooked(&r->child, r->o.command, &r->o.user,
					  launcher(r) ? &hook : NULL))
			return -1;
		if (launcher(r) && wd_jitter_start(&r->jitter, r->child.pid, &r->jfrac))
			return -1;
		/* The child runs CMD as -u USER, or as root. */
		r->uids[r->ntargets] = r->o.user.set ? r->o.user.uid : 0;
		r->targets[r->ntargets++] = r->child.pid;
	}
	fill_cfg(r);
	t0 = now_s();
	if (wd_probe_load(&r->probe, &r->cfg))
		return -1;
	r->loaded = true;
	r->t_load = now_s() - t0;
	t0 = now_s();
	if (wd_probe_configure(&r->probe, &r->o, r->targets, r->uids, r->ntargets) ||
	    wd_probe_attach(&r->probe, &r->cfg))
		return -1;
	wd_probe_drop_exited(&r->probe, r->targets, r->uids, r->ntargets);
	/* --jitter in a BPF mode: its own program, next to the limiter */
	if (r->o.jitter_ns && !launcher(r) &&
	    wd_jb_start(&r->jb, &r->o, r->targets, r->ntargets, r->o.ncommand ? r->child.pid : 0,
			r->feats.btf))
		return -1;
	r->t_attach = now_s() - t0;
	wd_metrics_start(r->metrics, &r->probe, wd_backend_name(r->backend),
			 wd_action_name(r->action));
	return 0;
}

/* s escaped (safetext.escape: at most 4 characters per byte) onto b. */
static void put_escaped(struct wd_buf *b, const char *s)
{
	size_t n = strlen(s);
	char *esc = wd_xmalloc(4 * n + 1);

	wb_puts(b, wd_escape(s, n, esc, 4 * n + 1));
	free(esc);
}

/* n names `stride` bytes apart from `first`, each escaped, joined by ",". */
static void put_names(struct wd_buf *b, const char *first, size_t stride, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			wb_puts(b, ",");
		put_escaped(b, first + i * stride);
	}
}

/* Start one "; "-separated part of the targets line. */
static void part(struct wd_buf *b)
{
	if (b->len)
		wb_puts(b, "; ");
}

/* "command 'x' (pid N) and its children; ... (never pid 1 or the
 * watchdog)", as main.py _describe_targets; malloc'ed. */
static char *describe_targets(struct run *r)
{
	const struct wd_opts *o = &r->o;
	struct wd_buf b = { 0 }, cmd = { 0 };

	if (o->ncommand) {
		char *raw;

		for (int i = 0; i < o->ncommand; i++)
			wb_printf(&cmd, "%s%s", i ? " " : "", o->command[i]);
		raw = wb_take(&cmd);
		wb_puts(&b, "command '");
		put_escaped(&b, raw);
		wb_printf(&b, "' (pid %d)", r->child.pid);
		if (o->user.set) {
			wb_puts(&b, " as user ");
			put_escaped(&b, o->user.name);
			wb_printf(&b, " (uid %u)", o->user.uid);
		}
		wb_puts(&b, " and its children");
		free(raw);
	}
	if (o->npid) {
		part(&b);
		wb_puts(&b, "pid ");
		for (int i = 0; i < o->npid; i++)
			wb_printf(&b, "%s%u", i ? "," : "", o->pid[i]);
		wb_puts(&b, " and their children");
	}
	if (o->ncomm) {
		part(&b);
		wb_puts(&b, "comm ");
		put_names(&b, o->comm[0], sizeof(o->comm[0]), o->ncomm);
	}
	if (!b.len)
		wb_puts(&b, "every process");
	if (o->nexclude_comm) {
		wb_puts(&b, "; except comm ");
		put_names(&b, o->exclude_comm[0], sizeof(o->exclude_comm[0]), o->nexclude_comm);
		wb_puts(&b, " (spoofable)");
	}
	if (o->policy.nexe) {
		wb_puts(&b, "; except executables ");
		put_names(&b, o->policy.exclude_exe[0].path, sizeof(o->policy.exclude_exe[0]),
			  o->policy.nexe);
	}
	wb_puts(&b, " (never pid 1 or the watchdog)");
	return wb_take(&b);
}

/* The JSON 'start' record (main.py _report_start's members). */
static struct wd_json *start_record(struct run *r, struct wd_route *routes, double total)
{
	struct wd_json *j = wj_new(), *b = wj_new(), *t = wj_new();
	struct wd_jarr *att = wja_new(), *tg = wja_new();
	__u32 sorted[WD_LIST_MAX + 1];

	wj_str(j, "event", "start");
	wj_str(j, "backend", wd_backend_name(r->backend));
	wj_str(j, "action", wd_action_name(r->action));
	wj_str(j, "reason", r->why);
	wj_str(j, "escalation", r->action == WD_ACT_THROTTLE ? ESCALATION : NULL);
	wj_str(j, "kernel", r->feats.kernel);
	for (int i = 0; i < WD_NBACKENDS; i++) {
		const char *p = wd_backend_problem(&r->feats, i);

		if (p)
			wj_str(b, wd_backend_name(i), p);
		else
			wj_null(b, wd_backend_name(i));
	}
	wj_take(j, "backends", wj_end(b));
	wj_u64(j, "max_calls", r->o.policy.max_calls);
	wj_u64(j, "window_ms", r->o.policy.window_ms);
	wj_take(j, "policy", wd_policy_json(&r->o.policy));
	if (r->o.jitter_ns && !launcher(r)) {
		wj_take(j, "jitter", wd_jb_start_json(&r->jb.run));
	} else if (r->o.jitter_ns) {
		struct wd_json *jt = wj_new();

		wj_u64(jt, "grain_ns", r->o.jitter_ns);
		wj_str(jt, "mode", r->o.jitter_mode);
		wj_u64(jt, "jfrac", r->jfrac);
		wj_int(jt, "supervisor", r->jitter.pid);
		wj_take(jt, "clocks", wd_jrows_json(r->jrows, r->njrows));
		wj_take(j, "jitter", wj_end(jt));
	} else {
		wj_null(j, "jitter");
	}
	for (int i = 0; i < r->probe.nlinks; i++)
		wja_str(att, r->probe.attached[i]);
	wj_take(j, "attached", wja_end(att));
	wj_take(j, "routes", wd_routes_json(routes));
	memcpy(sorted, r->targets, r->ntargets * sizeof(__u32));
	for (int i = 1; i < r->ntargets; i++)
		for (int k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
			__u32 x = sorted[k];

			sorted[k] = sorted[k - 1];
			sorted[k - 1] = x;
		}
	for (int i = 0; i < r->ntargets; i++)
		wja_u64(tg, sorted[i]);
	wj_take(j, "targets", wja_end(tg));
	if (r->o.user.set)
		wj_str(j, "user", r->o.user.name);
	else
		wj_null(j, "user");
	wj_double(t, "total", total, 4);
	wj_double(t, "features", r->t_features, 4);
	wj_double(t, "load", r->t_load, 4);
	wj_double(t, "attach", r->t_attach, 4);
	wj_take(j, "startup", wj_end(t));
	wj_str(j, "frontend", "ethoswd");
	return j;
}

/* --jitter's start lines (main.py: jitter.Supervisor.start_lines). */
static void report_jitter(struct run *r)
{
	struct wd_buf b = { 0 };
	char *clamped;

	r->njrows = wd_clockd_coverage(r->jrows, WD_JROWS_MAX);
	if (r->njrows < 0)
		r->njrows = 0;
	wd_info(&r->rep, NULL,
		"jitter: grain %llu ns, mode %s, J %.4g; ethos-clockd (pid %d) traces the "
		"command and its children, with a secret drawn for this run",
		(unsigned long long)r->o.jitter_ns, r->o.jitter_mode, r->jfrac / 65536.0,
		(int)r->jitter.pid);
	for (int i = 0; i < r->njrows; i++)
		if (!strcmp(r->jrows[i].status, "clamped"))
			wb_printf(&b, "%s%s", b.len ? "; " : "", r->jrows[i].source);
	clamped = wb_take(&b);
	wd_info(&r->rep, NULL, "clocks clamped: %s", clamped ? clamped : "");
	free(clamped);
	for (int i = 0; i < r->njrows; i++) {
		char line[1024];

		if (!strcmp(r->jrows[i].status, "clamped"))
			continue;
		snprintf(line, sizeof(line), "%s: %s (%s)", r->jrows[i].source, r->jrows[i].status,
			 r->jrows[i].how);
		wd_warn(&r->rep, line);
	}
}

static void report_start(struct run *r, double launched)
{
	struct wd_route routes[WD_NROUTES];
	char buf[8192], count[1024], *targets;
	const struct wd_policy *p = &r->o.policy;
	size_t off = 0;

	wd_summary_line(&r->feats, buf, sizeof(buf));
	wd_info(&r->rep, NULL, "%s", buf);
	wd_info(&r->rep, NULL, "backend %s, action %s: %s", wd_backend_name(r->backend),
		wd_action_name(r->action), r->why);
	if (r->action == WD_ACT_THROTTLE)
		wd_info(&r->rep, NULL, "%s", ESCALATION);
	wd_policy_describe_count(p, count, sizeof(count));
	wd_info(&r->rep, NULL, "policy %s: limit %llu calls / %llu ms %s; counting %s", p->profile,
		(unsigned long long)p->max_calls, (unsigned long long)p->window_ms,
		wd_policy_describe_key(p), count);
	for (int i = 0; i < p->nnotes; i++)
		wd_warn(&r->rep, p->notes[i]);
	if (r->cfg.count_fs || r->cfg.count_files) { /* fill_cfg() decided */
		const struct wd_feature *tf = &r->feats.feat[WD_F_TYPED_FILE];

		if (r->cfg.file_btf_id)
			wd_info(&r->rep, NULL,
				"file lookup: typed loads (bpf_rdonly_cast): one "
				"bpf_probe_read_kernel per check, for the fd's slot");
		else
			wd_info(&r->rep, NULL,
				"file lookup: bpf_probe_read_kernel, four per check (%s: %s)",
				tf->name, tf->detail);
	}
	wd_routes(&r->feats, r->backend, r->action, routes);
	buf[0] = 0;
	for (int i = 0; i < WD_NROUTES; i++)
		if (!strcmp(routes[i].status, "counted"))
			off += snprintf(buf + off, sizeof(buf) - off, "%s%s", off ? "; " : "",
					routes[i].route);
	wd_info(&r->rep, NULL, "routes counted: %s", buf);
	for (int i = 0; i < WD_NROUTES; i++) {
		char line[2048];

		wd_put(line, sizeof(line), "%s: %s (%s)", routes[i].route, routes[i].status,
		       routes[i].how);
		/* A row the same on every backend (mmap, tee, URING_CMD: guide,
		 * section 2) is said, not warned. */
		if (wd_route_general(&routes[i]))
			wd_info(&r->rep, NULL, "%s", line);
		else if (strcmp(routes[i].status, "counted"))
			wd_warn(&r->rep, line);
	}
	targets = describe_targets(r);
	wd_info(&r->rep, NULL, "targets: %s", targets);
	free(targets);
	if (launcher(r))
		report_jitter(r);
	else if (r->o.jitter_ns)
		wd_jb_report_start(&r->rep, &r->jb.run);
	off = 0;
	buf[0] = 0;
	for (int i = 0; i < r->probe.nlinks; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "",
				r->probe.attached[i]);
	wd_info(&r->rep, NULL, "attached %d programs: %s", r->probe.nlinks, buf);
	if (r->metrics) {
		char *what = wd_metrics_describe(r->metrics);

		wd_info(&r->rep, NULL, "%s", what);
		free(what);
	}
	double total = now_s() - launched;

	wd_info(&r->rep, start_record(r, routes, total),
		"start-up %.3f s (features %.3f, load %.3f, attach %.3f); enforcing, "
		"Ctrl-C to stop",
		total, r->t_features, r->t_load, r->t_attach);
}

/* Run the session to its end; the exit status. */
static int run_session(struct run *r, double launched)
{
	struct wd_session *s = wd_session_new(
		&r->probe, &r->rep, &r->o, r->action, r->o.ncommand ? &r->child : NULL,
		r->guardian.pid > 0 ? &r->guardian : NULL, r->o.state_file ? &r->stopfile : NULL);
	char reason[128];
	struct wd_json *rec;

	if (!s)
		return -1;
	wd_session_set_metrics(s, r->metrics);
	if (interrupted) /* before the session's handler: its stop now */
		raise(SIGINT);
	r->reload = (struct wd_reload){ .argc = r->reload.argc,
					.argv = r->reload.argv,
					.o = &r->o,
					.probe = &r->probe,
					.rep = &r->rep,
					.feats = &r->feats,
					.backend = r->backend,
					.action = r->action };
	wd_session_on_reload(s, wd_reload, &r->reload);
	report_start(r, launched);
	if (r->o.ncommand)
		wd_child_release(&r->child);
	/* A copy: the reason may live in the session, freed by finish(). */
	snprintf(reason, sizeof(reason), "%s", wd_session_run(s));
	wd_session_finish(s); /* closes the probe */
	r->loaded = false;
	if (r->jb.skel) {
		struct wd_jb_counts c;

		wd_jb_counts(&r->jb, &c);
		wd_jb_report_stop(&r->rep, &c);
		wd_jb_close(&r->jb); /* detached before the stop line says so */
	}
	rec = wj_new();
	wj_str(rec, "event", "stop");
	wj_str(rec, "reason", reason);
	if (r->o.ncommand && wd_child_poll(&r->child) < 0) {
		/* --duration or a signal ended ethoswd first: the command goes
		 * on, unlimited (as -p targets do), and is said to. */
		wj_u64(rec, "command_running", r->child.pid);
		wd_info(&r->rep, rec,
			"stopped: %s; all programs detached; the command (pid %d) is still "
			"running, no longer limited",
			reason, r->child.pid);
		return 0;
	}
	wd_info(&r->rep, rec, "stopped: %s; all programs detached", reason);
	return r->o.ncommand ? r->child.status : 0;
}

static void cleanup(struct run *r)
{
	wd_jb_close(&r->jb);
	if (r->loaded)
		wd_probe_close(&r->probe);
	wd_metrics_free(r->metrics);
	r->metrics = NULL;
	wd_child_abort(&r->child);
	wd_guardian_close(&r->guardian);
	/* "=": it serves the tree until the tree exits; if the command has,
	 * the supervisor ends too: reap it. */
	wd_jitter_close(&r->jitter, true);
	if (r->child.done)
		wd_jitter_wait(&r->jitter, 2000);
	wd_stopfile_free(&r->stopfile);
	wd_features_free(&r->feats);
	wd_opts_free(&r->o);
}

/* watchdog.py's subcommands: said so, not "unrecognized arguments". */
static bool research_command(const char *word)
{
	static const char *const words[] = { "record", "replay", "export", "sweep" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(word, words[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static struct run r = { .child = WD_CHILD_INIT,
				.guardian = WD_GUARDIAN_INIT,
				.jitter = WD_JITTER_INIT };
	struct sigaction sa = { .sa_handler = on_startup_sigint, .sa_flags = SA_RESTART };
	double launched = now_s();
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);

	/* Output is line-oriented; a pipe reader (tests, journald) sees each
	 * record as soon as it is written. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && research_command(argv[1]))
		rc = wd_fail("'%s' is one of watchdog.py's research commands (record, replay, "
			     "export, sweep), which ethoswd does not have: run ./watchdog.py %s",
			     argv[1], argv[1]);
	else
		rc = wd_opts_parse(argc, argv, &r.o);
	r.reload.argc = argc;
	r.reload.argv = argv;
	if (rc > 0)
		return 0;
	r.rep.json = r.o.json;
	r.rep.out = stdout;
	if (rc == 0 && r.o.resume_stopped) {
		rc = wd_resume_stopped(r.o.resume_stopped, &r.rep);
		if (rc == 0) {
			cleanup(&r);
			return 0;
		}
	} else if (rc == 0 && choose(&r) == 0 && !interrupted) {
		if (r.o.probe_features) {
			rc = wd_print_features(&r.feats, &r.o, &r.rep);
			cleanup(&r);
			return rc ? 2 : 0;
		}
		if (r.o.ebpf) {
			print_ebpf(&r);
			cleanup(&r);
			return 0;
		}
		if (build_and_attach(&r) == 0 && !interrupted &&
		    (rc = run_session(&r, launched)) >= 0) {
			cleanup(&r);
			return rc;
		}
	}
	if (interrupted) {
		cleanup(&r);
		fprintf(stderr, WD_PROG ": interrupted during start-up; nothing left attached\n");
		return 130;
	}
	char line[2048];

	wd_one_line(wd_last_error(), line, sizeof(line));
	fprintf(stderr, WD_PROG ": error: %s\n", line);
	cleanup(&r);
	return 2;
}
