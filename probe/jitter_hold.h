/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_hold.h - holding a reader to the next switch point (quantize by
 * delay, and pause in write mode), and the CPU-time estimate that needs.
 *
 * The reader is held by a bounded busy loop on bpf_ktime_get_ns() in the
 * BPF program that runs before the read (a syscall's sys_enter, the uprobe
 * at libc's clock_gettime), so the read itself happens just after the
 * switch point and its value, though unchanged, carries no sub-grain
 * phase of the work before it.  The switch points are every grain, at
 * half a grain (J = 0): a spin then never lasts more than one grain.  The
 * keyed jitter of the clamp would buy nothing here (the values are the
 * kernel's own, so a reader sees where it was released anyway), and a
 * switch point up to G(1 + J) away would make some spins longer than a
 * grain.
 *
 * Wall clocks (the MONOTONIC family, MONOTONIC_RAW, time, times) are held
 * on bpf_ktime_get_ns(), which is MONOTONIC.
 *
 * CPU-time clocks are held on the thread's (or process's) own CPU time,
 * which the kernel computes at the read as
 *
 *     sum_exec_runtime + (rq->clock_task now - se.exec_start)
 *
 * BPF cannot call that, and rq->clock_task is only brought up to date at
 * scheduler events.  But clock_task moves with the scheduler's clock
 * (sched_clock) less steal time, and sched_clock moves with ktime: so
 *
 *     clock_task now = rq->clock_task + (ktime now + D - rq->clock)
 *
 * with D = sched_clock - ktime on this CPU.  D is taken right after a
 * CPU-time read of the caller itself (the kernel has just updated
 * rq->clock for it: D = rq->clock - ktime at the syscall's exit): by every
 * target's own CPU-time reads, and by the watchdog's, which reads its own
 * thread's CPU time on every CPU at start and once a second.  What the
 * estimate misses: steal time since the CPU's rq clock was last updated
 * (at most a tick, 4 ms here; it makes a hold end early by that much),
 * and the drift of D since its last calibration (parts per million).
 *
 * A process's CPU time is what the kernel sums for it: the time of its
 * exited threads (signal->sum_sched_runtime) and of each live thread,
 * the caller's own as estimated above; up to WD_JB_MAX_THREADS threads.
 * Other threads running on other CPUs meanwhile only show once the
 * kernel accounts them (as in the kernel's own reading).
 */
#ifndef WD_JITTER_HOLD_H
#define WD_JITTER_HOLD_H

#include "jitter_compat.h"

/* D of this CPU (jb_cal): sched_clock - ktime, once `set`. */
struct jb_cal {
	__u64 d;
	__u64 set;
};

JB_PERCPU(jb_health, __u64, WD_JB_H_SLOTS);
JB_PERCPU(jb_cal, struct jb_cal, 1);

/* Per-CPU counters: no atomics needed. */
static __always_inline void jb_count(int slot, __u64 n)
{
	__u64 *c = wd_lookup(jb_health, &slot);

	/* The verifier requires the NULL check even for an in-range index. */
	if (c)
		*c += n;
}

/* One kernel word (or a 32-bit one) at base + off; 0 if the read faults.
 * probe_read_kernel checks the address, so any pointer value is safe. */
static __always_inline __u64 jb_peek(__u64 base, __u64 off)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (const void *)(base + off));
	return v;
}

static __always_inline __u32 jb_peek32(__u64 base, __u64 off)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (const void *)(base + off));
	return v;
}

/* The clamp of the holding modes: J = 0, so the key does not matter. */
static __always_inline struct wd_jclamp jb_hold_clamp(void)
{
	struct wd_jclamp c = { JB_GRAIN, 0, 0 };

	return c;
}

/*
 * Spin until ktime reaches `until` (never more than JB_SPIN_CAP past
 * `now`).  A bounded loop: the verifier walks each of its turns, and one
 * branch per turn keeps it under its limit of 8192 branches in a row
 * (eight clock reads a turn stretch the bound over 100 us).  The seven
 * reads whose result is unused are helper calls, which the compiler
 * keeps.  Each program has one call site: the verifier walks the loop
 * once per site.
 */
static __always_inline void jb_hold_until(__u64 now, __u64 until)
{
	__u64 t = now;

	if (until <= now)
		return;
	if (until - now > JB_SPIN_CAP) {
		until = now + JB_SPIN_CAP;
		jb_count(WD_JB_H_CAPPED, 1);
	}
	for (int i = 0; i < WD_JB_SPIN_TURNS; i++) {
		bpf_ktime_get_ns();
		bpf_ktime_get_ns();
		bpf_ktime_get_ns();
		bpf_ktime_get_ns();
		bpf_ktime_get_ns();
		bpf_ktime_get_ns();
		bpf_ktime_get_ns();
		t = bpf_ktime_get_ns();
		if (t >= until)
			break;
	}
	if (t < until)
		jb_count(WD_JB_H_CAPPED, 1);
	jb_count(WD_JB_H_SPINS, 1);
	jb_count(WD_JB_H_SPIN_NS, t - now);
}

/* A wall-clock reader's switch point (MONOTONIC's timeline), in ktime. */
static __always_inline __u64 jb_until_wall(__u64 now)
{
	struct wd_jclamp c = jb_hold_clamp();
	__u64 v;

	return wd_jitter_next(&c, now, &v);
}

/* The current thread's CPU time at ktime `now` (see the top); -1 if this
 * CPU has no calibration yet or the scheduler's state cannot be read. */
static __always_inline int jb_thread_cpu(__u64 task, __u64 now, __u64 *cpu)
{
	int zero = 0;
	struct jb_cal *cal = wd_lookup(jb_cal, &zero);
	__u64 rq, sum, start, clock, clock_task;

	/* No run queue in the BTF: a constant 0, the rest is dead code */
	if (!JB_HAVE_RQ || !cal || !cal->set)
		return -1;
	rq = jb_peek(jb_peek(task, JB_OFF_SE_CFS_RQ), JB_OFF_CFS_RQ_RQ);
	if (!rq)
		return -1;
	sum = jb_peek(task, JB_OFF_SE_SUM);
	start = jb_peek(task, JB_OFF_SE_START);
	clock = jb_peek(rq, JB_OFF_RQ_CLOCK);
	clock_task = jb_peek(rq, JB_OFF_RQ_CLOCK_TASK);
	*cpu = sum - start + clock_task + (now + cal->d - clock);
	/* never behind what the kernel has already accounted */
	if ((__s64)(*cpu - sum) < 0)
		*cpu = sum;
	return 0;
}

/* The current process's CPU time, given its thread's `thread_cpu`. */
static __always_inline __u64 jb_process_cpu(__u64 task, __u64 thread_cpu)
{
	__u64 sig = jb_peek(task, JB_OFF_TASK_SIGNAL);
	__u64 total = jb_peek(sig, JB_OFF_SIG_SUM) + thread_cpu;
	__u64 head = sig + JB_OFF_SIG_THREAD_HEAD, node;

	if (!sig || jb_peek32(sig, JB_OFF_SIG_NR_THREADS) <= 1)
		return total;
	/* signal->thread_head lists the live threads by task->thread_node. */
	node = jb_peek(head, 0);
	for (int i = 0; i < WD_JB_MAX_THREADS; i++) {
		__u64 t = node - JB_OFF_TASK_THREAD_NODE;

		if (!node || node == head)
			break;
		if (t != task)
			total += jb_peek(t, JB_OFF_SE_SUM);
		node = jb_peek(node, 0);
	}
	return total;
}

/* The switch point of a reader of its own thread's (process = 0) or
 * process's (1) CPU time, in ktime; `now` if this CPU has no calibration. */
static __always_inline __u64 jb_until_cpu(int process, __u64 now)
{
	struct wd_jclamp c = jb_hold_clamp();
	__u64 task = (__u64)bpf_get_current_task(), cpu, v;

	if (jb_thread_cpu(task, now, &cpu)) {
		jb_count(WD_JB_H_UNCAL, 1);
		return now;
	}
	if (process)
		cpu = jb_process_cpu(task, cpu);
	return now + (wd_jitter_next(&c, cpu, &v) - cpu);
}

/* Hold a reader of a wall clock (the MONOTONIC family, MONOTONIC_RAW,
 * time, times) to MONOTONIC's next switch point.  One call site of
 * jb_hold_until per program that uses it (see above). */
static __always_inline void jb_hold_wall(void)
{
	__u64 now = bpf_ktime_get_ns();

	jb_hold_until(now, jb_until_wall(now));
}

/* Hold a reader of its own thread's (process = 0) or process's (1) CPU
 * time to that timeline's next switch point.  Spinning is running: the
 * CPU time moves with ktime while the reader spins, so the ktime target
 * is the switch point's distance from the estimate. */
static __always_inline void jb_hold_cpu(int process)
{
	__u64 now = bpf_ktime_get_ns();

	jb_hold_until(now, jb_until_cpu(process, now));
}

/* Right after the kernel computed a CPU time of the caller itself: its
 * rq->clock is now sched_clock, so D = rq->clock - ktime on this CPU. */
static __always_inline void jb_calibrate(void)
{
	int zero = 0;
	struct jb_cal *cal = wd_lookup(jb_cal, &zero);
	__u64 task, rq, clock;

	if (!JB_HAVE_RQ || !cal)
		return;
	task = (__u64)bpf_get_current_task();
	rq = jb_peek(jb_peek(task, JB_OFF_SE_CFS_RQ), JB_OFF_CFS_RQ_RQ);
	clock = rq ? jb_peek(rq, JB_OFF_RQ_CLOCK) : 0;
	if (!clock)
		return;
	cal->d = clock - bpf_ktime_get_ns();
	cal->set = 1;
}

#endif /* WD_JITTER_HOLD_H */
