/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_bpf.h - the layout shared by probe/jitter.bpf.c (the BPF modes of
 * --jitter) and its two loaders, ethoswd/jitter_bpf.py (BCC) and
 * src/jitter_bpf.c (libbpf).  Plain #defines and fixed-width structs only:
 * the Python side reads the numbers with abi.map_defines().
 *
 * Two modes (docs/jitter_bpf.md):
 *   write     the value a clock read returned is replaced with the keyed
 *             clamp's at the read's exit (bpf_probe_write_user); with
 *             pause the reader is also held to the switch point first
 *   quantize  the value is left alone; the reader is held (a bounded
 *             spin in the BPF program) until the next switch point of the
 *             clock's timeline, so the read happens there
 */
#ifndef WD_JITTER_BPF_H
#define WD_JITTER_BPF_H

#define WD_JB_QUANTIZE 1
#define WD_JB_WRITE    2

/* A spin never lasts longer than this (the kernel here does not preempt
 * kernel code: the cap bounds the latency a read adds for everyone else
 * on its CPU), nor longer than one grain. */
#define WD_JB_SPIN_MAX_NS 100000ULL
/* Loop bound of a spin: 4096 turns of four clock reads (about 150 ns a
 * turn here, 20-40 ns in a fast machine) outlast WD_JB_SPIN_MAX_NS; a spin
 * that runs out of turns first is counted (WD_JB_H_CAPPED).  Each turn is
 * one branch the verifier follows: it allows 8192 in a row. */
#define WD_JB_SPIN_TURNS  4096
/* Threads summed for a process's CPU time (more: the rest is not seen). */
#define WD_JB_MAX_THREADS 64

/* Entries: targets (processes), pending reads (threads inside one). */
#define WD_JB_MAX_TARGETS 65536
#define WD_JB_MAX_PENDING 10240

/* Per-CPU health counters (jb_health). */
#define WD_JB_H_SPINS	     0	/* reads held to a switch point */
#define WD_JB_H_SPIN_NS	     1	/* ns spent holding them */
#define WD_JB_H_CAPPED	     2	/* held less than needed (cap, loop bound) */
#define WD_JB_H_UNCAL	     3	/* CPU-time reads not held: no calibration on this CPU yet */
#define WD_JB_H_OTHER	     4	/* reads of another process's CPU clock (quantize: not held) */
#define WD_JB_H_WRITES	     5	/* values rewritten (write mode) */
#define WD_JB_H_WRITE_FAIL   6	/* bpf_probe_write_user failed */
#define WD_JB_H_LOST	     7	/* a read whose value was not seen (pending entry gone) */
#define WD_JB_H_EV_LOST	     8	/* ring buffer full: a process event lost */
#define WD_JB_H_TARGETS_FULL 9	/* a new process of a target not recorded */
#define WD_JB_H_READS	     10 /* clock reads of targets seen */
#define WD_JB_H_SLOTS	     11

/* Process events for the loader (ring buffer jb_events): attach the
 * libc uprobes to a new target process, detach them when it ends. */
#define WD_JB_EV_NEW  1 /* a new process of a target (fork) */
#define WD_JB_EV_EXEC 2 /* a target exec'ed (comm may match now) */
#define WD_JB_EV_NAME 3 /* a thread was renamed to a --comm name */
#define WD_JB_EV_EXIT 4 /* a target process ended */

struct wd_jb_event {
	__u32 kind; /* WD_JB_EV_* */
	__u32 pid;  /* the process (TGID) */
	__u64 ns;   /* bpf_ktime_get_ns() when it happened */
};

/* The run's settings (BCC: -D switches; libbpf: .rodata before load). */
struct wd_jb_settings {
	__u64 grain;	 /* ns */
	__u64 spin_cap;	 /* ns: min(grain, WD_JB_SPIN_MAX_NS) */
	__u32 mode;	 /* WD_JB_QUANTIZE or WD_JB_WRITE */
	__u32 jfrac;	 /* J * 65536 of the clamp (0 where a spin holds readers) */
	__u32 pause;	 /* write mode: also hold to the switch point */
	__u32 self_tgid; /* the watchdog: never a target; its reads calibrate */
	__u32 targets;	 /* act only on processes in jb_targets */
	__u32 comm_in;	 /* ... only on threads named in jb_comm_in */
	__u32 comm_out;	 /* ... never on threads named in jb_comm_out */
	__u32 vdso_hres; /* the vDSO answers the high-resolution clocks here */
};

/* Clock offsets of the wall-clock family from MONOTONIC, rounded to the
 * grain (write mode; set by the loader, jb_offsets[index]). */
#define WD_JB_OFF_REAL 0
#define WD_JB_OFF_BOOT 1
#define WD_JB_OFF_TAI  2
#define WD_JB_NOFF     3

#endif /* WD_JITTER_BPF_H */
