/* SPDX-License-Identifier: GPL-2.0 */
/*
 * limiter.h - the fixed-window limiter, in one place for every backend.
 *
 * wd_on_call() is the whole policy: filter the caller, count the call in
 * its process's window, and say whether the backend must fail it.  The
 * attach shims in watchdog.bpf.c only translate their hook into a call
 * of wd_on_call() and apply its verdict.
 *
 * Compile-time switches (set by the front end with -D):
 *   WD_ACTION            one of WD_ACT_* (watchdog_map.h)
 *   WD_SELF_TGID         the front end's own process, never acted on
 *   WD_GUARD_TGID        its guardian process (ethoswd/guardian.py), likewise
 *   WD_FILTER_TARGETS    act only on processes that already have an entry in
 *                        wd_state: the front end creates the entries of the
 *                        targets, task_newtask those of their children, so
 *                        one lookup both filters and finds the state
 *   WD_FILTER_COMM       act only on threads whose comm is in wd_comm_in
 *   WD_EXCLUDE_COMM      never act on threads whose comm is in wd_comm_out
 */
#ifndef WD_LIMITER_H
#define WD_LIMITER_H

#include "watchdog_map.h"

#define WD_SIGKILL	9
#define WD_SIGSTOP	19
#define WD_NS_PER_MS	1000000ULL
/* Attempts before a call is refused (each lost one means another thread
 * opened or expired the window at that very moment). */
#define WD_CAS_TRIES	8
#ifndef WD_GUARD_TGID
#define WD_GUARD_TGID	0	/* no guardian: only throttle starts one */
#endif

struct wd_comm {
	char name[16];
};

BPF_ARRAY(wd_config, struct wd_config, 1);
BPF_HASH(wd_state, struct wd_key, struct wd_value, WD_MAX_PIDS);
BPF_PERCPU_ARRAY(wd_health, __u64, WD_H_SLOTS);
BPF_RINGBUF_OUTPUT(wd_events, 16);
#ifdef WD_FILTER_COMM
BPF_HASH(wd_comm_in, struct wd_comm, __u8, 64);
#endif
#ifdef WD_EXCLUDE_COMM
BPF_HASH(wd_comm_out, struct wd_comm, __u8, 64);
#endif

/* Bump one per-CPU health counter: no atomics needed on a per-CPU slot. */
static __always_inline void wd_health_inc(int slot)
{
	__u64 *c = wd_health.lookup(&slot);

	/* The verifier requires the NULL check even for an in-range index. */
	if (c)
		(*c)++;
}

/* Should this process be counted at all? */
static __always_inline int wd_is_target(__u32 tgid)
{
	/* Never PID 1 (nor the idle task) and never the watchdog itself. */
	if (tgid <= 1 || tgid == WD_SELF_TGID || tgid == WD_GUARD_TGID)
		return 0;
#if defined(WD_FILTER_COMM) || defined(WD_EXCLUDE_COMM)
	struct wd_comm comm = {};

	/* The key lives on the stack, zero-filled, so the lookup reads
	 * 16 initialised bytes. */
	bpf_get_current_comm(comm.name, sizeof(comm.name));
#ifdef WD_FILTER_COMM
	if (!wd_comm_in.lookup(&comm))
		return 0;
#endif
#ifdef WD_EXCLUDE_COMM
	if (wd_comm_out.lookup(&comm))
		return 0;
#endif
#endif
	return 1;
}

/* Create the entry of a process seen for the first time; NULL if the map
 * is full.  Window 0 has long expired, so its first call opens a window. */
static __always_inline struct wd_value *wd_track(struct wd_key *key)
{
	struct wd_value init = {};

	bpf_get_current_comm(init.comm, sizeof(init.comm));
	/* BPF_NOEXIST: if another CPU inserted it first, keep theirs. */
	wd_state.insert(key, &init);
	return wd_state.lookup(key);
}

/*
 * A cheap first answer for hooks that must do costly checks before they
 * count (the LSM shim): could the current process be counted at all?
 */
static __always_inline int wd_may_count(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!wd_is_target(tgid))
		return 0;
#ifdef WD_FILTER_TARGETS
	struct wd_key key = { .tgid = tgid };

	return wd_state.lookup(&key) != NULL;
#else
	return 1;
#endif
}

/* Send an event to the front end; count it as lost if the ring is full. */
static __always_inline void wd_emit(__u32 kind, __u32 tgid, __u64 window,
				    struct wd_value *v)
{
	struct wd_event *e = wd_events.ringbuf_reserve(sizeof(*e));

	/* reserve() returns NULL when the ring is full; the verifier insists
	 * on the check before any store into the record. */
	if (!e) {
		wd_health_inc(WD_H_EVENTS_LOST);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->window_start_ms = window >> 32;
	e->calls = (__u32)window;
	e->allowed = v->allowed;
	e->limited = v->limited;
	e->limited_windows = v->limited_windows;
	__builtin_memcpy(e->comm, v->comm, sizeof(e->comm));
	wd_events.ringbuf_submit(e, 0);
}

/*
 * Count one call.  Returns the call's number in its window (1-based), or
 * 0 if WD_CAS_TRIES attempts all raced (the caller refuses the call).
 *
 * The window start and count share one 64-bit word.  Within a current
 * window one atomic fetch-and-add counts the call, and the value it
 * returns says which window the call landed in, so no increment is ever
 * lost and no call is ever refused there.  Only opening a new window
 * needs a compare-and-swap, so two threads can never both reset it; a
 * thread that loses that race finds the window current on its next try.
 * The loop is unrolled to a fixed length: the verifier sees no back-edge.
 */
static __always_inline __u32 wd_count(struct wd_value *v, __u32 window_ms,
				      __u32 now_ms, __u64 *window_out)
{
#pragma unroll
	for (int i = 0; i < WD_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)&v->window;
		__u32 start = old >> 32;

		/* Unsigned difference: correct across the 2^32 ms wrap. */
		if ((__u32)(now_ms - start) < window_ms) {
			/* Saturated: far past any limit, stop counting. */
			if ((__u32)old >= WD_COUNT_MAX) {
				*window_out = old;
				return (__u32)old;
			}
			__u64 got = __sync_fetch_and_add(&v->window, 1);

			/* Landed in a current window (the same one, or one another
			 * thread opened meanwhile): this call is number count+1. */
			if ((__u32)(now_ms - (__u32)(got >> 32)) < window_ms) {
				*window_out = got + 1;
				return (__u32)got + 1;
			}
			/* The window expired in between: that add went to a dead
			 * window's count; retry, which opens a new one. */
			continue;
		}
		__u64 new = ((__u64)now_ms << 32) | 1;

		if (__sync_val_compare_and_swap(&v->window, old, new) == old) {
			/* Once per window, refresh the name (the process may have
			 * exec'ed since its entry was made); a torn name is harmless. */
			bpf_get_current_comm(v->comm, sizeof(v->comm));
			*window_out = new;
			return 1;
		}
	}
	return 0;
}

/*
 * The policy for one read-family call by the current task.
 * Returns 1 if the backend must fail the call with -EPERM.
 */
static __always_inline int wd_on_call(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!wd_is_target(tgid))
		return 0;

	int zero = 0;
	struct wd_config *cfg = wd_config.lookup(&zero);

	/* Index 0 of a one-entry array always exists; the check is for the
	 * verifier, which treats every map lookup as nullable. */
	if (!cfg)
		return 0;

	struct wd_key key = { .tgid = tgid };
	struct wd_value *v = wd_state.lookup(&key);

	if (!v) {
#ifdef WD_FILTER_TARGETS
		return 0;	/* no entry: not a target */
#else
		v = wd_track(&key);
		if (!v) {
			/* Map full: this process is not limited.  Counted, and
			 * the front end reports it; never silent. */
			wd_health_inc(WD_H_MAP_FULL);
			return 0;
		}
#endif
	}

	/* The clock is the costliest step: read it only for a call that counts. */
	__u32 now_ms = bpf_ktime_get_ns() / WD_NS_PER_MS;
	__u64 window = 0;
	__u32 n = wd_count(v, cfg->window_ms, now_ms, &window);

	if (n == 0) {
		/* Lost every race: refuse rather than risk going over. */
		wd_health_inc(WD_H_CONTENDED);
		__sync_fetch_and_add(&v->limited, 1);
		return WD_ACTION != WD_ACT_MONITOR;
	}
	if (n <= cfg->max_calls) {
		__sync_fetch_and_add(&v->allowed, 1);
		return 0;
	}
	__sync_fetch_and_add(&v->limited, 1);

	/* The cmpxchg hands out each number once per window, so exactly one
	 * call per window sees max_calls + 1: it alone reports and signals
	 * the whole process. */
	if (n == cfg->max_calls + 1) {
		__sync_fetch_and_add(&v->limited_windows, 1);
		wd_emit(WD_EV_LIMIT, tgid, window, v);
#if WD_ACTION == WD_ACT_THROTTLE
		bpf_send_signal(WD_SIGSTOP);
#elif WD_ACTION == WD_ACT_KILL
		bpf_send_signal(WD_SIGKILL);
#endif
	}
#if WD_ACTION == WD_ACT_THROTTLE || WD_ACTION == WD_ACT_KILL
	/* Every over-limit call also signals its own thread.  The process-wide
	 * signal above reaches threads running on other CPUs only when they
	 * next enter the kernel or get an IPI, and a tracepoint cannot fail
	 * their calls meanwhile; a signal pending on the current thread is
	 * acted on before this call returns to user space.  So at most one
	 * call per running thread completes past the limit.  Verifier-safe:
	 * one helper call with a constant argument (no pointers, no loop), and
	 * bpf_send_signal_thread (5.5+) is allowed wherever bpf_send_signal
	 * is; ethoswd/features.py probes it before throttle/kill are chosen.
	 * A SIGSTOP still pending when the front end sends SIGCONT is
	 * discarded by the kernel, so it cannot re-stop a resumed process. */
	bpf_send_signal_thread(WD_ACTION == WD_ACT_KILL ? WD_SIGKILL : WD_SIGSTOP);
#endif
	return WD_ACTION != WD_ACT_MONITOR;
}

#endif /* WD_LIMITER_H */
