/* SPDX-License-Identifier: GPL-2.0 */
/*
 * watchdog.bpf.c - the attach shims around the limiter (BCC C dialect).
 *
 * The front end compiles this file at run time with exactly one of
 * WD_BACKEND_KPROBE, WD_BACKEND_LSM or WD_BACKEND_TRACEPOINT defined, and
 * attaches the shim to every read-family syscall: read, pread64, readv,
 * preadv, preadv2.  No kernel header is included: BCC's compile time is
 * most of the start-up (25-30x worse under a TCG VM), and the LSM shim
 * takes the few struct offsets it needs from the running kernel's BTF,
 * passed in as -D constants, so no struct layout is guessed here.
 */
#include "limiter.h"

#define WD_EPERM	1
#define WD_CLONE_THREAD	0x00010000

#ifdef WD_BACKEND_KPROBE
/*
 * kprobe on __x64_sys_<call>: fail the syscall before it runs.
 * bpf_override_return() is accepted by the verifier only in kprobe
 * programs, and the kernel attaches it only to functions on its
 * error-injection list (every syscall entry is).
 */
int wd_kprobe(struct pt_regs *ctx)
{
	if (wd_on_call())
		bpf_override_return(ctx, -WD_EPERM);
	return 0;
}
#endif

#ifdef WD_BACKEND_TRACEPOINT
/*
 * syscalls:sys_enter_<call>: a tracepoint cannot change the call, so it
 * only counts; enforcement is the signal wd_on_call() sends.
 */
int wd_tracepoint(void *ctx)
{
	wd_on_call();
	return 0;
}
#endif

#ifdef WD_BACKEND_LSM
#define WD_MAY_READ	0x4
#define WD_PF_KTHREAD	0x00200000
/* x86-64 syscall numbers of the read family (the front end refuses the
 * LSM backend on other architectures). */
#define WD_NR_READ	0
#define WD_NR_PREAD64	17
#define WD_NR_READV	19
#define WD_NR_PREADV	295
#define WD_NR_PREADV2	327

/* Read one kernel word at base + off; 0 if the read faults. */
static __always_inline __u64 wd_peek(const void *base, __u32 off)
{
	__u64 val = 0;

	/* probe_read_kernel checks the address itself, so any pointer value
	 * (even a bad one) is safe to pass to it. */
	bpf_probe_read_kernel(&val, sizeof(val), (const char *)base + off);
	return val;
}

/* Is the current task inside one of the read-family syscalls? */
static __always_inline int wd_in_read_syscall(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	/* Kernel threads run no syscalls; their saved orig_ax is junk. */
	if (wd_peek(task, WD_OFF_TASK_FLAGS) & WD_PF_KTHREAD)
		return 0;
	/* bpf_task_pt_regs() takes the trusted BTF task pointer the helper
	 * above returned, as the verifier requires. */
	void *regs = (void *)bpf_task_pt_regs(task);
	__u64 nr = wd_peek(regs, WD_OFF_REGS_ORIG_AX);

	return nr == WD_NR_READ || nr == WD_NR_PREAD64 || nr == WD_NR_READV ||
	       nr == WD_NR_PREADV || nr == WD_NR_PREADV2;
}

/*
 * file_permission(file, mask, ret): runs from rw_verify_area() for every
 * read, so it sees the read family whatever the entry point.  It also
 * fires for getdents, exec, splice and the like (filtered by syscall
 * number above) and twice per read on overlayfs (filtered below).
 */
int lsm__file_permission(unsigned long long *ctx)
{
	const void *file = (const void *)ctx[0];
	int mask = (int)ctx[1];
	int ret = (int)ctx[2];

	/* An earlier BPF-LSM program already refused: keep its answer. */
	if (ret)
		return ret;
	/* Cheapest filters first: the checks below read kernel memory. */
	if (!(mask & WD_MAY_READ) || !wd_may_count() || !wd_in_read_syscall())
		return 0;
	/* overlayfs re-checks the underlying file with a fake f_path whose
	 * dentry belongs to the overlay: count only the file whose f_inode
	 * is its own dentry's inode, so one read counts once. */
	__u64 inode = wd_peek(file, WD_OFF_FILE_F_INODE);
	__u64 dentry = wd_peek(file, WD_OFF_FILE_F_PATH_DENTRY);

	if (inode != wd_peek((const void *)dentry, WD_OFF_DENTRY_D_INODE))
		return 0;
	return wd_on_call() ? -WD_EPERM : 0;
}
#endif

/*
 * sched:sched_process_exit: when a thread-group leader exits, hand its
 * final counts to the front end and drop its entry, so a later process
 * that reuses the PID starts from zero.
 */
int wd_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if ((__u32)id != tgid)
		return 0;
	struct wd_key key = { .tgid = tgid };
	struct wd_value *v = wd_state.lookup(&key);

	if (v) {
		wd_emit(WD_EV_EXIT, tgid, v->window, v);
		wd_state.delete(&key);
	}
	return 0;
}

#ifdef WD_FILTER_TARGETS
/*
 * task:task_newtask runs in the parent during fork/clone: a new process
 * (not a new thread) of a target gets an entry, which makes it a target.
 */
TRACEPOINT_PROBE(task, task_newtask)
{
	struct wd_key parent = { .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct wd_key child = { .tgid = args->pid };
	struct wd_value init = {};

	if (args->clone_flags & WD_CLONE_THREAD)
		return 0;
	struct wd_value *pv = wd_state.lookup(&parent);

	if (!pv)
		return 0;
	/* Window 0 has long expired: the child's first call opens its own. */
	__builtin_memcpy(init.comm, pv->comm, sizeof(init.comm));
	/* A child that cannot be recorded would escape: report it. */
	if (wd_state.insert(&child, &init))
		wd_health_inc(WD_H_TARGETS_FULL);
	return 0;
}
#endif
