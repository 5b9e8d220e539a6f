// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_bpf_report.c - the words of --jitter's BPF modes, as
 * ethoswd/jitter_cover.py and jitter_bpf.py say them: which mode a run
 * gets (--jitter-via), the coverage table (probe/jitter_cover.h, compiled
 * in), the JITTER block's BPF part of --probe-features, and the start and
 * stop lines.  No libbpf here: opts.c's checks and the text tests use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "report.h"
#include "text.h"
#include "jitter_bpf_run.h"
#include "../probe/jitter_cover.h"

#define NROWS (sizeof(wd_jb_rows) / sizeof(wd_jb_rows[0]))

static const char *us(__u64 ns, char *buf, size_t len)
{
	snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000));
	return buf;
}

int wd_jb_check_via(__u64 grain_ns, const char *mode, const char *via, bool command)
{
	char g[32], m[32];
	bool write = !strcmp(via, "write");

	if (!strcmp(via, "launcher") && !command)
		return wd_fail("--jitter-via launcher needs -- CMD: the launcher mediates only a "
			       "command it starts");
	if ((!strcmp(via, "quantize") || (write && !strcmp(mode, "pause"))) &&
	    grain_ns > WD_JB_SPIN_MAX_NS)
		return wd_fail("--jitter %s with --jitter-via %s%s: a reader is held at most %s a "
			       "read in a BPF mode: give a grain of at most %s",
			       us(grain_ns, g, sizeof(g)), via,
			       write ? " and --jitter-mode pause" : "",
			       us(WD_JB_SPIN_MAX_NS, m, sizeof(m)), m);
	return 0;
}

int wd_jb_choose_via(__u64 grain_ns, const char *mode, const char *via, bool command, bool write_ok,
		     const char *detail, struct wd_jb_run *r)
{
	char g[32], m[32];

	if (wd_jb_check_via(grain_ns, mode, via, command))
		return -1;
	if (!strcmp(via, "launcher") || (!strcmp(via, "auto") && command)) {
		snprintf(r->via, sizeof(r->via), "launcher");
		snprintf(r->why, sizeof(r->why), "%s",
			 !strcmp(via, "auto") ? "-- CMD: ethos-clockd mediates the command's tree" :
						"--jitter-via launcher");
		return 0;
	}
	if (!strcmp(via, "write") && !write_ok)
		return wd_fail("--jitter-via write: this kernel refuses bpf_probe_write_user (%s); "
			       "use --jitter-via quantize",
			       detail);
	if (strcmp(via, "auto")) {
		snprintf(r->via, sizeof(r->via), "%s", via);
		snprintf(r->why, sizeof(r->why), "--jitter-via %s", via);
	} else if (write_ok) {
		if (wd_jb_check_via(grain_ns, mode, "write", false))
			return -1;
		snprintf(r->via, sizeof(r->via), "write");
		snprintf(r->why, sizeof(r->why),
			 "auto: the kernel allows bpf_probe_write_user (%s)", detail);
	} else if (grain_ns > WD_JB_SPIN_MAX_NS) {
		return wd_fail("--jitter %s: this kernel refuses bpf_probe_write_user (%s), and "
			       "quantize mode holds a reader at most %s a read: give a grain of at "
			       "most %s",
			       us(grain_ns, g, sizeof(g)), detail,
			       us(WD_JB_SPIN_MAX_NS, m, sizeof(m)), m);
	} else {
		snprintf(r->via, sizeof(r->via), "quantize");
		snprintf(r->why, sizeof(r->why),
			 "auto: the kernel refuses bpf_probe_write_user (%s)", detail);
	}
	r->grain = grain_ns;
	r->mode = mode;
	r->pause = !strcmp(r->via, "write") && !strcmp(mode, "pause");
	r->jfrac = !strcmp(r->via, "write") && !r->pause ? 1U << 16 : 0;
	return 0;
}

/* Row i in mode `via`: 0 (skipped: no status in that mode) or 1. */
static int row(size_t i, const char *via, bool system_wide, const char **status, const char **how)
{
	const struct wd_jb_row *w = &wd_jb_rows[i];
	bool wr = !strcmp(via, "write");

	*status = wr ? w->w_status : w->q_status;
	*how = wr ? w->w_how : w->q_how;
	if (!**status)
		return 0;
	if (w->uprobe && system_wide && strcmp(*status, "out of reach")) {
		*status = "out of reach";
		*how = WD_JB_NO_UPROBES;
	}
	return 1;
}

static char *rows_json(const char *via, bool system_wide)
{
	struct wd_jarr *a = wja_new();
	const char *st, *how;

	for (size_t i = 0; i < NROWS; i++) {
		struct wd_json *j;

		if (!row(i, via, system_wide, &st, &how))
			continue;
		j = wj_new();
		wj_str(j, "source", wd_jb_rows[i].source);
		wj_str(j, "status", st);
		wj_str(j, "how", how);
		wja_take(a, wj_end(j));
	}
	return wja_end(a);
}

int wd_jb_features_lines(bool write_ok, const char *detail, char **out, int max)
{
	static const char *const vias[] = { "write", "quantize" };
	char m[32];
	const char *st, *how;
	int n = 0;

#define LINE(...)                                                   \
	do {                                                        \
		if (n < max && asprintf(&out[n], __VA_ARGS__) >= 0) \
			n++;                                        \
	} while (0)
	LINE("  BPF modes (-p, --comm, system-wide; --jitter-via write|quantize):");
	LINE("    write: %s (%s)", write_ok ? "available" : "refused", detail);
	LINE("    quantize: available (grains up to %s)", us(WD_JB_SPIN_MAX_NS, m, sizeof(m)));
	for (int v = 0; v < 2; v++) {
		LINE("  %s mode:", vias[v]);
		for (size_t i = 0; i < NROWS; i++)
			if (row(i, vias[v], false, &st, &how))
				LINE("    %s: %s (%s)", wd_jb_rows[i].source, st, how);
	}
#undef LINE
	return n;
}

char *wd_jb_features_json(bool write_ok, const char *detail)
{
	struct wd_json *j = wj_new(), *w = wj_new(), *q = wj_new(), *r = wj_new();

	wj_bool(w, "available", write_ok);
	wj_str(w, "detail", detail);
	wj_take(j, "write", wj_end(w));
	wj_bool(q, "available", true);
	wj_u64(q, "max_grain_ns", WD_JB_SPIN_MAX_NS);
	wj_take(j, "quantize", wj_end(q));
	wj_take(r, "write", rows_json("write", false));
	wj_take(r, "quantize", rows_json("quantize", false));
	wj_take(j, "rows", wj_end(r));
	return wj_end(j);
}

/* jitter_cover.describe_targets() */
static char *describe_targets(const struct wd_jb_run *r)
{
	struct wd_buf b = { 0 };
	int parts = 0;

	if (r->system_wide) {
		wb_puts(&b, "every process: system calls only (a uprobe on every process would "
			    "add about 13 us to each of its clock reads)");
		return wb_take(&b);
	}
	if (r->command_pid > 0) {
		wb_printf(&b, "command (pid %d) and its children", (int)r->command_pid);
		parts++;
	}
	if (r->npids) {
		wb_puts(&b, parts++ ? "; pid " : "pid ");
		for (int i = 0; i < r->npids; i++)
			wb_printf(&b, "%s%u", i ? "," : "", r->pids[i]);
		wb_puts(&b, " and their children");
	}
	if (r->ncomms) {
		wb_puts(&b, parts++ ? "; comm " : "comm ");
		for (int i = 0; i < r->ncomms; i++)
			wb_printf(&b, "%s%s", i ? "," : "", r->comms[i]);
	}
	wb_puts(&b, ": system calls from the start (a new process: from its fork), libc's "
		    "clock_gettime once its uprobe is attached");
	return wb_take(&b);
}

void wd_jb_report_start(struct wd_report *rep, const struct wd_jb_run *r)
{
	bool write = !strcmp(r->via, "write");
	const char *status = write ? "clamped" : "quantized", *st, *how;
	char hold[128], *targets;
	struct wd_buf b = { 0 };

	snprintf(hold, sizeof(hold),
		 "readers held to switch points every grain, at most %llu ns a read",
		 (unsigned long long)(r->grain < WD_JB_SPIN_MAX_NS ? r->grain : WD_JB_SPIN_MAX_NS));
	if (write)
		wd_info(rep, NULL,
			"jitter: grain %llu ns, BPF mode %s%s (%s); J %.4g, with a "
			"secret drawn for this run%s%s",
			(unsigned long long)r->grain, r->via, r->pause ? ", pause" : "", r->why,
			r->jfrac / 65536.0, r->pause ? "; " : "", r->pause ? hold : "");
	else
		wd_info(rep, NULL, "jitter: grain %llu ns, BPF mode %s (%s); %s",
			(unsigned long long)r->grain, r->via, r->why, hold);
	targets = describe_targets(r);
	wd_info(rep, NULL, "jitter targets: %s", targets);
	free(targets);
	for (size_t i = 0; i < NROWS; i++)
		if (row(i, r->via, r->system_wide, &st, &how) && !strcmp(st, status))
			wb_printf(&b, "%s%s", b.len ? "; " : "", wd_jb_rows[i].source);
	targets = wb_take(&b);
	wd_info(rep, NULL, "clocks %s: %s", status, targets);
	free(targets);
	for (size_t i = 0; i < NROWS; i++) {
		char line[1024];

		if (!row(i, r->via, r->system_wide, &st, &how) || !strcmp(st, status))
			continue;
		snprintf(line, sizeof(line), "%s: %s (%s)", wd_jb_rows[i].source, st, how);
		wd_warn(rep, line);
	}
}

char *wd_jb_start_json(const struct wd_jb_run *r)
{
	struct wd_json *j = wj_new();

	wj_u64(j, "grain_ns", r->grain);
	wj_str(j, "mode", r->mode);
	wj_str(j, "via", r->via);
	wj_str(j, "why", r->why);
	wj_u64(j, "jfrac", r->jfrac);
	wj_int(j, "uprobes", r->uprobes);
	wj_take(j, "clocks", rows_json(r->via, r->system_wide));
	return wj_end(j);
}

void wd_jb_report_stop(struct wd_report *rep, const struct wd_jb_counts *c)
{
	struct wd_json *j = wj_new();
	static const char *const names[] = { "spins",	"spin_ns",	"capped",     "uncal",
					     "other",	"writes",	"write_fail", "lost",
					     "ev_lost", "targets_full", "reads" };
	double mean = c->forks ? c->attach_ns_sum / 1000.0 / c->forks : 0;

	wj_str(j, "event", "jitter");
	for (int i = 0; i < WD_JB_H_SLOTS; i++)
		wj_u64(j, names[i], c->h[i]);
	wj_int(j, "uprobe_processes", c->uprobe_processes);
	wj_int(j, "uprobe_failed", c->uprobe_failed);
	wj_int(j, "forks_attached", c->forks);
	wj_double(j, "attach_us_mean", mean, 1);
	wj_double(j, "attach_us_max", c->attach_ns_max / 1000.0, 1);
	wd_info(rep, j,
		"jitter: %llu target clock reads; %llu held (%llu ns in all, %llu short of the "
		"switch point), %llu CPU-time reads not held (no calibration yet), %llu of other "
		"processes' CPU clocks; %llu values rewritten, %llu writes failed, %llu values not "
		"seen; %llu process events lost, %llu new processes not recorded; uprobes on %d "
		"processes (%d failed); %d new processes attached %.1f us after their fork on "
		"average, at most %.1f us",
		c->h[WD_JB_H_READS], c->h[WD_JB_H_SPINS], c->h[WD_JB_H_SPIN_NS],
		c->h[WD_JB_H_CAPPED], c->h[WD_JB_H_UNCAL], c->h[WD_JB_H_OTHER],
		c->h[WD_JB_H_WRITES], c->h[WD_JB_H_WRITE_FAIL], c->h[WD_JB_H_LOST],
		c->h[WD_JB_H_EV_LOST], c->h[WD_JB_H_TARGETS_FULL], c->uprobe_processes,
		c->uprobe_failed, c->forks, mean, c->attach_ns_max / 1000.0);
}
