/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_write.h - write mode: the programs that replace a clock value in
 * the caller's memory with bpf_probe_write_user().  Part of jitter.bpf.c
 * (included from it, after its helpers), kept apart because the kernel
 * refuses to load any program that calls the helper when it is locked
 * down: ethoswd loads these only in write mode, BCC compiles them only
 * then.
 *
 * Values (probe/jitter_clamp.h, clamp with the run's J; J = 0 with pause):
 *   the MONOTONIC family    the clamp of MONOTONIC at the exit (ktime), plus
 *                           the clock's offset from MONOTONIC rounded to
 *                           the grain (jb_offsets, kept by the loader): one
 *                           set of switch points for all of them
 *   MONOTONIC_RAW, CPU clocks  the value read, clamped on its own timeline
 *   getrusage               user and system time, each on a timeline of the
 *                           process (SELF, CHILDREN) or thread (THREAD)
 *   clock_getres            the grain
 * A value is rewritten only after a call that succeeded, at the pointer
 * the caller passed, read at the call's entry.  Between the kernel's write
 * and ours another thread of the caller could read the raw value.
 */
#ifndef WD_JITTER_WRITE_H
#define WD_JITTER_WRITE_H

struct jb_ts {
	__s64 sec, frac; /* timespec (ns) or timeval (us) */
};

static __always_inline void jb_put(__u64 ptr, const struct jb_ts *v, __u32 len)
{
	/* The kernel checks the address is the caller's user memory. */
	if (bpf_probe_write_user((void *)ptr, v, len))
		jb_count(WD_JB_H_WRITE_FAIL, 1);
	else
		jb_count(WD_JB_H_WRITES, 1);
}

static __always_inline __u64 jb_clamp_on(__u64 line, __u64 v)
{
	struct wd_jclamp c = { JB_GRAIN, jb_key(line), JB_JFRAC };

	return wd_jitter_clamp(&c, v);
}

/* A wall clock's reading now: MONOTONIC clamped, plus its offset. */
static __always_inline __u64 jb_wall_now(__s64 offset)
{
	__u64 v = jb_clamp_on(WD_JT_MONO, bpf_ktime_get_ns());
	int i = (int)offset;
	__s64 *off;

	if (offset < 0 || offset >= WD_JB_NOFF)
		return v;
	off = wd_lookup(jb_offsets, &i);
	return off ? v + *off : v;
}

/* Replace the timespec at `ptr`, which clock `k` was just read into. */
static __always_inline void jb_fix_ts(__u64 ptr, const struct jb_clock *k)
{
	struct jb_ts ts = {};
	__u64 v;

	if (!ptr || k->kind == JB_K_NONE)
		return;
	if (k->kind == JB_K_WALL) {
		v = jb_wall_now(k->offset);
	} else {
		if (bpf_probe_read_user(&ts, sizeof(ts), (const void *)ptr)) {
			jb_count(WD_JB_H_LOST, 1);
			return;
		}
		v = jb_clamp_on(k->line, (__u64)ts.sec * JB_NS_PER_S + (__u64)ts.frac);
	}
	ts.sec = v / JB_NS_PER_S;
	ts.frac = v % JB_NS_PER_S;
	jb_put(ptr, &ts, sizeof(ts));
}

/* One timeval of a struct rusage, clamped on `line`. */
static __always_inline void jb_fix_tv(__u64 ptr, __u64 line)
{
	struct jb_ts tv = {};
	__u64 v;

	if (bpf_probe_read_user(&tv, sizeof(tv), (const void *)ptr)) {
		jb_count(WD_JB_H_LOST, 1);
		return;
	}
	v = jb_clamp_on(line, (__u64)tv.sec * JB_NS_PER_S + (__u64)tv.frac * JB_NS_PER_US);
	tv.sec = v / JB_NS_PER_S;
	tv.frac = v % JB_NS_PER_S / JB_NS_PER_US;
	jb_put(ptr, &tv, sizeof(tv));
}

JB_SEC("tracepoint/syscalls/sys_exit_clock_gettime")
int jb_cg_exit_w(struct jb_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct jb_pending p;
	struct jb_clock k;

	if (jb_take((__u32)id, &p) || ctx->ret != 0)
		return 0;
	jb_exit_calibrate(&p, (__u32)id, id >> 32);
	k = jb_clock_of(p.arg, (__u32)id, id >> 32);
	jb_fix_ts(p.ptr, &k);
	return 0;
}

JB_SEC("tracepoint/syscalls/sys_exit_gettimeofday")
int jb_gtod_exit_w(struct jb_sys_exit *ctx)
{
	struct jb_pending p;
	struct jb_ts tv;
	__u64 v;

	if (jb_take((__u32)bpf_get_current_pid_tgid(), &p) || ctx->ret != 0 || !p.ptr)
		return 0;
	v = jb_wall_now(WD_JB_OFF_REAL);
	tv.sec = v / JB_NS_PER_S;
	tv.frac = v % JB_NS_PER_S / JB_NS_PER_US;
	jb_put(p.ptr, &tv, sizeof(tv));
	return 0;
}

JB_SEC("tracepoint/syscalls/sys_exit_getrusage")
int jb_ru_exit_w(struct jb_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32;
	struct jb_pending p;
	__u64 base;

	if (jb_take(tid, &p) || ctx->ret != 0 || !p.ptr)
		return 0;
	jb_exit_calibrate(&p, tid, tgid);
	if (p.arg == JB_RUSAGE_THREAD)
		base = WD_JT_TIMELINE(WD_JT_THREAD, tid);
	else if (p.arg == JB_RUSAGE_CHILDREN)
		base = WD_JT_TIMELINE(WD_JT_CHILDREN, tgid);
	else
		base = WD_JT_TIMELINE(WD_JT_PROCESS, tgid);
	/* ru_utime, then ru_stime: the first two members */
	jb_fix_tv(p.ptr, base | 4ULL << 24);
	jb_fix_tv(p.ptr + sizeof(struct jb_ts), base | 5ULL << 24);
	return 0;
}

static __always_inline void jb_put_res(__u64 ptr)
{
	struct jb_ts res = { JB_GRAIN / JB_NS_PER_S, JB_GRAIN % JB_NS_PER_S };

	if (ptr)
		jb_put(ptr, &res, sizeof(res));
}

JB_SEC("tracepoint/syscalls/sys_exit_clock_getres")
int jb_res_exit_w(struct jb_sys_exit *ctx)
{
	struct jb_pending p;

	if (!jb_take((__u32)bpf_get_current_pid_tgid(), &p) && ctx->ret == 0)
		jb_put_res(p.ptr);
	return 0;
}

/* libc's clock_gettime and clock_getres: the entry saved the pointer
 * (jb_u_cg, jb_u_res), the return fixes the value. */
static __always_inline int jb_utake(__u32 tid, struct jb_pending *out)
{
	struct jb_pending *p = wd_lookup(jb_upending, &tid);

	if (!p)
		return -1;
	*out = *p;
	wd_delete(jb_upending, &tid);
	return 0;
}

static __always_inline __s64 jb_ret(void *ctx)
{
	return *(const __s64 *)((const char *)ctx + JB_OFF_REGS_AX);
}

JB_SEC("uretprobe")
int jb_ur_cg_w(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct jb_pending p;
	struct jb_clock k;

	if (jb_utake((__u32)id, &p))
		return 0;
	if ((__s32)jb_ret(ctx) != 0)
		return 0;
	k = jb_clock_of(p.arg, (__u32)id, id >> 32);
	jb_fix_ts(p.ptr, &k);
	return 0;
}

JB_SEC("uprobe")
int jb_u_res(void *ctx)
{
	__s64 clk = (__s32) * (const __u64 *)((const char *)ctx + JB_OFF_REGS_DI);
	__u64 res = *(const __u64 *)((const char *)ctx + JB_OFF_REGS_SI);
	__u64 id = bpf_get_current_pid_tgid();

	/* The vDSO answers clock_getres for its clocks whatever the clock
	 * source (the system call sees the rest). */
	if ((clk == 0 || clk == 1 || (clk >= 4 && clk <= 7) || clk == 11) && jb_is_target(id >> 32))
		jb_usave((__u32)id, JB_P_RES, clk, res);
	return 0;
}

JB_SEC("uretprobe")
int jb_ur_res_w(void *ctx)
{
	struct jb_pending p;

	if (!jb_utake((__u32)bpf_get_current_pid_tgid(), &p) && (__s32)jb_ret(ctx) == 0)
		jb_put_res(p.ptr);
	return 0;
}

#endif /* WD_JITTER_WRITE_H */
