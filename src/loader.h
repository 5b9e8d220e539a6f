/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loader.h - the probe as ethoswd loads it: the skeleton of the CO-RE
 * object built from probe/watchdog.bpf.c, its settings, maps and links
 * (the C counterpart of ethoswd/probe.py).
 */
#ifndef ETHOSWD_LOADER_H
#define ETHOSWD_LOADER_H

#include "opts.h"
#include "report.h"
#include "kbtf.h"

#include "corebtf.h"
#include "detach.h"

/* What a run loads: fixed before the load (read-only data and sizes). */
struct wd_probe_cfg {
	int backend; /* WD_BACKEND_LSM/KPROBE/TRACEPOINT */
	int action;  /* WD_ACT_* */
	int key;     /* WD_KEY_* */
	__u32 self_tgid, guard_tgid;
	bool targets; /* -p or -- CMD */
	bool comm_in, comm_out, exclude_exe, count_fs, count_files;
	const char *uring_tp; /* "io_uring:io_uring_submit_req", or NULL */
	__u32 map_size;
	const struct wd_kbtf *btf; /* the kernel's BTF as features read it */
	/* Typed file reads: bpf_rdonly_cast's and struct file's BTF ids (the
	 * kernel has the kfunc and the run reads files), else 0. */
	__u32 cast_func_id, file_btf_id;
};

struct wd_probe {
	struct watchdog_bpf *skel;
	struct bpf_link *links[WD_MAX_LINKS];
	char attached[WD_MAX_LINKS][80]; /* "kind:where", as probe.py */
	int nlinks;
	int key;
	double load_s, attach_s;
};

/* Open the object, set its settings, choose its programs and map sizes,
 * load it (the verifier runs here); 0 or -1 with wd_fail() set. */
int wd_probe_load(struct wd_probe *p, const struct wd_probe_cfg *c);
/* Limits, filters and the policy's sets; before wd_probe_attach(). */
/* uids[i]: the real UID targets[i] runs as (a shared key's tree budget
 * and members are that user's), WD_UID_FROM_PROC to read it from /proc
 * (replaced by what was read). */
int wd_probe_configure(struct wd_probe *p, const struct wd_opts *o, const __u32 *targets,
		       __u32 *uids, int ntargets);
#define WD_UID_FROM_PROC 0xffffffffU
int wd_probe_add_target(struct wd_probe *p, __u32 tgid, __u32 uid);
/* Attach every program of the backend: 0 or -1 (nothing left attached). */
int wd_probe_attach(struct wd_probe *p, const struct wd_probe_cfg *c);
void wd_probe_drop_exited(struct wd_probe *p, const __u32 *targets, const __u32 *uids, int n);
void wd_probe_close(struct wd_probe *p);
int wd_probe_map_fd(struct wd_probe *p, const char *name);
void wd_probe_health(struct wd_probe *p, struct wd_health_counts *h);

#endif /* ETHOSWD_LOADER_H */
