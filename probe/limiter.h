/* SPDX-License-Identifier: GPL-2.0 */
/*
 * limiter.h - the fixed-window limiter, in one place for every backend.
 *
 * The whole policy lives here: who is a caller worth counting
 * (wd_caller), which reads count (wd_class_has), whose budget a call is
 * charged to (WD_KEY), and the verdict (wd_charge).  The attach shims in
 * watchdog.bpf.c only translate their hook into these calls and apply
 * the verdict.
 *
 * Settings (compat.h gives them the same names in both builds: -D
 * switches under BCC, load-time constants under libbpf):
 *   WD_ACTION            one of WD_ACT_* (watchdog_map.h)
 *   WD_KEY               one of WD_KEY_* (default WD_KEY_PROCESS)
 *   WD_SELF_TGID         the front end's own process, never acted on
 *   WD_GUARD_TGID        its guardian process (throttle), likewise
 *   WD_ON_TARGETS        act only on targets: with the process key, the
 *                        processes that have a wd_state entry (one lookup
 *                        both filters and finds the budget); with a shared
 *                        key, those with a wd_member entry.  The front end
 *                        makes the roots' entries, task_newtask those of
 *                        their descendants.
 *   WD_ON_COMM_IN        act only on threads whose comm is in wd_comm_in
 *   WD_ON_COMM_OUT       never act on threads whose comm is in wd_comm_out
 *   WD_ON_EXCLUDE_EXE    never act on processes whose executable (device,
 *                        inode) is in wd_exe_out
 *   WD_ON_COUNT_FS       count a call only if its file's filesystem magic
 *                        is in wd_fs ...
 *   WD_ON_COUNT_FILES    ... or the file itself is in wd_files
 *   WD_OFF_*             struct offsets from BTF (kernel_read.h)
 * Each is tested with a plain `if`: a constant to the compiler (BCC) or
 * to the verifier (libbpf), so a run's unused branches never load.
 */
#ifndef WD_LIMITER_H
#define WD_LIMITER_H

#include "compat.h"
#include "kernel_read.h"

#define WD_SIGKILL   9
#define WD_SIGSTOP   19
#define WD_NS_PER_MS 1000000ULL
/* Attempts at opening a window before a call is counted as over the
 * limit (each lost one means another thread opened the window at that
 * very moment; the retry then finds it current). */
#define WD_CAS_TRIES 8
/* The signal throttle and kill send (0: none). */
#define WD_SIGNAL \
	(WD_ACTION == WD_ACT_THROTTLE ? WD_SIGSTOP : WD_ACTION == WD_ACT_KILL ? WD_SIGKILL : 0)

struct wd_comm {
	char name[WD_COMM_LEN];
};

/* Maps a run does not use are made with one entry (compat.h WD_SIZE). */
BPF_ARRAY(wd_config, struct wd_config, 1);
WD_DYN_HASH(wd_state, struct wd_key, struct wd_value, WD_MAX_PIDS);
BPF_PERCPU_ARRAY(wd_health, __u64, WD_H_SLOTS);
BPF_RINGBUF_OUTPUT(wd_events, 16);
WD_DYN_HASH(wd_member, __u32, struct wd_member, WD_SIZE(WD_ON_MEMBERS, WD_MAX_PIDS));
/* LRU: a per-process share is bookkeeping, never a reason to miss a call. */
WD_LRU_HASH(wd_procs, __u32, struct wd_proc, WD_SIZE(WD_SHARED, WD_MAX_PIDS));
BPF_HASH(wd_comm_in, struct wd_comm, __u8, WD_SIZE(WD_ON_COMM_IN, 64));
BPF_HASH(wd_comm_out, struct wd_comm, __u8, WD_SIZE(WD_ON_COMM_OUT, 64));
BPF_HASH(wd_exe_out, struct wd_file, __u8, WD_SIZE(WD_ON_EXCLUDE_EXE, 64));
BPF_HASH(wd_fs, __u64, __u8, WD_SIZE(WD_ON_COUNT_FS, 64));
BPF_HASH(wd_files, struct wd_file, __u8, WD_SIZE(WD_ON_COUNT_FILES, 1024));

/* Who made the call being looked at, and whose budget it goes to. */
struct wd_caller {
	__u32 tgid;
	__u64 key;	    /* wd_key.id of its budget */
	struct wd_value *v; /* the budget, when already looked up */
};

/* Bump one per-CPU health counter: no atomics needed on a per-CPU slot. */
static __always_inline void wd_health_inc(int slot)
{
	__u64 *c = wd_lookup(wd_health, &slot);

	/* The verifier requires the NULL check even for an in-range index. */
	if (c)
		(*c)++;
}

/* Could this process be counted at all (before any target lookup)? */
static __always_inline int wd_is_target(__u32 tgid)
{
	/* Never PID 1 (nor the idle task) and never the watchdog itself. */
	if (tgid <= 1 || tgid == WD_SELF_TGID || tgid == WD_GUARD_TGID)
		return 0;
	if (WD_ON_COMM_IN || WD_ON_COMM_OUT) {
		struct wd_comm comm = {};

		/* The key lives on the stack, zero-filled, so the lookup
		 * reads 16 initialised bytes. */
		bpf_get_current_comm(comm.name, sizeof(comm.name));
		if (WD_ON_COMM_IN && !wd_lookup(wd_comm_in, &comm))
			return 0;
		if (WD_ON_COMM_OUT && wd_lookup(wd_comm_out, &comm))
			return 0;
	}
	return 1;
}

/* Is the caller running an excluded executable?  Matched by the file's
 * device and inode, which a process cannot change by renaming itself. */
static __always_inline int wd_exe_excluded(void)
{
	struct wd_file exe = {};

	/* The key is zero-filled on the stack before the lookup reads it. */
	return wd_exe_id(&exe) && wd_lookup(wd_exe_out, &exe) != NULL;
}

/*
 * Filter the current task and find whose budget its call goes to.
 * Returns 0 if the call must not be counted.  Cheapest checks first: a
 * non-target costs one or two map lookups and reads no kernel memory.
 */
static __always_inline int wd_caller(struct wd_caller *c)
{
	c->tgid = bpf_get_current_pid_tgid() >> 32;
	if (!wd_is_target(c->tgid))
		return 0;
	if (WD_ON_MEMBERS) {
		struct wd_member *m = wd_lookup(wd_member, &c->tgid);

		if (!m)
			return 0; /* not a descendant of a target root */
		if (WD_KEY == WD_KEY_TREE)
			c->key = m->root;
	} else if (WD_ON_TARGETS) {
		struct wd_key key = { .id = c->tgid };

		/* With the process key the budget entry is the target mark. */
		c->v = wd_lookup(wd_state, &key);
		if (!c->v)
			return 0;
	}
	if (WD_ON_EXCLUDE_EXE && wd_exe_excluded())
		return 0;
	if (WD_KEY == WD_KEY_PROCESS)
		c->key = c->tgid;
	else if (WD_KEY == WD_KEY_UID)
		c->key = (__u32)bpf_get_current_uid_gid(); /* low half: real UID */
	else if (WD_KEY == WD_KEY_CGROUP)
		c->key = bpf_get_current_cgroup_id(); /* cgroup v2 ID */
	return 1;
}

/* Is this file in the counted class?  NULL (no such fd) is not. */
static __always_inline int wd_class_has(const void *file)
{
	if (!file)
		return 0;
	if (WD_ON_COUNT_FS) {
		__u64 magic = wd_file_magic(file);

		if (wd_lookup(wd_fs, &magic))
			return 1;
	}
	if (WD_ON_COUNT_FILES) {
		struct wd_file id = {};

		/* Zero-filled first, so the lookup reads initialised bytes only. */
		wd_file_id(file, &id);
		if (wd_lookup(wd_files, &id))
			return 1;
	}
	return 0;
}

/* Create a budget seen for the first time; NULL if the map is full.
 * Window 0 has long expired, so its first call opens a window. */
static __always_inline struct wd_value *wd_track(struct wd_key *key)
{
	struct wd_value init = {};

	bpf_get_current_comm(init.comm, sizeof(init.comm));
	/* BPF_NOEXIST: if another CPU inserted it first, keep theirs. */
	wd_insert(wd_state, key, &init);
	return wd_lookup(wd_state, key);
}

/* Send an event to the front end; count it as lost if the ring is full. */
static __always_inline void wd_emit(__u32 kind, __u32 tgid, __u64 key, __u64 window, __u64 allowed,
				    __u64 limited, __u64 limited_windows, const char *comm)
{
	struct wd_event *e = wd_rb_reserve(wd_events, sizeof(*e));

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
	e->key = key;
	e->allowed = allowed;
	e->limited = limited;
	e->limited_windows = limited_windows;
	__builtin_memcpy(e->comm, comm, sizeof(e->comm));
	wd_rb_submit(wd_events, e, 0);
}

static __always_inline void wd_emit_budget(__u32 kind, __u32 tgid, __u64 key, __u64 window,
					   struct wd_value *v)
{
	wd_emit(kind, tgid, key, window, v->allowed, v->limited, v->limited_windows, v->comm);
}

/*
 * Count one call.  Returns the call's number in its window (1-based), or
 * 0 if WD_CAS_TRIES attempts all raced (the caller counts it as over).
 *
 * The window start and count share one 64-bit word.  Within a current
 * window one atomic fetch-and-add counts the call, and the value it
 * returns says which window the call landed in, so no increment is ever
 * lost and each number is handed out once per window.  Only opening a
 * new window needs a compare-and-swap, so two threads can never both
 * reset it; a thread that loses that race finds the window current on its
 * next try.  The loop is unrolled to a fixed length: the verifier sees no
 * back-edge.
 */
static __always_inline __u32 wd_count(struct wd_value *v, __u32 window_ms, __u32 now_ms, __u32 tgid,
				      __u64 *window_out)
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
			/* Once per window, refresh the name and opener (the process
			 * may have exec'ed); a torn name is harmless. */
			bpf_get_current_comm(v->comm, sizeof(v->comm));
			v->pid = tgid;
			*window_out = new;
			return 1;
		}
	}
	return 0;
}

/* Charge the caller's own share of a shared budget (for the rows). */
static __always_inline void wd_proc_charge(struct wd_caller *c, int over)
{
	struct wd_proc *p = wd_lookup(wd_procs, &c->tgid);

	if (!p) {
		struct wd_proc init = { .key = c->key };

		bpf_get_current_comm(init.comm, sizeof(init.comm));
		/* BPF_NOEXIST keeps another thread's entry if it won. */
		wd_insert(wd_procs, &c->tgid, &init);
		p = wd_lookup(wd_procs, &c->tgid);
		if (!p)
			return;
	}
	/* A UID or cgroup can change under a process: follow it, and take
	 * the name it has now (it may have exec'ed since). */
	if (p->key != c->key) {
		p->key = c->key;
		bpf_get_current_comm(p->comm, sizeof(p->comm));
	}
	if (over)
		__sync_fetch_and_add(&p->limited, 1);
	else
		__sync_fetch_and_add(&p->allowed, 1);
}

/*
 * Is this over-limit call the first of its window?  The count alone
 * cannot say: "the call numbered max_calls + 1" is unique only while the
 * limit stays, and a front end may lower it mid-window (SIGHUP reload),
 * when the count has already passed the new limit + 1.  So the window's
 * start is claimed in v->reported with a compare-and-swap: one call per
 * window wins.  A call of an older window that lost the CPU in between
 * never claims over a newer one (wrap-safe 32-bit difference).  The loop
 * is unrolled to a fixed length, as in wd_count: no back-edge.
 */
static __always_inline int wd_first_over(struct wd_value *v, __u64 window)
{
	__u64 mine = 1ULL << 32 | window >> 32;

#pragma unroll
	for (int i = 0; i < WD_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)&v->reported;

		/* Claimed already: this window, or a later one. */
		if ((old >> 32) && (__s32)((__u32)mine - (__u32)old) <= 0)
			return 0;
		if (__sync_val_compare_and_swap(&v->reported, old, mine) == old)
			return 1;
	}
	return 0;
}

/*
 * Charge one call of a filtered caller to its budget.
 * Returns 1 if the backend must fail the call with -EPERM.
 */
static __always_inline int wd_charge(struct wd_caller *c)
{
	int zero = 0;
	struct wd_config *cfg = wd_lookup(wd_config, &zero);

	/* Index 0 of a one-entry array always exists; the check is for the
	 * verifier, which treats every map lookup as nullable. */
	if (!cfg)
		return 0;

	struct wd_value *v = c->v;

	if (!v) {
		struct wd_key key = { .id = c->key };

		v = wd_lookup(wd_state, &key);
		if (!v)
			v = wd_track(&key);
		if (!v) {
			/* Map full: this budget is not limited.  Counted, and the
			 * front end reports it; never silent. */
			wd_health_inc(WD_H_MAP_FULL);
			return 0;
		}
	}

	/* The clock is the costliest step: read it only for a call that counts. */
	__u32 now_ms = bpf_ktime_get_ns() / WD_NS_PER_MS;
	__u64 window = 0;
	__u32 n = wd_count(v, cfg->window_ms, now_ms, c->tgid, &window);

	if (n != 0 && n <= cfg->max_calls) {
		__sync_fetch_and_add(&v->allowed, 1);
		if (WD_SHARED)
			wd_proc_charge(c, 0);
		return 0;
	}
	__sync_fetch_and_add(&v->limited, 1);
	if (WD_SHARED)
		wd_proc_charge(c, 1);
	if (n == 0) {
		/* Lost every window race: counted as over and failed where the
		 * backend can, but not signalled, since no LIMIT event tells the
		 * front end to resume it. */
		wd_health_inc(WD_H_CONTENDED);
		return WD_ACTION != WD_ACT_MONITOR;
	}

	/* The first over-limit call of a window alone reports it and signals
	 * the whole process (with a steady limit, the call numbered
	 * max_calls + 1; see wd_first_over for a limit changed mid-window). */
	if (wd_first_over(v, window)) {
		__sync_fetch_and_add(&v->limited_windows, 1);
		wd_emit_budget(WD_EV_LIMIT, c->tgid, c->key, window, v);
		if (WD_SIGNAL)
			bpf_send_signal(WD_SIGNAL);
	} else if (WD_SIGNAL && WD_SHARED) {
		/* Another process of a shared budget went over in this window:
		 * it must be stopped or killed too.  Throttle tells the front end
		 * whom to resume at the window's end. */
		bpf_send_signal(WD_SIGNAL);
		if (WD_ACTION == WD_ACT_THROTTLE)
			wd_emit_budget(WD_EV_STOPPED, c->tgid, c->key, window, v);
	}
	/* The group signal reaches threads on other CPUs late, and a hook
	 * that cannot fail the call lets it run meanwhile: signalling the
	 * calling thread as well stops it on its return from this call, so at
	 * most one call per running thread completes past the limit. */
	if (WD_SIGNAL)
		bpf_send_signal_thread(WD_SIGNAL);
	return WD_ACTION != WD_ACT_MONITOR;
}

#endif /* WD_LIMITER_H */
