// SPDX-License-Identifier: GPL-2.0
/*
 * test_front.c - test driver of opts.c, policy.c, policy_json.c, text.c
 * and report.c
 * (the C mirrors of ethoswd/cli.py, policy.py, safetext.py and report.py).
 *
 * Without arguments it runs its own checks and exits 1 on a mismatch.
 * With a command it prints one result, for tests/unit/test_cfront_text.py
 * to compare with the Python modules:
 *   escape HEX | cell WIDTH HEX | oneline HEX | json HEX   (bytes in hex)
 *   n VALUE WIDTH | float VALUE DECIMALS
 *   parse ARGS...      "OK <json of the options>", "ERR <line>" or "EXIT"
 *   privileges         lines "CAPS LAST_CAP TRACEFS|- MAJOR MINOR MEMLOCK|inf UID
 *                      throttle|-" on stdin; "OK" or "ERR <line>" for each
 *   report json|text   a fixed set of records, as report.c writes them
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cgname.h"
#include "errors.h"
#include "labels.h"
#include "opts.h"
#include "policy.h"
#include "policy_json.h"
#include "report.h"
#include "sysenv.h"
#include "text.h"
#include "jitter_bpf_run.h"

static size_t unhex(const char *hex, char *out, size_t len)
{
	size_t n = 0;
	unsigned int b;

	while (hex[0] && hex[1] && n + 1 < len && sscanf(hex, "%2x", &b) == 1) {
		out[n++] = (char)b;
		hex += 2;
	}
	out[n] = '\0';
	return n;
}

/* The policy's notes (warnings at start), which Policy.as_dict() leaves out. */
static char *notes_json(const struct wd_policy *p)
{
	struct wd_jarr *notes = wja_new();

	for (int i = 0; i < p->nnotes; i++)
		wja_str(notes, p->notes[i]);
	return wja_end(notes);
}

static char *opts_json(const struct wd_opts *o)
{
	struct wd_json *j = wj_new();
	struct wd_jarr *a;
	char buf[256];
	int i;

	wj_take(j, "policy", wd_policy_json(&o->policy));
	wj_take(j, "policy_notes", notes_json(&o->policy));
	wj_str(j, "backend", o->backend == WD_BACKEND_AUTO ? "auto" : wd_backend_name(o->backend));
	wj_str(j, "action", wd_action_name(o->action));
	a = wja_new();
	for (i = 0; i < o->npid; i++)
		wja_u64(a, o->pid[i]);
	wj_take(j, "pid", wja_end(a));
	a = wja_new();
	for (i = 0; i < o->ncomm; i++)
		wja_str(a, o->comm[i]);
	wj_take(j, "comm", wja_end(a));
	a = wja_new();
	for (i = 0; i < o->nexclude_comm; i++)
		wja_str(a, o->exclude_comm[i]);
	wj_take(j, "exclude_comm", wja_end(a));
	a = wja_new();
	for (i = 0; i < o->ncommand; i++)
		wja_str(a, o->command[i]);
	wj_take(j, "command", wja_end(a));
	wj_double(j, "interval", o->interval_s, -1);
	if (o->duration_s)
		wj_double(j, "duration", o->duration_s, -1);
	else
		wj_null(j, "duration");
	wj_bool(j, "json", o->json);
	wj_bool(j, "probe_features", o->probe_features);
	wj_u64(j, "map_size", o->map_size);
	wj_str(j, "state_file", o->state_file);
	wj_str(j, "resume_stopped", o->resume_stopped);
	wj_str(j, "metrics_file", o->metrics_file); /* null when NULL */
	if (o->metrics_port) {
		snprintf(buf, sizeof(buf), "%s %d", o->metrics_addr, o->metrics_port);
		wj_str(j, "metrics_listen", buf);
	} else {
		wj_null(j, "metrics_listen");
	}
	wj_u64(j, "metrics_per_cgroup", o->metrics_per_cgroup);
	wd_policy_describe_count(&o->policy, buf, sizeof(buf));
	wj_str(j, "describe_count", buf);
	wj_str(j, "describe_key", wd_policy_describe_key(&o->policy));
	wj_bool(j, "needs_btf", wd_policy_needs_btf(&o->policy));
	if (o->user.set) {
		struct wd_json *u = wj_new();

		wj_str(u, "name", o->user.name);
		wj_u64(u, "uid", o->user.uid);
		wj_u64(u, "gid", o->user.gid);
		a = wja_new();
		for (i = 0; i < o->user.ngroups; i++)
			wja_u64(a, o->user.groups[i]);
		wj_take(u, "groups", wja_end(a));
		wj_take(j, "user", wj_end(u));
	} else {
		wj_null(j, "user");
	}
	if (o->jitter_ns)
		wj_u64(j, "jitter", o->jitter_ns);
	else
		wj_null(j, "jitter");
	wj_str(j, "jitter_mode", o->jitter_mode);
	wj_str(j, "jitter_via", o->jitter_via);
	return wj_end(j);
}

static int cmd_parse(int argc, char **argv)
{
	struct wd_opts o;
	char *s;
	int rc;

	/* argv[0] is the program name (the word after "parse") */
	rc = wd_opts_parse(argc, argv, &o);
	if (rc < 0) {
		printf("ERR %s\n", wd_last_error());
	} else if (rc > 0) {
		printf("EXIT\n");
	} else {
		s = opts_json(&o);
		printf("OK %s\n", s);
		free(s);
	}
	wd_opts_free(&o);
	return 0;
}

/* wd_privilege_problem() of made-up privileges, one per stdin line. */
static void cmd_privileges(void)
{
	char line[512], tracefs[64], memlock[32], action[16];
	unsigned long long caps;
	struct wd_privileges p;

	while (fgets(line, sizeof(line), stdin)) {
		memset(&p, 0, sizeof(p));
		if (sscanf(line, "%llx %d %63s %d %d %31s %u %15s", &caps, &p.last_cap, tracefs,
			   &p.kmajor, &p.kminor, memlock, &p.uid, action) != 8)
			continue;
		p.caps = caps;
		snprintf(p.tracefs, sizeof(p.tracefs), "%s", strcmp(tracefs, "-") ? tracefs : "");
		p.memlock = strcmp(memlock, "inf") ? strtoull(memlock, NULL, 10) : RLIM_INFINITY;
		if (wd_privilege_problem(&p, strcmp(action, "throttle") ? WD_ACT_AUTO :
									  WD_ACT_THROTTLE))
			printf("ERR %s\n", wd_last_error());
		else
			printf("OK\n");
	}
}

/* A fixed set of records: a process-key table and summary, events, and a
 * shared-key (tree) table with shares. */
#define CONTAINER_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void cmd_report(bool json)
{
	struct wd_report r = { json, stdout };
	struct wd_health_counts h = { 0 }, h2 = { 1, 2, 3, 0, 0 };
	struct wd_share sh[4] = {
		{ 300, 300, WD_KEY_TREE, 0, 50, 5, "root\033[2J", "ok", NULL },
		{ 301, 300, WD_KEY_TREE, 0, 7000000, 0, "child", "STOPPED", NULL },
		{ 302, 300, WD_KEY_TREE, 0, 1, 0, "caf\xc3\xa9", "exited", NULL },
		{ 7, 7, WD_KEY_PROCESS, 0, 3, 0, "own", "ok", NULL },
	};
	struct wd_row rows[25], tree[3], lim, cgrows[2];
	struct wd_not_listed nl = { 0, 199001, 400002, 400000, 2, 1 },
			     nl_tree = { 3, 7, 9, 8, 1, 1 };
	struct wd_cgroup box = { .path = "/libpod_parent/libpod-" CONTAINER_ID,
				 .runtime = "podman",
				 .container_id = CONTAINER_ID },
			 odd = { .path = "/we\xffird/\033[2J" };
	int i;

	memset(rows, 0, sizeof(rows));
	for (i = 0; i < 25; i++) {
		rows[i] = (struct wd_row){ .key = WD_KEY_PROCESS,
					   .id = 100 + i,
					   .window = i * 7,
					   .allowed = i * 1000003ULL,
					   .limited = i % 3,
					   .limited_windows = i % 2,
					   .activity = i % 4,
					   .state = "ok",
					   .window_start_ms = -1 };
		snprintf(rows[i].comm, WD_COMM_LEN, i % 5 ? "proc%d" : "\xff\nbad%d", i);
	}
	rows[3].allowed = 123456789012345ULL;
	rows[4].state = "LIMITED";
	lim = rows[5];
	lim.window_start_ms = 4000000000LL;
	lim.cg = &box;
	wd_report_limit(&r, &lim, 100, 500, "deny");
	wd_report_clear(&r, &rows[1]);
	wd_report_exited(&r, &rows[0]);
	wd_report_escalate(&r, &rows[5], 105, true, 4321, 0, "\033]0;x\aevil");
	wd_report_escalate(&r, &rows[7], 107, false, 0, 0, "");
	wd_warn(&r, "a warning\nwith a break");
	wd_report_table(&r, rows, 25, &h, NULL, 0);
	wd_report_summary(&r, rows, 3, &h2, 12.34567, NULL, 0, NULL);
	wd_report_summary(&r, rows, 3, &h, 3600.0, NULL, 0, &nl);
	tree[0] = (struct wd_row){ .shared = true,
				   .key = WD_KEY_TREE,
				   .id = 300,
				   .user = "root",
				   .window = 12,
				   .allowed = 7000051,
				   .limited = 5,
				   .limited_windows = 1,
				   .activity = 9,
				   .state = "STOPPED",
				   .nshares = 3,
				   .shares = sh,
				   .window_start_ms = -1 };
	snprintf(tree[0].comm, WD_COMM_LEN, "%s", "root\033[2J");
	tree[2] = (struct wd_row){ .shared = true,
				   .key = WD_KEY_TREE,
				   .id = 99999999,
				   .uid = 4242,
				   .state = "LIMITED",
				   .name = "/a/very/long/cgroup/path.slice",
				   .window_start_ms = -1 };
	/* A caller that fell back to a budget of its own. */
	tree[1] = (struct wd_row){ .shared = true,
				   .key = WD_KEY_PROCESS,
				   .id = 7,
				   .allowed = 3,
				   .activity = 9,
				   .state = "ok",
				   .nshares = 1,
				   .shares = sh + 3,
				   .window_start_ms = -1 };
	snprintf(tree[1].comm, WD_COMM_LEN, "%s", "own");
	wd_report_limit(&r, &tree[2], 16, 500, "throttle");
	wd_report_exited(&r, &tree[0]);
	wd_report_escalate(&r, &tree[0], 301, true, 0, -2, "");
	wd_report_limit(&r, &tree[1], 16, 500, "throttle");
	wd_report_table(&r, tree + 1, 1, &h, sh + 3, 1);
	wd_report_table(&r, tree, 3, &h, sh, 4);
	wd_report_summary(&r, tree, 3, &h, 1.0, sh, 4, NULL);
	wd_report_summary(&r, tree, 3, &h, 1.0, sh, 4, &nl_tree);
	nl_tree = (struct wd_not_listed){ .processes = 5 };
	wd_report_summary(&r, tree, 3, &h, 1.0, sh, 4, &nl_tree);
	wd_report_table(&r, tree, 0, &h, sh, 0);
	/* the cgroup key: a container's budget and a hostile path's */
	for (i = 0; i < 3; i++) {
		sh[i].cg = i ? &odd : &box;
		sh[i].budget_key = WD_KEY_CGROUP;
		sh[i].budget = i ? 77 : 4242;
		sh[i].budget_uid = i ? 1000 : 0;
	}
	cgrows[0] = (struct wd_row){ .shared = true,
				     .key = WD_KEY_CGROUP,
				     .id = 4242,
				     .uid = 0,
				     .user = "root",
				     .allowed = 16,
				     .limited = 300,
				     .limited_windows = 3,
				     .state = "LIMITED",
				     .name = box.path,
				     .cg = &box,
				     .nshares = 1,
				     .shares = sh,
				     .window_start_ms = -1 };
	cgrows[1] = (struct wd_row){ .shared = true,
				     .key = WD_KEY_CGROUP,
				     .id = 77,
				     .uid = 1000,
				     .allowed = 5,
				     .state = "ok",
				     .name = odd.path,
				     .cg = &odd,
				     .nshares = 2,
				     .shares = sh + 1,
				     .window_start_ms = -1 };
	wd_report_limit(&r, &cgrows[0], 16, 500, "monitor");
	wd_report_table(&r, cgrows, 2, &h, sh, 3);
}

/* jitter_bpf_report.c: `jb choose OK DETAIL ARGS...` prints the mode a run
 * of ARGS gets when the write probe said OK (0/1) with DETAIL; `jb features
 * OK DETAIL` the BPF part of --probe-features, lines then JSON. */
static int cmd_jb(int argc, char **argv)
{
	bool ok = argc > 2 && !strcmp(argv[1], "1");
	struct wd_jb_run run = { .via = "" };
	struct wd_opts o;
	char *lines[64], *s;
	int n;

	if (argc < 3)
		return 2;
	if (!strcmp(argv[0], "features")) {
		n = wd_jb_features_lines(ok, argv[2], lines, 64);
		for (int i = 0; i < n; i++) {
			printf("%s\n", lines[i]);
			free(lines[i]);
		}
		s = wd_jb_features_json(ok, argv[2]);
		printf("%s\n", s);
		free(s);
		return 0;
	}
	if (strcmp(argv[0], "choose") || argc < 4)
		return 2;
	if (wd_opts_parse(argc - 3, argv + 3, &o) < 0)
		printf("ERR %s\n", wd_last_error());
	else if (wd_jb_choose_via(o.jitter_ns, o.jitter_mode, o.jitter_via, o.ncommand > 0, ok,
				  argv[2], &run))
		printf("ERR %s\n", wd_last_error());
	else
		printf("OK %s | %s | %u\n", run.via, run.why, run.jfrac);
	wd_opts_free(&o);
	return 0;
}

static int failures;

static void expect(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want)) {
		fprintf(stderr, "FAIL %s: got [%s] want [%s]\n", what, got, want);
		failures++;
	}
}

static void self_test(void)
{
	char buf[256], *s;
	struct wd_json *j;
	struct wd_opts o;
	char *bad[] = { "ethoswd", "--max-calls", "0", NULL };

	expect("escape", wd_escape("a\\\n\033\xc3\xa9", 6, buf, sizeof(buf)),
	       "a\\\\\\n\\x1b\\xc3\\xa9");
	expect("cell", wd_cell("\033\033\033\033\033", 5, 16, buf, sizeof(buf)),
	       "\\x1b\\x1b\\x1b+   ");
	expect("cell pad", wd_cell("ab", 2, 4, buf, sizeof(buf)), "ab  ");
	expect("one_line", wd_one_line("x\ny\xe2\x80\xae\xff\\", buf, sizeof(buf)),
	       "x\\ny\\u202e\\xff\\");
	expect("n", wd_num(1234567, 6, buf, sizeof(buf)), "1.2M");
	expect("n short", wd_num(123456, 6, buf, sizeof(buf)), "123456");
	expect("float", wd_json_double(1.5, 3, buf, sizeof(buf)), "1.5");
	expect("float 3.0", wd_json_double(3, 3, buf, sizeof(buf)), "3.0");
	expect("float .123", wd_json_double(0.12345, 3, buf, sizeof(buf)), "0.123");
	expect("float 1e16", wd_json_double(1e16, -1, buf, sizeof(buf)), "1e+16");
	expect("float 1e-5", wd_json_double(1e-5, -1, buf, sizeof(buf)), "1e-05");
	j = wj_new();
	wj_str(j, "b", "\xf0\x9f\x98\x80\x7f\xff\"");
	wj_u64(j, "a", 1);
	wj_null(j, "c");
	s = wj_end(j);
	expect("json", s, "{\"a\": 1, \"b\": \"\\ud83d\\ude00\\u007f\\ufffd\\\"\", \"c\": null}");
	free(s);
	wd_opts_parse(3, bad, &o);
	expect("parse", wd_last_error(), "--max-calls 0 is too small: it must be at least 1");
	wd_opts_free(&o);
}

int main(int argc, char **argv)
{
	char raw[4096], buf[16384];
	size_t n;

	if (argc < 2) {
		self_test();
		printf("%s\n", failures ? "FAILED" : "ok");
		return failures ? 1 : 0;
	}
	if (!strcmp(argv[1], "escape") && argc == 3) {
		n = unhex(argv[2], raw, sizeof(raw));
		printf("%s\n", wd_escape(raw, n, buf, sizeof(buf)));
	} else if (!strcmp(argv[1], "cell") && argc == 4) {
		n = unhex(argv[3], raw, sizeof(raw));
		printf("%s\n", wd_cell(raw, n, atoi(argv[2]), buf, sizeof(buf)));
	} else if (!strcmp(argv[1], "oneline") && argc == 3) {
		unhex(argv[2], raw, sizeof(raw));
		printf("%s\n", wd_one_line(raw, buf, sizeof(buf)));
	} else if (!strcmp(argv[1], "json") && argc == 3) {
		char *s;

		n = unhex(argv[2], raw, sizeof(raw));
		s = wd_json_quote(raw, n);
		printf("%s\n", s);
		free(s);
	} else if (!strcmp(argv[1], "n") && argc == 4) {
		printf("%s\n",
		       wd_num(strtoull(argv[2], NULL, 10), atoi(argv[3]), buf, sizeof(buf)));
	} else if (!strcmp(argv[1], "float") && argc == 4) {
		printf("%s\n",
		       wd_json_double(strtod(argv[2], NULL), atoi(argv[3]), buf, sizeof(buf)));
	} else if (!strcmp(argv[1], "parse")) {
		return cmd_parse(argc - 2, argv + 2);
	} else if (!strcmp(argv[1], "jb") && argc >= 3) {
		return cmd_jb(argc - 2, argv + 2);
	} else if (!strcmp(argv[1], "privileges") && argc == 2) {
		cmd_privileges();
	} else if (!strcmp(argv[1], "report") && argc == 3) {
		cmd_report(!strcmp(argv[2], "json"));
	} else {
		fprintf(stderr,
			"usage: test_front [escape HEX | cell W HEX | oneline HEX |"
			" json HEX | n V W | float X N | parse ARGS... | report json|text]\n");
		return 2;
	}
	return 0;
}
