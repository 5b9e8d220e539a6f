/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter.bpf.c - the BPF modes of --jitter GRAIN, for targets no launcher
 * mediates (-p, --comm, system-wide): docs/jitter_bpf.md.
 *
 *   write     (where the kernel lets BPF write user memory) the value a
 *             clock read returned is replaced at the read's exit with the
 *             keyed clamp's (probe/jitter_clamp.h), one timeline per clock:
 *             the system calls at sys_exit, libc's clock_gettime and
 *             clock_getres (the vDSO clocks) at their return (uretprobe),
 *             the user pointer saved at entry.  With pause the reader is
 *             also held to the switch point first (jitter_hold.h).
 *   quantize  (where it does not) the value is the kernel's; the reader is
 *             held at the read's entry until the next switch point.
 *
 * The syscall tracepoints fire for every process on the machine; each
 * program first asks whether the caller is a target (one hash lookup, or
 * its command name).  The uprobes are attached per target process by the
 * loader (the kernel filters them by mm, so other processes never trap);
 * the process events below tell it which processes to attach to.
 */
#include "jitter_hold.h"

#define JB_CLONE_THREAD 0x00010000
#define JB_NS_PER_S	1000000000ULL
#define JB_NS_PER_US	1000ULL

/* What a clock id reads (jb_clock). */
#define JB_K_NONE   0 /* an invalid id, a CLOCKFD id: left alone */
#define JB_K_WALL   1 /* the MONOTONIC family: REALTIME, BOOTTIME, TAI, COARSE, ALARM */
#define JB_K_RAW    2 /* MONOTONIC_RAW */
#define JB_K_THREAD 3 /* the caller's own thread CPU time */
#define JB_K_PROC   4 /* the caller's own process CPU time */
#define JB_K_OTHER  5 /* another thread's or process's CPU time */

/* Which call a pending entry belongs to. */
#define JB_P_CLOCK  1 /* clock_gettime(id, ts) */
#define JB_P_GTOD   2 /* gettimeofday(tv, tz) */
#define JB_P_RUSAGE 3 /* getrusage(who, ru) */
#define JB_P_RES    4 /* clock_getres(id, res) */

#define JB_RUSAGE_SELF	   0
#define JB_RUSAGE_CHILDREN (-1)
#define JB_RUSAGE_THREAD   1

struct jb_comm {
	char name[WD_COMM_LEN];
};

/* A read between its entry and its exit: the user pointer to fix. */
struct jb_pending {
	__u64 ptr;
	__s64 arg;  /* the clock id, or getrusage's who */
	__u32 kind; /* JB_P_* */
	__u32 pad;
};

struct jb_clock {
	int kind;     /* JB_K_* */
	__u64 line;   /* its timeline (probe/jitter_clamp.h) */
	__s64 offset; /* wall clocks: which jb_offsets entry, -1: none */
};

JB_HASH(jb_targets, __u32, __u8, WD_JB_MAX_TARGETS);
JB_HASH(jb_attached, __u32, __u8, WD_JB_MAX_TARGETS);
JB_HASH(jb_comm_in, struct jb_comm, __u8, 64);
JB_HASH(jb_comm_out, struct jb_comm, __u8, 64);
JB_LRU(jb_pending, __u32, struct jb_pending, WD_JB_MAX_PENDING);
JB_LRU(jb_upending, __u32, struct jb_pending, WD_JB_MAX_PENDING);
JB_ARRAY(jb_secret, __u64, 1);
JB_ARRAY(jb_offsets, __s64, WD_JB_NOFF);
JB_RINGBUF(jb_events, 16);

/* The record of a syscalls:sys_enter_* / sys_exit_* tracepoint. */
struct jb_sys_enter {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

struct jb_sys_exit {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

/* Is the calling thread one --jitter acts on? */
static __always_inline int jb_is_target(__u32 tgid)
{
	/* Never PID 1 (nor the idle task) and never the watchdog itself. */
	if (tgid <= 1 || tgid == JB_SELF_TGID)
		return 0;
	if (JB_ON_TARGETS && !wd_lookup(jb_targets, &tgid))
		return 0;
	if (JB_ON_COMM_IN || JB_ON_COMM_OUT) {
		struct jb_comm comm = {};

		/* A zero-filled key on the stack: 16 initialised bytes. */
		bpf_get_current_comm(comm.name, sizeof(comm.name));
		if (JB_ON_COMM_IN && !wd_lookup(jb_comm_in, &comm))
			return 0;
		if (JB_ON_COMM_OUT && wd_lookup(jb_comm_out, &comm))
			return 0;
	}
	jb_count(WD_JB_H_READS, 1);
	return 1;
}

static __always_inline __u64 jb_key(__u64 line)
{
	int zero = 0;
	__u64 *secret = wd_lookup(jb_secret, &zero);

	return wd_jitter_key(secret ? *secret : 0, line);
}

/* What clock `id` is, for a caller tid/tgid.  CPU clocks of a pid are
 * ~pid << 3 | perthread 4 | type (0 PROF, 1 VIRT, 2 SCHED, 3 FD). */
static __always_inline struct jb_clock jb_clock_of(__s64 id, __u32 tid, __u32 tgid)
{
	struct jb_clock k = { JB_K_NONE, 0, -1 };
	__u32 pid, type = 2;
	int thread;

	if (id == 4) {
		k.kind = JB_K_RAW;
		k.line = WD_JT_MONO_RAW;
		return k;
	}
	if (id == 0 || id == 1 || (id >= 5 && id <= 9) || id == 11) {
		k.kind = JB_K_WALL;
		k.line = WD_JT_MONO;
		if (id == 0 || id == 5 || id == 8)
			k.offset = WD_JB_OFF_REAL;
		else if (id == 7 || id == 9)
			k.offset = WD_JB_OFF_BOOT;
		else if (id == 11)
			k.offset = WD_JB_OFF_TAI;
		return k;
	}
	if (id == 2 || id == 3) {
		thread = id == 3;
		pid = 0;
	} else if (id < 0 && (id & 3) != 3) {
		thread = (id & 4) != 0;
		type = id & 3;
		pid = ~(__u32)(id >> 3);
	} else {
		return k;
	}
	if (thread) {
		k.kind = !pid || pid == tid ? JB_K_THREAD : JB_K_OTHER;
		k.line = WD_JT_TIMELINE(WD_JT_THREAD | (__u64)type << 24, pid ? pid : tid);
	} else {
		k.kind = !pid || pid == tgid ? JB_K_PROC : JB_K_OTHER;
		k.line = WD_JT_TIMELINE(WD_JT_PROCESS | (__u64)type << 24, pid ? pid : tgid);
	}
	return k;
}

/* Hold a reader of clock `k` (quantize, or write with pause).  The
 * switch point is computed first, so the spin loop has one call site in
 * the program (the verifier walks each site's loop once). */
static __always_inline void jb_hold_clock(const struct jb_clock *k)
{
	__u64 now = bpf_ktime_get_ns(), until;

	if (k->kind == JB_K_WALL || k->kind == JB_K_RAW) {
		until = jb_until_wall(now);
	} else if (k->kind == JB_K_THREAD || k->kind == JB_K_PROC) {
		until = jb_until_cpu(k->kind == JB_K_PROC, now);
	} else {
		if (k->kind == JB_K_OTHER)
			jb_count(WD_JB_H_OTHER, 1);
		return;
	}
	jb_hold_until(now, until);
}

static __always_inline int jb_holds(void)
{
	return JB_MODE == WD_JB_QUANTIZE || JB_PAUSE;
}

/* Remember a read's user pointer until its exit: a system call's in
 * jb_pending, a libc call's in jb_upending (the libc call may make a
 * system call of its own in between). */
static __always_inline void jb_save(__u32 tid, __u32 kind, __s64 arg, __u64 ptr)
{
	struct jb_pending p = { ptr, arg, kind, 0 };

	wd_update(jb_pending, &tid, &p);
}

static __always_inline void jb_usave(__u32 tid, __u32 kind, __s64 arg, __u64 ptr)
{
	struct jb_pending p = { ptr, arg, kind, 0 };

	wd_update(jb_upending, &tid, &p);
}

/* ---- the system calls: entry ------------------------------------------- */

/* clock_gettime(id, ts): hold (quantize, pause); remember ts (write) or
 * that a CPU time of its own was read (calibration). */
JB_SEC("tracepoint/syscalls/sys_enter_clock_gettime")
int jb_cg_enter(struct jb_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32;
	struct jb_clock k;

	if (tgid == JB_SELF_TGID) {
		/* the watchdog's own calibration reads */
		jb_save(tid, JB_P_CLOCK, (__s64)ctx->args[0], 0);
		return 0;
	}
	if (!jb_is_target(tgid))
		return 0;
	k = jb_clock_of((__s64)ctx->args[0], tid, tgid);
	if (jb_holds())
		jb_hold_clock(&k);
	if (JB_MODE == WD_JB_WRITE || k.kind == JB_K_THREAD || k.kind == JB_K_PROC)
		jb_save(tid, JB_P_CLOCK, (__s64)ctx->args[0], ctx->args[1]);
	return 0;
}

/* gettimeofday(tv, tz), time(t), times(buf): wall clocks. */
JB_SEC("tracepoint/syscalls/sys_enter_gettimeofday")
int jb_gtod_enter(struct jb_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!jb_is_target(id >> 32))
		return 0;
	if (jb_holds())
		jb_hold_wall();
	if (JB_MODE == WD_JB_WRITE)
		jb_save((__u32)id, JB_P_GTOD, 0, ctx->args[0]);
	return 0;
}

/* time() and times() are held only: their return values cannot be
 * changed from a tracepoint (write mode attaches these with pause only). */
JB_SEC("tracepoint/syscalls/sys_enter_time")
int jb_time_enter(struct jb_sys_enter *ctx)
{
	if (jb_is_target(bpf_get_current_pid_tgid() >> 32))
		jb_hold_wall();
	return 0;
}

JB_SEC("tracepoint/syscalls/sys_enter_times")
int jb_times_enter(struct jb_sys_enter *ctx)
{
	if (jb_is_target(bpf_get_current_pid_tgid() >> 32))
		jb_hold_wall();
	return 0;
}

/* getrusage(who, ru): SELF on the process's CPU time, THREAD on the
 * thread's; CHILDREN changes only when a child is reaped: not held. */
JB_SEC("tracepoint/syscalls/sys_enter_getrusage")
int jb_ru_enter(struct jb_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__s64 who = (__s32)ctx->args[0];

	if (!jb_is_target(id >> 32))
		return 0;
	if (jb_holds() && who != JB_RUSAGE_CHILDREN)
		jb_hold_cpu(who == JB_RUSAGE_SELF);
	jb_save((__u32)id, JB_P_RUSAGE, who, ctx->args[1]);
	return 0;
}

/* clock_getres(id, res): write mode answers the grain. */
JB_SEC("tracepoint/syscalls/sys_enter_clock_getres")
int jb_res_enter(struct jb_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (jb_is_target(id >> 32))
		jb_save((__u32)id, JB_P_RES, (__s64)ctx->args[0], ctx->args[1]);
	return 0;
}

/* ---- the system calls: exit (calibration; the write programs are in
 * jitter_write.h) ---------------------------------------------------------- */

/* The pending entry of this thread's system call, removed; -1 if none. */
static __always_inline int jb_take(__u32 tid, struct jb_pending *out)
{
	struct jb_pending *p = wd_lookup(jb_pending, &tid);

	if (!p)
		return -1;
	*out = *p;
	wd_delete(jb_pending, &tid);
	return 0;
}

/* After a CPU-time read of the caller's own: calibrate this CPU. */
static __always_inline void jb_exit_calibrate(const struct jb_pending *p, __u32 tid, __u32 tgid)
{
	struct jb_clock k;

	if (p->kind == JB_P_RUSAGE) {
		if (p->arg != JB_RUSAGE_CHILDREN)
			jb_calibrate();
		return;
	}
	k = jb_clock_of(p->arg, tid, tgid);
	if (k.kind == JB_K_THREAD || k.kind == JB_K_PROC)
		jb_calibrate();
}

#if JB_BUILD_QUANTIZE
JB_SEC("tracepoint/syscalls/sys_exit_clock_gettime")
int jb_cg_exit(struct jb_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct jb_pending p;

	if (!jb_take((__u32)id, &p) && ctx->ret == 0)
		jb_exit_calibrate(&p, (__u32)id, id >> 32);
	return 0;
}

JB_SEC("tracepoint/syscalls/sys_exit_getrusage")
int jb_ru_exit(struct jb_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct jb_pending p;

	if (!jb_take((__u32)id, &p) && ctx->ret == 0)
		jb_exit_calibrate(&p, (__u32)id, id >> 32);
	return 0;
}
#endif

/* ---- libc's clock_gettime (the vDSO clocks): uprobe at its entry -------- */

/* The vDSO answers a clock without a system call when it can: COARSE
 * always, the others with a vDSO clock source (tsc, kvm-clock; the loader
 * says which, JB_VDSO_HRES).  Anything else reaches the syscall
 * tracepoints, which hold and fix it: the uprobe leaves it alone, so no
 * reader is held twice. */
static __always_inline int jb_vdso_answers(__s64 id)
{
	if (id == 5 || id == 6)
		return 1;
	return JB_VDSO_HRES && (id == 0 || id == 1 || id == 4 || id == 7 || id == 11);
}

JB_SEC("uprobe")
int jb_u_cg(void *ctx)
{
	/* The user's registers at the call: a constant-offset read of the
	 * context, which the verifier bounds-checks. */
	__s64 clk = (__s32) * (const __u64 *)((const char *)ctx + JB_OFF_REGS_DI);
	__u64 ts = *(const __u64 *)((const char *)ctx + JB_OFF_REGS_SI);
	__u64 id = bpf_get_current_pid_tgid();
	struct jb_clock k;

	if (!jb_vdso_answers(clk) || !jb_is_target(id >> 32))
		return 0;
	k = jb_clock_of(clk, (__u32)id, id >> 32);
	if (jb_holds())
		jb_hold_clock(&k);
	if (JB_MODE == WD_JB_WRITE)
		jb_usave((__u32)id, JB_P_CLOCK, clk, ts);
	return 0;
}

#if JB_BUILD_WRITE
#include "jitter_write.h"
#endif

/* ---- process events: which processes the loader attaches uprobes to ---- */

static __always_inline void jb_emit(__u32 kind, __u32 pid)
{
	struct wd_jb_event *e = wd_rb_reserve(jb_events, sizeof(*e));

	if (!e) {
		jb_count(WD_JB_H_EV_LOST, 1);
		return;
	}
	e->kind = kind;
	e->pid = pid;
	e->ns = bpf_ktime_get_ns();
	wd_rb_submit(jb_events, e, 0);
}

/* Only -p and --comm targets get uprobes (system-wide: syscalls only). */
static __always_inline int jb_uprobes(void)
{
	return JB_ON_TARGETS || JB_ON_COMM_IN;
}

static __always_inline int jb_comm_ok(const char *name)
{
	struct jb_comm comm = {};

	/* a copy on the stack: the key is 16 initialised bytes */
	bpf_probe_read_kernel(comm.name, sizeof(comm.name), name);
	if (JB_ON_COMM_IN && !wd_lookup(jb_comm_in, &comm))
		return 0;
	return !(JB_ON_COMM_OUT && wd_lookup(jb_comm_out, &comm));
}

/* task:task_newtask (in the parent, during fork): a new process of a
 * target is a target; with --comm, a new process with a matching name. */
struct jb_newtask {
	__u64 common;
	__s32 pid;
	char comm[WD_COMM_LEN];
	__u64 clone_flags;
};

JB_SEC("tracepoint/task/task_newtask")
int jb_newtask(struct jb_newtask *ctx)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	__u32 child = ctx->pid;
	__u8 one = 1;

	if (!jb_uprobes() || (ctx->clone_flags & JB_CLONE_THREAD))
		return 0;
	if (JB_ON_TARGETS) {
		if (!wd_lookup(jb_targets, &parent))
			return 0;
		/* A child that cannot be recorded would escape: count it. */
		if (wd_insert(jb_targets, &child, &one)) {
			jb_count(WD_JB_H_TARGETS_FULL, 1);
			return 0;
		}
	} else if (!jb_comm_ok(ctx->comm)) {
		return 0;
	}
	jb_emit(WD_JB_EV_NEW, child);
	return 0;
}

/* sched:sched_process_exec: with --comm, the new image's name may match.
 * (A -p target's uprobes follow it through exec: the kernel matches them
 * by the task's current mm.) */
JB_SEC("tracepoint/sched/sched_process_exec")
int jb_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct jb_comm comm = {};

	if (!JB_ON_COMM_IN || (JB_ON_TARGETS && !wd_lookup(jb_targets, &tgid)))
		return 0;
	bpf_get_current_comm(comm.name, sizeof(comm.name));
	if (jb_comm_ok(comm.name))
		jb_emit(WD_JB_EV_EXEC, tgid);
	return 0;
}

/* task:task_rename: a thread takes a --comm name (prctl, /proc comm).
 * `pid` is the renamed thread, maybe not the caller: the loader finds its
 * process. */
struct jb_rename {
	__u64 common;
	__s32 pid;
	char oldcomm[WD_COMM_LEN];
	char newcomm[WD_COMM_LEN];
};

JB_SEC("tracepoint/task/task_rename")
int jb_rename(struct jb_rename *ctx)
{
	if (JB_ON_COMM_IN && !JB_ON_TARGETS && jb_comm_ok(ctx->newcomm))
		jb_emit(WD_JB_EV_NAME, ctx->pid);
	return 0;
}

/* sched:sched_process_exit of a process's leader: forget the target (a
 * process that reuses the PID is none) and let the loader detach the
 * uprobes it attached. */
JB_SEC("tracepoint/sched/sched_process_exit")
int jb_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	int was = 0;

	if ((__u32)id != tgid || !jb_uprobes())
		return 0;
	if (JB_ON_TARGETS)
		was = !wd_delete(jb_targets, &tgid);
	if (!wd_delete(jb_attached, &tgid) || was)
		jb_emit(WD_JB_EV_EXIT, tgid);
	return 0;
}
