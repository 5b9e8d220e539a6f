/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wdfeatures.h - what this kernel can do, and the choice of backend and
 * action (ethoswd/features.py): probing in features.c, the decisions in
 * choose.c, the --probe-features output in features_report.c.
 *
 * Every feature is tested for real, as the Python front end does: tiny
 * programs are loaded through bpf(2), tracefs / securityfs / debugfs and
 * the kernel's BTF are read.  Each feature is yes/no plus a detail that
 * is word for word the Python's, so both front ends explain a kernel the
 * same way.
 */
#ifndef ETHOSWD_FEATURES_H
#define ETHOSWD_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

#include "jitter_report.h"
#include "opts.h"
#include "report.h"

struct wd_kbtf;

struct wd_feature {
	const char *name;
	bool ok;
	char detail[512];
};

/* Indexes of wd_features.feat, in the order of Features.all(). */
enum wd_feature_id {
	WD_F_X86_64,
	WD_F_BPF,
	WD_F_CMPXCHG,
	WD_F_RINGBUF,
	WD_F_TRACEPOINTS,
	WD_F_URING,
	WD_F_CGROUP2,
	WD_F_SEND_SIGNAL,
	WD_F_SEND_SIGNAL_THREAD,
	WD_F_KPROBES,
	WD_F_OVERRIDE,
	WD_F_ERROR_INJECTION,
	WD_F_OVERRIDE_PATH,
	WD_F_BTF,
	WD_F_LSM_ACTIVE,
	WD_F_LSM_LOAD,
	WD_F_FILE_LOOKUP,
	WD_F_TYPED_FILE,
	WD_F_SIGCONT,
	WD_NFEATURES
};

struct wd_features {
	char kernel[128];   /* "6.18.44 (x86_64)": release (machine) */
	char uring_tp[64];  /* "io_uring:io_uring_submit_req" or "" */
	char uring_ops[96]; /* io_uring's read opcodes here: "READ, READV, ..." */
	struct wd_feature feat[WD_NFEATURES];
	struct wd_kbtf *btf; /* the kernel's BTF (kbtf.c), or NULL */
	/* WD_F_TYPED_FILE: bpf_rdonly_cast's and struct file's BTF ids */
	__u32 cast_func_id, file_btf_id;
};

/* ---- probing (features.c) ---------------------------------------------- */

/* Probe the kernel; always 0 (a missing feature is a "no", not an error).
 * all: every feature (--probe-features); else a feature no answer can
 * depend on is left unprobed ("override takes effect" when the kprobe
 * backend already lacks bpf_override_return or error injection). */
int wd_features_probe(struct wd_features *f, bool all);
void wd_features_free(struct wd_features *f);
/* ---- decisions (choose.c) ---------------------------------------------- */

/* NULL if the backend / action works here, else "feature: detail" (or
 * the Python's sentence).  The text lives in a static buffer per backend
 * (per action for wd_action_problem), valid until the next call for it. */
const char *wd_backend_problem(const struct wd_features *f, int backend);
const char *wd_action_problem(const struct wd_features *f, int backend, int action);
const char *wd_key_problem(const struct wd_features *f, int key);

/* features.choose(): resolve WD_BACKEND_AUTO / WD_ACT_AUTO.  0 with the
 * choice and its reason in `why`; -1 with the SetupError's text in
 * wd_fail() (and in `why`). */
int wd_choose(const struct wd_features *f, int backend, int action, int *out_backend,
	      int *out_action, char *why, size_t len);

struct wd_route {
	char route[96];
	char status[32];
	char how[256];
};
/* features.routes(): always WD_NROUTES rows. */
#define WD_NROUTES 8
int wd_routes(const struct wd_features *f, int backend, int action,
	      struct wd_route out[WD_NROUTES]);
/* features.GENERAL_ROUTES: a row the same on every backend and action. */
bool wd_route_general(const struct wd_route *rt);
/* The rows as JSON text: [{"route", "status", "how"}, ...] (malloc'ed). */
char *wd_routes_json(const struct wd_route rt[WD_NROUTES]);

/* auto's order of actions: deny, throttle, kill, monitor. */
#define WD_NACTION_ORDER 4
extern const int wd_action_order[WD_NACTION_ORDER];

/* main._summary_line */
void wd_summary_line(const struct wd_features *f, char *buf, size_t len);

/* ---- --probe-features (features_report.c) ------------------------------ */

/* main.print_features: --probe-features, text or one JSON record. */
int wd_print_features(const struct wd_features *f, const struct wd_opts *o, struct wd_report *r);

/* Load a tiny program of BPF program type `type` and close it, as the
 * feature checks do (--jitter's write probe, jitter_bpf.c): true, or false
 * with the errno and the verifier's reason in detail. */
struct bpf_insn;
bool wd_probe_prog(int type, const struct bpf_insn *insns, size_t n, char *detail, size_t len);

/* The supervisor's coverage rows (jitter_report.c) as JSON text. */
struct wd_jrow;
char *wd_jrows_json(const struct wd_jrow *rows, int n); /* [{source, status, how}] */

#endif /* ETHOSWD_FEATURES_H */
