/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_compat.h - the two builds of probe/jitter.bpf.c, as compat.h is
 * for the read limiter:
 *
 *   BCC     watchdog.py compiles it at start (ethoswd/jitter_bpf.py); the
 *           settings are -D numbers (WD_JB_GRAIN, WD_JB_MODE ...), the
 *           kernel struct offsets -D numbers read from the running kernel's
 *           BTF (JB_OFF_*), and only the mode's programs are compiled
 *           (WD_JB_BUILD_WRITE, WD_JB_BUILD_QUANTIZE).
 *   libbpf  `make ethoswd` compiles it once (-DWD_LIBBPF) into a CO-RE
 *           object; the settings are .rodata (struct wd_jb_settings, set by
 *           src/jitter_bpf.c before the load, so the verifier drops the
 *           branches a run does not take), the offsets CO-RE relocations,
 *           and the loader loads only the mode's programs: a program that
 *           calls bpf_probe_write_user does not load where the kernel
 *           refuses that helper, so the write programs are apart (_w).
 *
 * The map calls are wd_lookup(m, k) and friends, turned into BCC's method
 * form by ethoswd/probe.py bcc_map_calls() under BCC.
 */
#ifndef WD_JITTER_COMPAT_H
#define WD_JITTER_COMPAT_H

#ifdef WD_LIBBPF
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#endif
#include "jitter_clamp.h"
#include "jitter_bpf.h"
#include "watchdog_map.h" /* WD_COMM_LEN */

#ifdef WD_LIBBPF
char LICENSE[] SEC("license") = "GPL";

const volatile struct wd_jb_settings jb_set = {};

#define JB_GRAIN	  (jb_set.grain)
#define JB_SPIN_CAP	  (jb_set.spin_cap)
#define JB_MODE		  (jb_set.mode)
#define JB_JFRAC	  (jb_set.jfrac)
#define JB_PAUSE	  (jb_set.pause)
#define JB_SELF_TGID	  (jb_set.self_tgid)
#define JB_ON_TARGETS	  (jb_set.targets)
#define JB_ON_COMM_IN	  (jb_set.comm_in)
#define JB_ON_COMM_OUT	  (jb_set.comm_out)
#define JB_VDSO_HRES	  (jb_set.vdso_hres)
#define JB_BUILD_WRITE	  1
#define JB_BUILD_QUANTIZE 1
#define JB_SEC(name)	  SEC(name)

#include "libbpf_maps.h"
#define JB_HASH(name, k, v, n)	WD_MAP(BPF_MAP_TYPE_HASH, name, k, v, n)
#define JB_LRU(name, k, v, n)	WD_MAP(BPF_MAP_TYPE_LRU_HASH, name, k, v, n)
#define JB_ARRAY(name, v, n)	WD_MAP(BPF_MAP_TYPE_ARRAY, name, int, v, n)
#define JB_PERCPU(name, v, n)	WD_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, name, int, v, n)
#define JB_RINGBUF(name, pages) WD_RINGBUF_PAGES(name, pages)

/* CO-RE offsets, relocated to the running kernel at load. */
#define JB_OFF_SE_SUM		bpf_core_field_offset(struct task_struct, se.sum_exec_runtime)
#define JB_OFF_SE_START		bpf_core_field_offset(struct task_struct, se.exec_start)
#define JB_OFF_SE_CFS_RQ	bpf_core_field_offset(struct task_struct, se.cfs_rq)
#define JB_OFF_TASK_SIGNAL	bpf_core_field_offset(struct task_struct, signal)
#define JB_OFF_TASK_THREAD_NODE bpf_core_field_offset(struct task_struct, thread_node)
#define JB_OFF_CFS_RQ_RQ	bpf_core_field_offset(struct cfs_rq, rq)
#define JB_OFF_RQ_CLOCK		bpf_core_field_offset(struct rq, clock)
#define JB_OFF_RQ_CLOCK_TASK	bpf_core_field_offset(struct rq, clock_task)
#define JB_OFF_SIG_SUM		bpf_core_field_offset(struct signal_struct, sum_sched_runtime)
#define JB_OFF_SIG_NR_THREADS	bpf_core_field_offset(struct signal_struct, nr_threads)
#define JB_OFF_SIG_THREAD_HEAD	bpf_core_field_offset(struct signal_struct, thread_head)
#define JB_OFF_REGS_DI		bpf_core_field_offset(struct pt_regs, di)
#define JB_OFF_REGS_SI		bpf_core_field_offset(struct pt_regs, si)
#define JB_OFF_REGS_AX		bpf_core_field_offset(struct pt_regs, ax)
/* A task's run queue (CONFIG_FAIR_GROUP_SCHED): the CPU-time estimate of
 * the holding modes needs it; without it the loader refuses them. */
#define JB_HAVE_RQ                                               \
	(bpf_core_field_exists(struct task_struct, se.cfs_rq) && \
	 bpf_core_field_exists(struct cfs_rq, rq))

#else /* BCC */

#define JB_GRAIN	  WD_JB_GRAIN
#define JB_SPIN_CAP	  WD_JB_SPIN_CAP
#define JB_MODE		  WD_JB_MODE
#define JB_JFRAC	  WD_JB_JFRAC
#define JB_PAUSE	  WD_JB_PAUSE
#define JB_SELF_TGID	  WD_JB_SELF_TGID
#define JB_ON_TARGETS	  WD_JB_TARGETS
#define JB_ON_COMM_IN	  WD_JB_COMM_IN
#define JB_ON_COMM_OUT	  WD_JB_COMM_OUT
#define JB_VDSO_HRES	  WD_JB_VDSO_HRES
#define JB_HAVE_RQ	  WD_JB_HAVE_RQ
#define JB_BUILD_WRITE	  (WD_JB_MODE == WD_JB_WRITE)
#define JB_BUILD_QUANTIZE (WD_JB_MODE == WD_JB_QUANTIZE)
#define JB_SEC(name)

#define JB_HASH(name, k, v, n)	BPF_HASH(name, k, v, n)
#define JB_LRU(name, k, v, n)	BPF_TABLE("lru_hash", k, v, name, n)
#define JB_ARRAY(name, v, n)	BPF_ARRAY(name, v, n)
#define JB_PERCPU(name, v, n)	BPF_PERCPU_ARRAY(name, v, n)
#define JB_RINGBUF(name, pages) BPF_RINGBUF_OUTPUT(name, pages)

#endif /* WD_LIBBPF */

#endif /* WD_JITTER_COMPAT_H */
