/* SPDX-License-Identifier: GPL-2.0 */
/*
 * watchdog.bpf.c - the attach shims around the limiter.
 *
 * One source, two builds (compat.h): watchdog.py compiles it with BCC at
 * run time with exactly one of WD_BACKEND_KPROBE, WD_BACKEND_LSM or
 * WD_BACKEND_TRACEPOINT defined; `make ethoswd` compiles every backend
 * into one CO-RE object and ethoswd loads only the chosen one's programs.
 * The front end attaches the shims to every route that moves a file's bytes into the
 * caller (docs/watchdog_guide.md, section 2): the read-family syscalls
 * read, pread64, readv, preadv, preadv2; sendfile64, splice and
 * copy_file_range; and io_uring's read and splice requests.  No kernel header is
 * included under BCC: its compile time is most of the start-up (15-20x
 * slower under a TCG VM); the few struct offsets the shims need come from
 * the running kernel's BTF, as -D constants under BCC and as CO-RE
 * relocations under libbpf (kernel_read.h), so no struct layout is guessed
 * here.
 *
 * With a read class (WD_ON_CLASS) each shim hands the
 * call's source file to the limiter: the LSM hook has it; the kprobe and
 * tracepoint shims find it from the source fd (the first syscall argument,
 * the second for sendfile), the io_uring shim from the request's fd (a
 * splice's source fd).
 */
#include "limiter.h"
#include "recorder.h"

#define WD_EPERM	1
#define WD_CLONE_THREAD 0x00010000

#ifdef WD_BACKEND_KPROBE
/*
 * kprobe on __x64_sys_<call>: fail the syscall before it runs.
 * bpf_override_return() is accepted by the verifier only in kprobe
 * programs, and the kernel attaches it only to functions on its
 * error-injection list (every syscall entry is).  `fd_arg` is the index
 * of the source fd among the syscall's arguments (a constant after
 * inlining).
 */
static __always_inline int wd_kprobe_src(struct pt_regs *ctx, int fd_arg)
{
	struct wd_caller c = {};

	/* A store, not an initializer: clang would copy a constant struct
	 * from .rodata, which BCC does not load. */
	c.fails = 1;
	if (!wd_caller(&c))
		return 0;
	if (WD_ON_CLASS) {
		/* The x86-64 syscall wrapper's one argument (in the probe's own
		 * di, wd_ctx_di in compat.h) is the user's saved registers;
		 * argument 0 is their di, argument 1 their si, read through
		 * probe_read_kernel. */
		const void *uregs = (const void *)wd_ctx_di(ctx);
		__u64 reg = fd_arg ? WD_OFF_REGS_SI : WD_OFF_REGS_DI;

		if (!wd_class_has(wd_fd_file(wd_peek(uregs, reg))))
			return 0;
	}
	if (wd_charge(&c))
		bpf_override_return(ctx, -WD_EPERM);
	return 0;
}

/* Source fd in the first argument: the read family, splice, copy_file_range. */
WD_SEC("kprobe")
int wd_kprobe(struct pt_regs *ctx)
{
	return wd_kprobe_src(ctx, 0);
}

/* sendfile(out_fd, in_fd, ...): the source is the second argument. */
WD_SEC("kprobe")
int wd_kprobe_fd1(struct pt_regs *ctx)
{
	return wd_kprobe_src(ctx, 1);
}

#if WD_BUILD(WD_ACTION != WD_ACT_MONITOR)
/*
 * io_uring_setup: no function on an io_uring read's path is on the
 * error-injection list, so this backend cannot fail one request, and a
 * signal cannot stop the requests a target has already handed to the
 * kernel (a batch, or an SQPOLL thread's).  So whenever it enforces, a
 * target may not make a ring at all: the call fails with -EPERM before
 * it runs (it is a syscall entry, so on the list).
 */
WD_SEC("kprobe")
int wd_kprobe_uring_setup(struct pt_regs *ctx)
{
	struct wd_caller c = {};

	if (wd_caller(&c))
		bpf_override_return(ctx, -WD_EPERM);
	return 0;
}
#endif
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
 * only counts; enforcement is the signal wd_charge() sends.  `arg` is the
 * index of the source fd (a constant after inlining).
 */
static __always_inline int wd_tracepoint_src(struct wd_sys_enter *ctx, int arg)
{
	struct wd_caller c = {};

	if (!wd_caller(&c))
		return 0;
#ifdef WD_RECORD
	/* The recorder: one record per call, nothing counted (recorder.h). */
	wd_record_call(&c, ctx->args[arg], ctx->nr);
	return 0;
#endif
	/* A constant index into the record: the verifier checks the read is
	 * within the record's size. */
	if (WD_ON_CLASS && !wd_class_has(wd_fd_file(ctx->args[arg])))
		return 0;
	wd_charge(&c);
	return 0;
}

/* Source fd in the first argument: the read family, splice, copy_file_range. */
WD_SEC("tracepoint")
int wd_tracepoint(struct wd_sys_enter *ctx)
{
	return wd_tracepoint_src(ctx, 0);
}

/* sendfile64(out_fd, in_fd, ...): the source is the second argument. */
WD_SEC("tracepoint")
int wd_tp_fd1(struct wd_sys_enter *ctx)
{
	return wd_tracepoint_src(ctx, 1);
}
#endif

#ifdef WD_URING
/* Set by watchdog.py with the kprobe and tracepoint backends when the
 * kernel has io_uring (always built for ethoswd, loaded only then).
 * The opcodes (include/uapi/linux/io_uring.h, a stable ABI) of the
 * requests that move a file's bytes into the process: into its memory,
 * or (SPLICE) into a pipe it drains.  A kernel older than READ_MULTISHOT
 * (6.7) or READV_FIXED (6.15) fails those before this tracepoint. */
#define WD_IORING_OP_READV	    1
#define WD_IORING_OP_READ_FIXED	    4
#define WD_IORING_OP_READ	    22
#define WD_IORING_OP_SPLICE	    30
#define WD_IORING_OP_READ_MULTISHOT 49
#define WD_IORING_OP_READV_FIXED    60
#define WD_REQ_F_FIXED_FILE	    1	       /* req->flags: fd is a registered-file index */
#define WD_SPLICE_F_FD_IN_FIXED	    (1U << 31) /* likewise for a splice's source */

/* The start of io_uring:io_uring_submit_sqe (6.1) / io_uring_submit_req
 * (6.4 on): the same up to the opcode in both; later fields moved. */
struct wd_uring_submit {
	__u64 common;
	__u64 ring;
	__u64 req; /* struct io_kiocb *, as a number */
	__u64 user_data;
	__u8 opcode;
};

static __always_inline int wd_uring_reads(__u8 op)
{
	return op == WD_IORING_OP_READ || op == WD_IORING_OP_READV ||
	       op == WD_IORING_OP_READ_FIXED || op == WD_IORING_OP_SPLICE ||
	       op == WD_IORING_OP_READ_MULTISHOT || op == WD_IORING_OP_READV_FIXED;
}

/*
 * With a read class: is the request's source file in it?  The file is
 * looked up when the request is issued, after this point, so its fd is
 * read from the request, which the opcode's prep has filled: req->cqe.fd
 * for the reads; for SPLICE (whose req->cqe.fd is the pipe it fills) the
 * splice's own splice_fd_in, in the command area at the start of the
 * request (io_kiocb_to_cmd).  An fd that is an index into the ring's
 * registered files is not followed: such a request counts whatever its
 * file (too much, never too little).  req is a number to the verifier:
 * helper reads.
 */
static __always_inline int wd_uring_in_class(const void *req, __u8 op)
{
	__u64 fd;

	if (op == WD_IORING_OP_SPLICE) {
		const char *sp = (const char *)req + WD_OFF_IO_KIOCB_CMD;

		/* The low half of the word read is the 32-bit field. */
		if ((__u32)wd_peek(sp, WD_OFF_IO_SPLICE_FLAGS) & WD_SPLICE_F_FD_IN_FIXED)
			return 1;
		fd = (__u32)wd_peek(sp, WD_OFF_IO_SPLICE_FD_IN);
	} else {
		if (wd_peek(req, WD_OFF_IO_KIOCB_FLAGS) & WD_REQ_F_FIXED_FILE)
			return 1;
		fd = (__u32)wd_peek(req, WD_OFF_IO_KIOCB_CQE_FD);
	}
	/* A negative fd reads as a huge one: no file, not in the class. */
	return wd_class_has(wd_fd_file(fd));
}

/*
 * io_uring:io_uring_submit_{sqe,req}: fires once per request, in the task
 * that submits it (io_uring_enter, or the ring's SQPOLL thread, which is a
 * thread of the same process), after its prep and before it is issued.
 * A request that moves a file's bytes counts as one read call of its
 * submitter.  The request itself cannot be failed from here (see
 * wd_kprobe_uring_setup for the kprobe backend's refusal).  Under
 * throttle a stop cannot hold back requests already handed to the kernel
 * (the rest of a batch, an SQPOLL thread's): wd_charge's escalation
 * (limiter.h, wd_escalate) kills the process when a submitting thread
 * goes past the limit twice in one window, as it does for any thread.
 */
WD_SEC("tracepoint")
int wd_uring_submit(struct wd_uring_submit *ctx)
{
	struct wd_caller c = {};
	__u8 op = ctx->opcode;

	if (!wd_uring_reads(op) || !wd_caller(&c))
		return 0;
	if (WD_ON_CLASS && !wd_uring_in_class((const void *)ctx->req, op))
		return 0;
	wd_charge(&c);
	return 0;
}
#endif

#ifdef WD_BACKEND_LSM
#define WD_MAY_READ	0x4
#define WD_PF_IO_WORKER 0x00000010

/* What a MAY_READ check of the current task is part of. */
#define WD_ROUTE_NONE 0 /* not a read route (getdents, exec, ...) */
#define WD_ROUTE_CALL 1 /* one check per call */
#define WD_ROUTE_ONCE 2 /* several checks per call: count the first */

/* Threads inside sendfile or copy_file_range whose first MAY_READ check
 * is still to come (set at syscall entry by wd_arm_once).  LRU: an entry
 * of a thread that died in between is dropped when room is needed. */
WD_LRU_HASH(wd_once, __u32, __u8, WD_ONCE_MAX);

static __always_inline int wd_read_route(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 flags = wd_peek(task, WD_OFF_TASK_FLAGS);

	/* An io-wq worker or SQPOLL thread runs only io_uring requests, on
	 * behalf of the process it belongs to (it is one of its threads, so
	 * its TGID is the submitter's).  Its saved registers are a copy of
	 * whatever task created it, so its syscall number means nothing. */
	if (flags & WD_PF_IO_WORKER)
		return WD_ROUTE_CALL;
	/* Kernel threads run no syscalls; their saved orig_ax is junk. */
	if (flags & WD_PF_KTHREAD)
		return WD_ROUTE_NONE;
	/* bpf_task_pt_regs() takes the trusted BTF task pointer the helper
	 * above returned, as the verifier requires. */
	void *regs = (void *)bpf_task_pt_regs(task);
	__u64 nr = wd_peek(regs, WD_OFF_REGS_ORIG_AX);

	/* io_uring_enter: a read request issued inline, in the submitter. */
	if (nr == WD_NR_READ || nr == WD_NR_PREAD64 || nr == WD_NR_READV || nr == WD_NR_PREADV ||
	    nr == WD_NR_PREADV2 || nr == WD_NR_SPLICE || nr == WD_NR_IO_URING_ENTER)
		return WD_ROUTE_CALL;
	/* sendfile and copy_file_range check the source in their own body
	 * and again in do_splice_to() for each chunk they move. */
	if (nr == WD_NR_SENDFILE || nr == WD_NR_COPY_FILE_RANGE)
		return WD_ROUTE_ONCE;
	return WD_ROUTE_NONE;
}

/*
 * fentry on __x64_sys_sendfile64 and __x64_sys_copy_file_range: arm the
 * thread's one count for this call.  Set at every entry, so an entry left
 * by a call that failed before its check is simply set again.
 */
static __always_inline int wd_arm_once(void)
{
	struct wd_caller c = {};
	__u32 tid = bpf_get_current_pid_tgid();
	__u8 one = 1;

	/* Only for callers the limiter acts on: others never consume it. */
	if (wd_caller(&c))
		wd_update(wd_once, &tid, &one);
	return 0;
}

WD_SEC("fentry/__x64_sys_sendfile64")
int kfunc____x64_sys_sendfile64(unsigned long long *ctx)
{
	return wd_arm_once();
}

WD_SEC("fentry/__x64_sys_copy_file_range")
int kfunc____x64_sys_copy_file_range(unsigned long long *ctx)
{
	return wd_arm_once();
}

/*
 * file_permission(file, mask, ret): runs from rw_verify_area() for every
 * read, so it sees every route whatever the entry point, io_uring's reads
 * included (run inline in io_uring_enter or by an io-wq worker).  It also
 * fires for getdents, exec and the like (filtered by syscall number
 * above), for the write side of a copy (MAY_WRITE) and twice per read on
 * overlayfs (filtered below).
 */
WD_SEC("lsm/file_permission")
int lsm__file_permission(unsigned long long *ctx)
{
	const void *file = (const void *)ctx[0];
	int mask = (int)ctx[1];
	int ret = (int)ctx[2];
	struct wd_caller c = {};
	int route;

	/* An earlier BPF-LSM program already refused: keep its answer. */
	if (ret)
		return ret;
	c.fails = 1; /* a store: see wd_kprobe_src */
	/* Cheapest filters first: the checks below read kernel memory. */
	if (!(mask & WD_MAY_READ) || !wd_caller(&c))
		return 0;
	route = wd_read_route();
	if (route == WD_ROUTE_NONE)
		return 0;
	/* overlayfs re-checks the underlying file with a fake f_path whose
	 * dentry belongs to the overlay: count only the file whose f_inode
	 * is its own dentry's inode, so one read counts once. */
	__u64 inode = wd_peek(file, WD_OFF_FILE_F_INODE);
	__u64 dentry = wd_peek(file, WD_OFF_FILE_F_PATH_DENTRY);

	if (inode != wd_peek((const void *)dentry, WD_OFF_DENTRY_D_INODE))
		return 0;
	if (WD_ON_CLASS && !wd_class_has(file))
		return 0;
	if (route == WD_ROUTE_ONCE) {
		__u32 tid = bpf_get_current_pid_tgid();

		/* Only this thread touches its entry, so delete() succeeding
		 * (0) means this is the call's first check: count it. */
		if (wd_delete(wd_once, &tid))
			return 0;
	}
	return wd_charge(&c) ? -WD_EPERM : 0;
}
#endif

#if WD_BUILD(WD_ACTION == WD_ACT_THROTTLE)
/*
 * Raw tracepoint signal_generate(sig, info, task, group, result), attached
 * with throttle only: it fires for every signal generated, in the sending
 * task, once the kernel has acted on it.  For SIGCONT that means the
 * target's process is already resumed (prepare_signal() runs first,
 * whether the signal is then ignored, blocked or queued, so `result` is
 * not looked at), but its threads cannot run yet: the sender still holds
 * the target's siglock, which each needs on its way out of the stop, so
 * the mark wd_resumed() makes is there before any of them calls again.
 * `task` is the thread the signal was sent to; SIGCONT to any thread
 * resumes its whole process, so the mark goes to task->tgid.  The raw
 * tracepoint rather than the signal:signal_generate event because the
 * event's record has only the thread's pid.
 */
WD_SEC("raw_tp/signal_generate")
int wd_sigcont(unsigned long long *ctx)
{
	/* ctx holds the arguments as u64s; a read at a constant index is what
	 * the verifier accepts (the kernel checks at attach that it reads no
	 * further than the tracepoint's five). */
	if ((int)ctx[0] != WD_SIGCONT)
		return 0;
	/* info and task are plain numbers to the verifier here: helper reads.
	 * info may be one of two special values instead of a pointer, turned
	 * into codes as the tracepoint's own record does: SEND_SIG_NOINFO (0,
	 * SI_USER) and SEND_SIG_PRIV (1, SI_KERNEL). */
	__u64 info = ctx[1];
	int code = info == 0 ? WD_SI_USER :
		   info == 1 ? WD_SI_KERNEL :
			       (int)wd_peek((const void *)info, WD_OFF_SIGINFO_CODE);

	wd_resumed((__u32)wd_peek((const void *)ctx[2], WD_OFF_TASK_TGID), code);
	return 0;
}
#endif

/*
 * sched:sched_process_exit: when a thread-group leader exits, hand its
 * final counts to the front end and drop its entries, so a later process
 * that reuses the PID starts from zero and is not a target.
 */
WD_SEC("tracepoint/sched/sched_process_exit")
int wd_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	/* The budget of its own a process has with the process key, or with
	 * the uid and cgroup keys where it fell back (limiter.h). */
	struct wd_key own = { .id = tgid, .uid = 0, .kind = WD_KEY_PROCESS };
	struct wd_value *v;

	if ((__u32)id != tgid)
		return 0;
	/* A later process with this PID must not inherit a stop or its mark. */
	if (WD_ACTION == WD_ACT_THROTTLE)
		wd_delete(wd_stops, &tgid);
	/* Its share of a shared budget first: the front end lists it under
	 * the budget's final row, which may end below. */
	struct wd_proc *p = WD_SHARED ? wd_lookup(wd_procs, &tgid) : NULL;

	if (p) {
		char comm[WD_COMM_LEN] = {};
		struct wd_key pk = { .id = p->key, .uid = p->key_uid, .kind = p->key_kind };

		/* The name at exit: the process may have exec'ed since its
		 * share was made. */
		bpf_get_current_comm(comm, sizeof(comm));
		wd_emit(WD_EV_PROC_EXIT, tgid, &pk, 0, p->allowed, p->limited, 0, comm);
		wd_delete(wd_procs, &tgid);
	}
	if (!WD_SHARED || WD_KEY == WD_KEY_UID || WD_KEY == WD_KEY_CGROUP) {
		v = wd_lookup(wd_state, &own);
		if (v) {
			wd_emit_budget(WD_EV_EXIT, tgid, &own, v->window, v);
			wd_delete(wd_state, &own);
		}
	}
	if (!WD_ON_MEMBERS)
		return 0;
	struct wd_member *m = wd_lookup(wd_member, &tgid);

	if (!m)
		return 0;
	if (WD_KEY == WD_KEY_TREE) {
		/* The last process of a tree ends its budget (the one of the
		 * root's user, which counts the members). */
		struct wd_key root = { .id = m->root, .uid = m->uid, .kind = WD_KEY_TREE };

		v = wd_lookup(wd_state, &root);
		if (v && __sync_fetch_and_add(&v->members, -1) == 1) {
			wd_emit_budget(WD_EV_EXIT, tgid, &root, v->window, v);
			wd_delete(wd_state, &root);
		}
	}
	wd_delete(wd_member, &tgid);
	return 0;
}

#if WD_BUILD(WD_ON_TARGETS)
/* The start of the task:task_newtask record (its format file, the same
 * from 6.1 to 6.18): 8 bytes of common fields, then the new task. */
struct wd_task_newtask {
	__u64 common;
	__s32 pid;
	char comm[WD_COMM_LEN];
	__u64 clone_flags;
};

/*
 * task:task_newtask runs in the parent during fork/clone: a new process
 * (not a new thread) of a target becomes a target.  Membership follows
 * the fork, never the session or process group, so setsid(), setpgid()
 * or a double fork cannot leave it.
 */
WD_SEC("tracepoint/task/task_newtask")
int wd_newtask(struct wd_task_newtask *ctx)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	__u32 child = ctx->pid;

	if (ctx->clone_flags & WD_CLONE_THREAD)
		return 0;
	if (WD_ON_MEMBERS) {
		struct wd_member *pm = wd_lookup(wd_member, &parent);

		if (!pm)
			return 0;
		struct wd_member cm = { .root = pm->root, .uid = pm->uid };

		/* A child that cannot be recorded would escape: report it. */
		if (wd_insert(wd_member, &child, &cm)) {
			wd_health_inc(WD_H_TARGETS_FULL);
			return 0;
		}
		if (WD_KEY == WD_KEY_TREE) {
			struct wd_key root = { .id = cm.root, .uid = cm.uid, .kind = WD_KEY_TREE };
			struct wd_value *v = wd_lookup(wd_state, &root);

			if (v)
				__sync_fetch_and_add(&v->members, 1);
		}
		return 0;
	}
	struct wd_key pkey = { .id = parent };
	struct wd_key ckey = { .id = child };
	struct wd_value init = {};
	struct wd_value *pv = wd_lookup(wd_state, &pkey);

	if (!pv)
		return 0;
	/* Window 0 has long expired: the child's first call opens its own. */
	__builtin_memcpy(init.comm, pv->comm, sizeof(init.comm));
	/* A child that cannot be recorded would escape: report it. */
	if (wd_insert(wd_state, &ckey, &init))
		wd_health_inc(WD_H_TARGETS_FULL);
	return 0;
}
#endif
