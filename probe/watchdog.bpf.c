/* SPDX-License-Identifier: GPL-2.0 */
/*
 * watchdog.bpf.c - the attach shims around the limiter (BCC C dialect).
 *
 * The front end compiles this file at run time with exactly one of
 * WD_BACKEND_KPROBE, WD_BACKEND_LSM or WD_BACKEND_TRACEPOINT defined, and
 * attaches the shim to every read-family syscall: read, pread64, readv,
 * preadv, preadv2.  No kernel header is included: BCC's compile time is
 * most of the start-up (15-20x slower under a TCG VM); the few struct
 * offsets the shims need come from the running kernel's BTF, passed in as
 * -D constants (kernel_read.h), so no struct layout is guessed here.
 *
 * With a read class (WD_COUNT_FS / WD_COUNT_FILES) each shim hands the
 * call's file to the limiter: the LSM hook has it; the kprobe and
 * tracepoint shims find it from the fd, the first argument of every
 * read-family syscall.
 */
#include "limiter.h"
#include "recorder.h"

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
	struct wd_caller c = {};

	if (!wd_caller(&c))
		return 0;
#ifdef WD_COUNT_CLASS
	/* The x86-64 syscall wrapper's one argument is the user's saved
	 * registers; the fd is their di.  Read through probe_read_kernel. */
	const void *uregs = (const void *)PT_REGS_PARM1(ctx);

	if (!wd_class_has(wd_fd_file(wd_peek(uregs, WD_OFF_REGS_DI))))
		return 0;
#endif
	if (wd_charge(&c))
		bpf_override_return(ctx, -WD_EPERM);
	return 0;
}
#endif

#ifdef WD_BACKEND_TRACEPOINT
/* The record of a syscalls:sys_enter_* tracepoint (its format file):
 * 8 bytes of common fields, the syscall number, then the arguments. */
struct wd_sys_enter {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

/*
 * syscalls:sys_enter_<call>: a tracepoint cannot change the call, so it
 * only counts; enforcement is the signal wd_charge() sends.
 */
int wd_tracepoint(struct wd_sys_enter *ctx)
{
	struct wd_caller c = {};

	if (!wd_caller(&c))
		return 0;
#ifdef WD_RECORD
	/* The recorder: one record per call, nothing counted (recorder.h). */
	wd_record_call(&c, ctx->args[0], ctx->nr);
	return 0;
#endif
#ifdef WD_COUNT_CLASS
	/* args[0] is the fd of every read-family call; the verifier allows
	 * reads of the tracepoint record within its size. */
	if (!wd_class_has(wd_fd_file(ctx->args[0])))
		return 0;
#endif
	wd_charge(&c);
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
	struct wd_caller c = {};

	/* An earlier BPF-LSM program already refused: keep its answer. */
	if (ret)
		return ret;
	/* Cheapest filters first: the checks below read kernel memory. */
	if (!(mask & WD_MAY_READ) || !wd_caller(&c) || !wd_in_read_syscall())
		return 0;
	/* overlayfs re-checks the underlying file with a fake f_path whose
	 * dentry belongs to the overlay: count only the file whose f_inode
	 * is its own dentry's inode, so one read counts once. */
	__u64 inode = wd_peek(file, WD_OFF_FILE_F_INODE);
	__u64 dentry = wd_peek(file, WD_OFF_FILE_F_PATH_DENTRY);

	if (inode != wd_peek((const void *)dentry, WD_OFF_DENTRY_D_INODE))
		return 0;
#ifdef WD_COUNT_CLASS
	if (!wd_class_has(file))
		return 0;
#endif
	return wd_charge(&c) ? -WD_EPERM : 0;
}
#endif

/*
 * sched:sched_process_exit: when a thread-group leader exits, hand its
 * final counts to the front end and drop its entries, so a later process
 * that reuses the PID starts from zero and is not a target.
 */
int wd_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if ((__u32)id != tgid)
		return 0;
#if WD_KEY == WD_KEY_PROCESS
	struct wd_key key = { .id = tgid };
	struct wd_value *v = wd_state.lookup(&key);

	if (v) {
		wd_emit_budget(WD_EV_EXIT, tgid, tgid, v->window, v);
		wd_state.delete(&key);
	}
#else
	struct wd_proc *p = wd_procs.lookup(&tgid);

	if (p) {
		char comm[16] = {};

		/* The name at exit: the process may have exec'ed since its
		 * share was made. */
		bpf_get_current_comm(comm, sizeof(comm));
		wd_emit(WD_EV_PROC_EXIT, tgid, p->key, 0, p->allowed, p->limited,
			0, comm);
		wd_procs.delete(&tgid);
	}
#ifdef WD_MEMBERS
	struct wd_member *m = wd_member.lookup(&tgid);

	if (!m)
		return 0;
#if WD_KEY == WD_KEY_TREE
	/* The last process of a tree ends its budget. */
	struct wd_key root = { .id = m->root };
	struct wd_value *v = wd_state.lookup(&root);

	if (v && __sync_fetch_and_add(&v->members, -1) == 1) {
		wd_emit_budget(WD_EV_EXIT, tgid, root.id, v->window, v);
		wd_state.delete(&root);
	}
#endif
	wd_member.delete(&tgid);
#endif
#endif
	return 0;
}

#ifdef WD_FILTER_TARGETS
/*
 * task:task_newtask runs in the parent during fork/clone: a new process
 * (not a new thread) of a target becomes a target.  Membership follows
 * the fork, never the session or process group, so setsid(), setpgid()
 * or a double fork cannot leave it.
 */
TRACEPOINT_PROBE(task, task_newtask)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	__u32 child = args->pid;

	if (args->clone_flags & WD_CLONE_THREAD)
		return 0;
#ifdef WD_MEMBERS
	struct wd_member *pm = wd_member.lookup(&parent);

	if (!pm)
		return 0;
	struct wd_member cm = { .root = pm->root };

	/* A child that cannot be recorded would escape: report it. */
	if (wd_member.insert(&child, &cm)) {
		wd_health_inc(WD_H_TARGETS_FULL);
		return 0;
	}
#if WD_KEY == WD_KEY_TREE
	struct wd_key root = { .id = cm.root };
	struct wd_value *v = wd_state.lookup(&root);

	if (v)
		__sync_fetch_and_add(&v->members, 1);
#endif
#else
	struct wd_key pkey = { .id = parent };
	struct wd_key ckey = { .id = child };
	struct wd_value init = {};
	struct wd_value *pv = wd_state.lookup(&pkey);

	if (!pv)
		return 0;
	/* Window 0 has long expired: the child's first call opens its own. */
	__builtin_memcpy(init.comm, pv->comm, sizeof(init.comm));
	/* A child that cannot be recorded would escape: report it. */
	if (wd_state.insert(&ckey, &init))
		wd_health_inc(WD_H_TARGETS_FULL);
#endif
	return 0;
}
#endif
