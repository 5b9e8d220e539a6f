/* SPDX-License-Identifier: GPL-2.0 */
/*
 * opts.h - the command line as ethoswd reads it (opts.c; ethoswd/cli.py).
 */
#ifndef ETHOSWD_OPTS_H
#define ETHOSWD_OPTS_H

#include <linux/types.h>
#include <stdbool.h>

#include "labels.h"
#include "policy.h"
#include "runas.h"

#define WD_METRICS_SERIES_MAX 1000 /* --metrics-per-cgroup (cli.py METRICS_SERIES_MAX) */

struct wd_opts {
	int backend; /* enum wd_backend */
	int action;  /* WD_ACT_* or WD_ACT_AUTO */
	int npid;
	__u32 pid[WD_LIST_MAX];
	int ncomm;
	char comm[WD_LIST_MAX][WD_COMM_LEN];
	int nexclude_comm;
	char exclude_comm[WD_LIST_MAX][WD_COMM_LEN];
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

/* Parse argv (argv[0] is the program); 0 ok, 1 --help/--version printed
 * (exit 0), -1 on a bad option (wd_fail() holds the line). */
int wd_opts_parse(int argc, char **argv, struct wd_opts *o);
void wd_opts_free(struct wd_opts *o);

#endif /* ETHOSWD_OPTS_H */
