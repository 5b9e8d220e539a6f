/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_bpf_run.h - --jitter's BPF modes in ethoswd (the C counterpart of
 * ethoswd/jitter_cover.py and jitter_bpf.py): the run's choice and what
 * it reports (jitter_bpf_report.c, no libbpf), and the loader of
 * probe/jitter.bpf.c's CO-RE object (jitter_bpf.c), with the per-process
 * libc uprobes (jitter_bpf_attach.c).
 */
#ifndef ETHOSWD_JITTER_BPF_RUN_H
#define ETHOSWD_JITTER_BPF_RUN_H

#include <pthread.h>
#include <sys/types.h>

#include "labels.h"
#include "report.h"
#include "../probe/jitter_bpf.h"

/* --jitter-via's refusals that need no kernel (jitter_bpf_report.c,
 * jitter_cover.py check_via): 0, or -1 with wd_fail(). */
int wd_jb_check_via(__u64 grain_ns, const char *mode, const char *via, bool command);

/* What one BPF-mode run is: chosen by wd_jb_choose_via(), then filled by
 * wd_jb_start() (targets) and read by the reports. */
struct wd_jb_run {
	char via[16];	  /* "write", "quantize" (or "launcher": not a BPF mode) */
	char why[1024];	  /* why that mode */
	__u64 grain;	  /* ns */
	const char *mode; /* --jitter-mode */
	bool pause;	  /* write mode with pause: readers held too */
	__u32 jfrac;	  /* J * 65536 of the clamp */
	bool system_wide;
	const __u32 *pids; /* -p targets (without the command's pid) */
	int npids;
	pid_t command_pid; /* -- CMD with a BPF mode, else 0 */
	const char (*comms)[WD_COMM_LEN];
	int ncomms;
	int uprobes; /* processes with uprobes at the start */
};

/* The stop line's counts. */
struct wd_jb_counts {
	__u64 h[WD_JB_H_SLOTS];
	int uprobe_processes, uprobe_failed, forks;
	__u64 attach_ns_sum, attach_ns_max;
};

/* ---- jitter_bpf_report.c ------------------------------------------------ */
/* The mode of a --jitter run (jitter_cover.choose_via): r->via "launcher"
 * for -- CMD's supervisor, else the BPF mode; 0, or -1 with wd_fail(). */
int wd_jb_choose_via(__u64 grain_ns, const char *mode, const char *via, bool command, bool write_ok,
		     const char *detail, struct wd_jb_run *r);
/* --probe-features: the BPF part of the JITTER block (malloc'ed lines,
 * their number) and its JSON member. */
int wd_jb_features_lines(bool write_ok, const char *detail, char **out, int max);
char *wd_jb_features_json(bool write_ok, const char *detail);
void wd_jb_report_start(struct wd_report *rep, const struct wd_jb_run *r);
char *wd_jb_start_json(const struct wd_jb_run *r);
void wd_jb_report_stop(struct wd_report *rep, const struct wd_jb_counts *c);

/* ---- jitter_bpf.c: the loader ------------------------------------------- */
/* Does a tracepoint program calling bpf_probe_write_user load here?  1 or
 * 0, with the reason (and the lockdown level) in detail. */
int wd_jb_probe_write(char *detail, size_t len);

struct jitter_bpf;
struct bpf_link;
struct ring_buffer;
struct wd_kbtf;

/* One process's libc uprobes. */
struct wd_jb_proc {
	__u32 pid;
	int n;
	struct bpf_link *links[4];
};

struct wd_jb {
	struct wd_jb_run run;
	struct jitter_bpf *skel;
	struct bpf_link *links[16]; /* tracepoints */
	int nlinks;
	struct ring_buffer *rb;
	pthread_t thread;
	bool thread_on;
	volatile int stop;
	pthread_mutex_t lock;
	struct wd_jb_proc *procs;
	int nprocs, cap;
	int failed, forks;
	__u64 attach_ns_sum, attach_ns_max;
	__s64 offs[WD_JB_NOFF];
	bool offs_set;
	struct { /* libc files seen: their uprobe offsets */
		dev_t dev;
		ino_t ino;
		__u64 gettime, getres;
	} libc[8];
	int nlibc;
};

struct wd_opts;
/* Load, fill, attach (the limiter is attached already); 0, or -1 with
 * wd_fail() and nothing left attached.  j->run from wd_jb_choose_via(). */
int wd_jb_start(struct wd_jb *j, const struct wd_opts *o, const __u32 *pids, int npids,
		pid_t command_pid, const struct wd_kbtf *btf);
void wd_jb_counts(struct wd_jb *j, struct wd_jb_counts *c);
void wd_jb_close(struct wd_jb *j); /* safe on a zeroed struct, and twice */

/* ---- jitter_bpf_attach.c ------------------------------------------------ */
/* The file offsets of clock_gettime and clock_getres in an ELF64 shared
 * object (jitter_bpf.py elf_symbol_offsets): 0, or -1. */
int wd_jb_elf_offsets(const char *path, __u64 *gettime, __u64 *getres);
/* The libc process `pid` maps, as a path the watchdog can open (through
 * /proc/PID/root in another root): 0, or -1 if none is mapped. */
int wd_jb_libc_of(pid_t pid, char *path, size_t len);
/* Attach the uprobes of the run's mode to one process: 0 or -1. */
int wd_jb_attach_pid(struct wd_jb *j, __u32 pid);
void wd_jb_detach_pid(struct wd_jb *j, __u32 pid);

#endif /* ETHOSWD_JITTER_BPF_RUN_H */
