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
#define WD_SIGCONT   18
#define WD_SIGSTOP   19
/* si_code of a signal sent by kill() or pidfd_send_signal() without a
 * siginfo: the kernel sets it, the sender cannot choose it. */
#define WD_SI_USER   0
#define WD_SI_KERNEL 0x80 /* sent by the kernel itself (SEND_SIG_PRIV) */
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
BPF_RINGBUF_OUTPUT(wd_events, WD_EVENT_PAGES);
WD_DYN_HASH(wd_member, __u32, struct wd_member, WD_SIZE(WD_ON_MEMBERS, WD_MAX_PIDS));
/* LRU: a per-process share is bookkeeping, never a reason to miss a call. */
WD_LRU_HASH(wd_procs, __u32, struct wd_proc, WD_SIZE(WD_SHARED, WD_MAX_PIDS));
BPF_HASH(wd_comm_in, struct wd_comm, __u8, WD_SIZE(WD_ON_COMM_IN, WD_LIST_MAX));
BPF_HASH(wd_comm_out, struct wd_comm, __u8, WD_SIZE(WD_ON_COMM_OUT, WD_LIST_MAX));
BPF_HASH(wd_exe_out, struct wd_file, __u8, WD_SIZE(WD_ON_EXCLUDE_EXE, WD_LIST_MAX));
BPF_HASH(wd_fs, __u64, __u8, WD_SIZE(WD_ON_COUNT_FS, WD_LIST_MAX));
BPF_HASH(wd_files, struct wd_file, __u8, WD_SIZE(WD_ON_COUNT_FILES, WD_FILES_MAX));
/* throttle: the processes it stopped, and who resumed them (wd_resumed).
 * Not LRU: an evicted entry would let a SIGCONT go unseen; a full map is
 * counted (WD_H_STOPS_FULL) instead. */
WD_DYN_HASH(wd_stops, __u32, struct wd_stop, WD_SIZE(WD_ACTION == WD_ACT_THROTTLE, WD_MAX_PIDS));
/* throttle: each thread's process and the window of its last over-limit
 * call, (tgid << 32) | window start (wd_escalate; the process too, so a
 * reused thread ID never matches).  LRU: an evicted thread only gets its
 * next over-limit call counted as a first one again. */
WD_LRU_HASH(wd_over, __u32, __u64, WD_SIZE(WD_ACTION == WD_ACT_THROTTLE, WD_MAX_PIDS));
/* Per CPU: the jiffy before which wd_track() tries no insert, set when one
 * found wd_state full (index 0; a per-CPU slot needs no atomics). */
BPF_PERCPU_ARRAY(wd_full_until, __u64, 1);

/* Who made the call being looked at, and whose budget it goes to. */
struct wd_caller {
	__u32 tgid;
	__u32 fails;	    /* the shim fails an over-limit call (lsm, kprobe) */
	struct wd_key key;  /* its budget (wd_budget_key) */
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
 * The caller's budget (struct wd_key in watchdog_map.h): the run's key,
 * split by real UID, or the caller's own where a shared budget would group
 * unrelated processes: the root cgroup (cgroup key), UID 0 (uid key).  So
 * no shared budget spans users, and no call can get a process of another
 * user stopped or killed.  c->key.id already holds the root with the tree
 * key.  The helpers are called only in the branches that need them, and
 * every branch fills all three fields of a zero-initialised key.
 */
static __always_inline void wd_budget_key(struct wd_caller *c)
{
	if (WD_KEY == WD_KEY_TREE) {
		c->key.uid = (__u32)bpf_get_current_uid_gid(); /* low half: real UID */
		c->key.kind = WD_KEY_TREE;
		return;
	}
	if (WD_KEY == WD_KEY_UID) {
		__u32 uid = (__u32)bpf_get_current_uid_gid();

		if (uid != WD_ROOT_UID) {
			c->key.id = uid;
			c->key.uid = uid;
			c->key.kind = WD_KEY_UID;
			return;
		}
	}
	if (WD_KEY == WD_KEY_CGROUP) {
		__u64 cgroup = bpf_get_current_cgroup_id(); /* cgroup v2 ID */

		if (cgroup != WD_ROOT_CGROUP_ID) {
			c->key.id = cgroup;
			c->key.uid = (__u32)bpf_get_current_uid_gid();
			c->key.kind = WD_KEY_CGROUP;
			return;
		}
	}
	/* The process key, and the others' fallback: a budget of its own. */
	c->key.id = c->tgid;
	c->key.uid = 0;
	c->key.kind = WD_KEY_PROCESS;
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
			c->key.id = m->root;
	} else if (WD_ON_TARGETS) {
		struct wd_key key = { .id = c->tgid };

		/* With the process key the budget entry is the target mark. */
		c->v = wd_lookup(wd_state, &key);
		if (!c->v)
			return 0;
	}
	if (WD_ON_EXCLUDE_EXE && wd_exe_excluded())
		return 0;
	wd_budget_key(c);
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

/*
 * Create a budget seen for the first time; NULL if the map is full.
 * Window 0 has long expired, so its first call opens a window.  Once an
 * insert fails, this CPU tries none until the next jiffy (bpf_jiffies64,
 * one load): with the map full, an untracked call then costs a lookup
 * here instead of a name fetch and an insert that takes a bucket lock to
 * fail again, so it is no dearer than a tracked one.  The call is still
 * counted (WD_H_MAP_FULL, by the caller); a budget whose entry became
 * possible meanwhile (an exited process's entry freed) waits at most one
 * tick on this CPU.
 */
static __always_inline struct wd_value *wd_track(struct wd_key *key)
{
	struct wd_value init = {};
	struct wd_value *v;
	int zero = 0;
	__u64 *until = wd_lookup(wd_full_until, &zero);
	__u64 now = bpf_jiffies64();

	/* Index 0 of a one-entry array: never NULL in fact, but the
	 * verifier wants the check before the load. */
	if (until && now < *until)
		return NULL;
	bpf_get_current_comm(init.comm, sizeof(init.comm));
	/* BPF_NOEXIST: if another CPU inserted it first, keep theirs. */
	wd_insert(wd_state, key, &init);
	v = wd_lookup(wd_state, key);
	if (!v && until)
		*until = now + 1;
	return v;
}

/* Reserve an event with the members every kind has filled in (and the
 * WD_EV_ESCALATE ones zeroed); the caller submits it.  NULL, counted as
 * lost, if the ring is full. */
static __always_inline struct wd_event *wd_event_new(__u32 kind, __u32 tgid,
						     const struct wd_key *key, __u64 window,
						     __u64 allowed, __u64 limited,
						     __u64 limited_windows, const char *comm)
{
	struct wd_event *e = wd_rb_reserve(wd_events, sizeof(*e));

	/* reserve() returns NULL when the ring is full; the verifier insists
	 * on the check before any store into the record. */
	if (!e) {
		wd_health_inc(WD_H_EVENTS_LOST);
		return NULL;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->window_start_ms = window >> 32;
	e->calls = (__u32)window;
	e->key = key->id;
	e->key_uid = key->uid;
	e->key_kind = key->kind;
	e->allowed = allowed;
	e->limited = limited;
	e->limited_windows = limited_windows;
	__builtin_memcpy(e->comm, comm, sizeof(e->comm));
	/* Reserved ring memory is not zeroed: every member is written. */
	e->why = 0;
	e->pad2 = 0;
	e->by_pid = 0;
	e->by_code = 0;
	__builtin_memset(e->by_comm, 0, sizeof(e->by_comm));
	return e;
}

/* Send an event to the front end; count it as lost if the ring is full. */
static __always_inline void wd_emit(__u32 kind, __u32 tgid, const struct wd_key *key, __u64 window,
				    __u64 allowed, __u64 limited, __u64 limited_windows,
				    const char *comm)
{
	struct wd_event *e =
		wd_event_new(kind, tgid, key, window, allowed, limited, limited_windows, comm);

	if (e)
		wd_rb_submit(wd_events, e, 0);
}

static __always_inline void wd_emit_budget(__u32 kind, __u32 tgid, const struct wd_key *key,
					   __u64 window, struct wd_value *v)
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
		struct wd_proc init = { .key = c->key.id,
					.key_uid = c->key.uid,
					.key_kind = c->key.kind };

		bpf_get_current_comm(init.comm, sizeof(init.comm));
		/* BPF_NOEXIST keeps another thread's entry if it won. */
		wd_insert(wd_procs, &c->tgid, &init);
		p = wd_lookup(wd_procs, &c->tgid);
		if (!p)
			return;
	}
	/* A UID or cgroup can change under a process: follow it, and take
	 * the name it has now (it may have exec'ed since). */
	if (p->key != c->key.id || p->key_uid != c->key.uid || p->key_kind != c->key.kind) {
		p->key = c->key.id;
		p->key_uid = c->key.uid;
		p->key_kind = c->key.kind;
		bpf_get_current_comm(p->comm, sizeof(p->comm));
	}
	if (over)
		__sync_fetch_and_add(&p->limited, 1);
	else
		__sync_fetch_and_add(&p->allowed, 1);
}

/* Report an escalation: the killed process, its budget's counts, why, and
 * for a SIGCONT who sent it (copied from its wd_stops entry). */
static __always_inline void wd_emit_escalate(struct wd_caller *c, __u64 window, struct wd_value *v,
					     struct wd_stop *st, __u32 why)
{
	struct wd_event *e = wd_event_new(WD_EV_ESCALATE, c->tgid, &c->key, window, v->allowed,
					  v->limited, v->limited_windows, v->comm);

	if (!e)
		return;
	/* The killed process's own name (a shared budget's is its opener's):
	 * the helper writes into the reserved record, which it may. */
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->why = why;
	if (st && why == WD_STOP_RESUMED) {
		e->by_pid = st->by_pid;
		e->by_code = st->by_code;
		__builtin_memcpy(e->by_comm, st->by_comm, sizeof(e->by_comm));
	}
	wd_rb_submit(wd_events, e, 0);
}

/*
 * Throttle holds against SIGCONT.  SIGCONT resumes a stopped process and
 * discards its pending stops, whatever its handler or mask, so a process
 * that another one keeps sending SIGCONT would undo every stop.  Each
 * process throttle stops has a wd_stops entry naming the window of its
 * stop; wd_resumed(), run for every SIGCONT generated (the signal_generate
 * shim in watchdog.bpf.c), marks the entry if the signal came from anyone
 * but the front end or its guardian while that window still runs.  The
 * marked process's next over-limit call (every call is, until the window
 * ends) kills it instead: SIGKILL cannot be undone.
 *
 *   call 1..MAX   MAX+1: entry = W, SIGSTOP     SIGCONT (other sender):
 *   allowed       ------------------------+     entry = W | RESUMED
 *                                          \    next call in W: SIGKILL
 *   |<----------------------- window W ------------------------->|
 *                         front end's SIGCONT at the end: not marked
 *
 * A stop can also be discarded without any SIGCONT: a tracer (ptrace) sees
 * the SIGSTOP at the tracee's signal-delivery stop and may resume it
 * without the signal.  Two things cannot happen to a process whose stop
 * held, so where the call cannot be failed (the tracepoint shims, the
 * io_uring submissions among them) either kills it too:
 * - a thread's second over-limit call in one window: each over-limit call
 *   stops its own thread, on its return (wd_over, keyed by thread);
 * - an over-limit call by a thread made after the process's stop in this
 *   window was sent (wd_stop.stop_ns): a new thread joins a pending or
 *   running group stop before it runs code of its own, so it can call
 *   only if the stop was discarded.  This bounds a tracer that makes a
 *   fresh thread per read.
 *
 * Called (from wd_charge) on each over-limit call under throttle, on every
 * route: the syscall and LSM shims and io_uring's submissions, whose
 * requests a stop cannot hold back (the per-thread rule above kills a
 * batch or an SQPOLL thread that goes on submitting), before any stop is
 * sent (so a SIGCONT that undoes it finds the entry); *out is the entry
 * (NULL if wd_stops is full), for wd_stop_sent().  Returns 1 if the
 * caller was killed.
 */
static __always_inline int wd_escalate(struct wd_caller *c, __u64 window, struct wd_value *v,
				       struct wd_stop **out)
{
	__u64 win = window >> 32 << 32;
	__u64 mine = ((__u64)c->tgid << 32) | (window >> 32); /* wd_over's value */
	__u32 tid = bpf_get_current_pid_tgid();
	/* The key is the caller's TGID in its wd_caller, on the stack. */
	struct wd_stop *st = wd_lookup(wd_stops, &c->tgid);
	__u64 old = win;
	__u32 why = 0;

	if (!st) {
		struct wd_stop init = { .state = win, .stop_ns = ~0ULL };

		/* BPF_NOEXIST: a thread that made it first made the same one.
		 * The value is initialised on the stack before the insert
		 * copies it. */
		wd_insert(wd_stops, &c->tgid, &init);
		st = wd_lookup(wd_stops, &c->tgid);
		/* No entry at all: a SIGCONT to this process cannot be seen.
		 * Counted; the per-thread rule below still applies. */
		if (!st)
			wd_health_inc(WD_H_STOPS_FULL);
	}
	*out = st;
	if (st) {
		/* st is non-NULL here, as the verifier requires before any
		 * load; the volatile load reads the word once for the swaps
		 * below (atomic instructions on a map value: kernel 5.12,
		 * checked at start). */
		old = *(volatile __u64 *)&st->state;

		/* The process's first stop in this window: the entry moves to
		 * it (a mark from an earlier window is void; no call gained
		 * anything from it).  The swap can lose only to wd_resumed()
		 * marking the old window, or to another thread moving it
		 * here: one retry settles it. */
		if ((old ^ win) >> 32) {
			st->stop_ns = ~0ULL; /* not sent yet in this window */
			if (__sync_val_compare_and_swap(&st->state, old, win) != old) {
				old = *(volatile __u64 *)&st->state;
				if ((old ^ win) >> 32)
					__sync_val_compare_and_swap(&st->state, old, win);
			}
			old = win;
		}
		why = old & WD_STOP_RESUMED;
	}
	/* Where the shim fails the call (lsm, kprobe: c->fails), a thread
	 * that runs on past its stop gets each over-limit call failed with
	 * -EPERM, so only a SIGCONT from another process escalates there.
	 * The two inferences below would also misread io_uring's in-kernel
	 * work as a discarded stop: the next request of a batch, issued in
	 * the same io_uring_enter() while its stop is still pending, and an
	 * io-wq worker made after the stop. */
	if (!why && c->fails)
		return 0;
	if (!why && st) {
		/* The current task's BTF pointer: start_time is a typed load
		 * (the verifier checks the offset and size against
		 * task_struct). */
		struct task_struct *task = bpf_get_current_task_btf();

		if (st->stop_win == (__u32)(window >> 32) &&
		    wd_btf(__u64, task, WD_OFF_TASK_START_TIME) > st->stop_ns)
			why = WD_STOP_UNSTOPPED; /* a thread made after the stop */
	}
	if (!why) {
		/* Not resumed by a SIGCONT: is this the thread's second
		 * over-limit call in this window?  This is also the rule for
		 * io_uring: a request already handed to the kernel (the rest
		 * of a batch, an SQPOLL thread's) runs whatever the stop, so
		 * a submitting thread's second request past the limit in one
		 * window ends the process.  A NULL lookup (its first, or
		 * evicted) is a first; the verifier wants the check before
		 * the load, and the update copies `mine` from the stack. */
		__u64 *seen = wd_lookup(wd_over, &tid);

		if (!seen || *seen != mine) {
			wd_update(wd_over, &tid, &mine);
			return 0;
		}
		why = WD_STOP_UNSTOPPED;
	}
	/* It ran on during this window: kill it.  The group signal reaches
	 * threads on other CPUs late; the thread signal ends this one on its
	 * return from this call.  Both helpers act on the current task only,
	 * which is what the verifier lets a tracing program signal. */
	bpf_send_signal(WD_SIGKILL);
	bpf_send_signal_thread(WD_SIGKILL);
	/* Report it once: the swap that sets REPORTED is won by one call
	 * (without an entry, each killed call reports: the map was full). */
	if (!st)
		wd_emit_escalate(c, window, v, NULL, why);
	else if (!(old & WD_STOP_REPORTED) &&
		 __sync_val_compare_and_swap(&st->state, old, old | why | WD_STOP_REPORTED) == old)
		wd_emit_escalate(c, window, v, st, why);
	return 1;
}

/* Throttle sent the caller's process its stop (a group SIGSTOP) in this
 * window: note when, once per window, for wd_escalate's new-thread rule.
 * stop_ns is written before stop_win, and read after it, so a reader that
 * sees this window's stop_win sees its stop_ns (x86-64 keeps stores and
 * loads in order; the front ends run on x86-64 only). */
static __always_inline void wd_stop_sent(struct wd_stop *st, __u64 window)
{
	if (WD_ACTION != WD_ACT_THROTTLE || !st || st->stop_win == (__u32)(window >> 32))
		return;
	st->stop_ns = bpf_ktime_get_ns();
	*(volatile __u32 *)&st->stop_win = window >> 32;
}

/*
 * A SIGCONT to process `tgid` was generated by the current task (sender)
 * with si_code `code` (the signal_generate shim).  If throttle stopped the
 * process in a window that still runs, and the sender is neither the
 * front end nor its guardian sending with kill() (SI_USER: the kernel
 * sets that code; a timer or the kernel itself may run in any task's
 * context, but never with SI_USER), mark it: wd_escalate() kills it at
 * its next over-limit call.
 */
static __always_inline void wd_resumed(__u32 tgid, int code)
{
	int zero = 0;
	struct wd_config *cfg = wd_lookup(wd_config, &zero);
	struct wd_stop *st = wd_lookup(wd_stops, &tgid);
	__u32 sender = bpf_get_current_pid_tgid() >> 32;

	/* The verifier wants both checked before any load: cfg is index 0
	 * of a one-entry array (never NULL in fact), st is NULL for every
	 * process throttle never stopped. */
	if (!cfg || !st)
		return;
	__u64 old = *(volatile __u64 *)&st->state;
	__u64 now_ns = bpf_ktime_get_ns(); /* the limiter's window clock */
	__u32 now_ms = now_ns / WD_NS_PER_MS;

	if (old & WD_STOP_RESUMED)
		return;
	/* Its window is over: resuming it is the front end's job now. */
	if ((__u32)(now_ms - (__u32)(old >> 32)) >= cfg->window_ms)
		return;
	if ((sender == WD_SELF_TGID || sender == WD_GUARD_TGID) && code == WD_SI_USER)
		return;
	/* Who it was, written before the mark that makes it visible; a torn
	 * name from two racing senders is harmless.  Plain stores and the
	 * comm helper into the map value are bounded by its BTF size. */
	st->by_pid = sender;
	st->by_code = code;
	bpf_get_current_comm(st->by_comm, sizeof(st->by_comm));
	__sync_val_compare_and_swap(&st->state, old, old | WD_STOP_RESUMED);
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
		/* c->key: on the stack, every byte set (no padding) */
		v = wd_lookup(wd_state, &c->key);
		if (!v)
			v = wd_track(&c->key);
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
	/* Throttle: killed instead if it ran on during this window. */
	struct wd_stop *st = NULL;

	if (WD_ACTION == WD_ACT_THROTTLE && wd_escalate(c, window, v, &st))
		return 1;

	/* The first over-limit call of a window alone reports it and signals
	 * the whole process (with a steady limit, the call numbered
	 * max_calls + 1; see wd_first_over for a limit changed mid-window). */
	if (wd_first_over(v, window)) {
		__sync_fetch_and_add(&v->limited_windows, 1);
		wd_emit_budget(WD_EV_LIMIT, c->tgid, &c->key, window, v);
		if (WD_SIGNAL)
			bpf_send_signal(WD_SIGNAL);
		wd_stop_sent(st, window);
	} else if (WD_SIGNAL && WD_SHARED) {
		/* Another process of a shared budget went over in this window:
		 * it must be stopped or killed too.  Throttle tells the front end
		 * whom to resume at the window's end. */
		bpf_send_signal(WD_SIGNAL);
		wd_stop_sent(st, window);
		if (WD_ACTION == WD_ACT_THROTTLE)
			wd_emit_budget(WD_EV_STOPPED, c->tgid, &c->key, window, v);
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
