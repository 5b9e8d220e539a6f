// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - the supervisor's ptrace side: every process and thread of the
 * tree is a tracee (PTRACE_SEIZE of the command's process; forks, vforks
 * and clones are attached by the kernel before they run).
 *
 * At every exec, before the new image runs a single instruction: its
 * AT_SYSINFO_EHDR auxv entry becomes AT_IGNORE (so libc, Go and the rest
 * make real system calls) and the [vvar], [vvar_vclock] and [vdso]
 * mappings are unmapped, by a munmap the new image is made to run at its
 * entry point: a program that finds [vdso] in /proc/self/maps finds
 * nothing to call and no clock data to read.  The filter keeps
 * arch_prctl(ARCH_MAP_VDSO_*) from mapping it back.
 *
 * rdtsc and rdtscp fault (PR_SET_TSC, set before the first exec and
 * inherited): the SIGSEGV stops here and is answered with a clamped TSC,
 * as if the instruction had run (RDTSCP's ECX, the TSC_AUX, is 0).
 *
 * Group-stops behave as without ptrace (PTRACE_LISTEN), so SIGSTOP and
 * SIGCONT from the watchdog's throttle, a shell or a user work as usual;
 * every other signal is delivered unchanged.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clocks.h"
#include "memio.h"
#include "rewrite.h"
#include "state.h"
#include "trace.h"

#define OPTIONS                                                                                  \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | \
	 PTRACE_O_TRACECLONE | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL)
#define SYSCALL_STOP	 (SIGTRAP | 0x80)
#define AT_IGNORE_	 1
#define AT_SYSINFO_EHDR_ 33

int trace_seize(pid_t pid)
{
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)OPTIONS)) {
		clockd_log("PTRACE_SEIZE: %s", strerror(errno));
		return -1;
	}
	task_add(pid);
	cd.started = true;
	return 0;
}

static void resume(pid_t tid, int sig)
{
	ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig);
}

/* ---- exec: hide the vDSO --------------------------------------------------- */

/* Rewrite AT_SYSINFO_EHDR to AT_IGNORE in the auxv above the new stack
 * pointer: argc, argv[], NULL, envp[], NULL, then (type, value) pairs. */
static void auxv_ignore_vdso(pid_t tid, __u64 sp)
{
	static __u64 w[16384]; /* up to 128 KiB of the new stack */
	struct iovec l = { w, sizeof(w) }, r[33];
	ssize_t got;
	size_t i, n, k = 0;

	/* page by page: a transfer stops whole at the first unmapped page,
	 * which is where the stack ends */
	for (__u64 a = sp, left = sizeof(w); left && k < 33; k++) {
		__u64 len = 4096 - (a & 4095);

		if (len > left)
			len = left;
		r[k] = (struct iovec){ (void *)a, len };
		a += len;
		left -= len;
	}
	got = process_vm_readv(tid, &l, 1, r, k, 0);
	if (got < 16)
		return;
	n = (size_t)got / 8;
	i = 1 + w[0] + 1; /* past argc, argv[], NULL */
	while (i < n && w[i])
		i++; /* envp[] */
	for (i++; i + 1 < n && w[i]; i += 2)
		if (w[i] == AT_SYSINFO_EHDR_) {
			__u64 ignore = AT_IGNORE_;

			mem_write(tid, sp + i * 8, &ignore, sizeof(ignore));
		}
}

struct span {
	__u64 lo, hi;
};

/* The [vvar*] and [vdso] mappings; several spans if others lie between. */
static int vdso_spans(pid_t tid, struct span *out, int max)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char *name = strchr(line, '[');

		if (!name || (strncmp(name, "[vdso]", 6) && strncmp(name, "[vvar", 5)))
			continue;
		if (sscanf(line, "%llx-%llx", &lo, &hi) != 2)
			continue;
		if (n && out[n - 1].hi == lo) /* adjacent: one munmap */
			out[n - 1].hi = hi;
		else if (n < max)
			out[n++] = (struct span){ lo, hi };
	}
	fclose(f);
	return n;
}

/* Wait for tid's next syscall stop; a signal meanwhile is kept in *sig
 * and suppressed (sent again when done).  -1 if the tracee is gone. */
static int next_syscall_stop(pid_t tid, int *sig)
{
	int status;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0))
			return -1;
		if (waitpid(tid, &status, __WALL) != tid)
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			task_del(tid);
			return -1;
		}
		if (WSTOPSIG(status) == SYSCALL_STOP)
			return 0;
		if (!(status >> 16) && WSTOPSIG(status) != SIGTRAP)
			*sig = WSTOPSIG(status);
	}
}

/* Run munmap over each span in the stopped tracee, from a syscall
 * instruction put at its instruction pointer for the time being. */
static void unmap_spans(pid_t tid, const struct span *s, int n)
{
	struct user_regs_struct saved, r;
	long word;
	int sig = 0;

	if (ptrace(PTRACE_GETREGS, tid, 0, &saved))
		return;
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, tid, (void *)saved.rip, 0);
	if (errno)
		return;
	if (ptrace(PTRACE_POKETEXT, tid, (void *)saved.rip, (void *)((word & ~0xffffL) | 0x050f)))
		return;
	for (int i = 0; i < n; i++) {
		r = saved;
		r.rax = __NR_munmap;
		r.rdi = s[i].lo;
		r.rsi = s[i].hi - s[i].lo;
		if (ptrace(PTRACE_SETREGS, tid, 0, &r) || next_syscall_stop(tid, &sig) ||
		    next_syscall_stop(tid, &sig))
			return; /* gone */
		if (ptrace(PTRACE_GETREGS, tid, 0, &r) == 0 && r.rax)
			clockd_log("munmap of the vDSO in %d: %lld", tid, (long long)r.rax);
	}
	ptrace(PTRACE_POKETEXT, tid, (void *)saved.rip, (void *)word);
	ptrace(PTRACE_SETREGS, tid, 0, &saved);
	if (sig)
		syscall(SYS_tgkill, tid, tid, sig);
}

/* At the exec's syscall-exit stop: the new image, not yet run. */
static void hide_vdso(struct task *t)
{
	struct user_regs_struct r;
	struct span spans[4];
	int n;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &r))
		return;
	auxv_ignore_vdso(t->tid, r.rsp);
	n = vdso_spans(t->tid, spans, 4);
	if (n)
		unmap_spans(t->tid, spans, n);
}

static void on_exec(struct task *t)
{
	unsigned long former = 0;

	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &former);
	if ((pid_t)former != t->tid)
		task_del((pid_t)former); /* a thread exec'ed: it took the leader's TID */
	t->tgid = t->tid;
	t->rel_set = false;
	memset(t->line_set, 0, sizeof(t->line_set));
	if (t->schedstat_fd >= 0)
		close(t->schedstat_fd);
	t->schedstat_fd = -1;
	timeline_forget(t->tid, true);
	t->exec_fix = true;
	cd.n.exec++;
	/* The exec is still returning: its syscall-exit stop comes next, and
	 * from there the new image can be made to run a munmap. */
	ptrace(PTRACE_SYSCALL, t->tid, 0, 0);
}

/* ---- rdtsc / rdtscp -------------------------------------------------------- */

static bool emulate_tsc(struct task *t)
{
	struct user_regs_struct r;
	siginfo_t si;
	long word;
	int len;
	__u64 v, due;

	/* #GP from a TSD-disabled rdtsc is SIGSEGV with SI_KERNEL. */
	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) || si.si_code != SI_KERNEL)
		return false;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &r))
		return false;
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, t->tid, (void *)r.rip, 0);
	if (errno)
		return false;
	if ((word & 0xffff) == 0x310f)
		len = 2; /* 0f 31 rdtsc */
	else if ((word & 0xffffff) == 0xf9010f)
		len = 3; /* 0f 01 f9 rdtscp */
	else
		return false;
	cd.n.rdtsc++;
	v = tsc_read(t, &due);
	r.rax = v & 0xffffffffULL;
	r.rdx = v >> 32;
	if (len == 3)
		r.rcx = 0;
	r.rip += len;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &r))
		return false;
	if (due) {
		struct hold h = { .due = due, .tid = t->tid };

		t->held = true;
		hold_add(&h);
	} else {
		resume(t->tid, 0);
	}
	return true;
}

/* ---- seccomp RET_TRACE and the syscall-exit stop --------------------------- */

static void on_seccomp(struct task *t)
{
	struct user_regs_struct r;
	unsigned long data = 0;

	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &data);
	if (data == RW_NONE || data > RW_TIMERFD_SETTIME || ptrace(PTRACE_GETREGS, t->tid, 0, &r)) {
		resume(t->tid, 0); /* not ours: a filter of the target's own */
		return;
	}
	t->rewrite = (enum rewrite)data;
	cd.n.rewrite++;
	t->args[0] = r.rdi;
	t->args[1] = r.rsi;
	t->args[2] = r.rdx;
	t->args[3] = r.r10;
	t->args[4] = r.r8;
	t->args[5] = r.r9;
	ptrace(PTRACE_SYSCALL, t->tid, 0, 0); /* to the syscall-exit stop */
}

static void on_syscall_stop(struct task *t)
{
	struct user_regs_struct r;

	if (t->exec_fix) {
		t->exec_fix = false;
		hide_vdso(t);
	} else if (t->rewrite != RW_NONE && ptrace(PTRACE_GETREGS, t->tid, 0, &r) == 0) {
		rewrite_exit(t, (long long)r.rax);
	}
	t->rewrite = RW_NONE;
	resume(t->tid, 0);
}

/* ---- one waitpid() report -------------------------------------------------- */

void trace_event(pid_t tid, int status)
{
	struct task *t;
	unsigned long child;
	int sig, event;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		task_del(tid);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	t = task_add(tid); /* a new child may report before its parent's event */
	sig = WSTOPSIG(status);
	event = status >> 16;
	switch (event) {
	case PTRACE_EVENT_STOP:
		/* A group-stop: stay stopped until SIGCONT, as without ptrace.
		 * Otherwise (a new tracee, the end of a LISTEN): run on. */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, tid, 0, 0);
		else
			resume(tid, 0);
		return;
	case PTRACE_EVENT_EXEC:
		on_exec(t);
		return;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0)
			task_add((pid_t)child);
		resume(tid, 0);
		return;
	case PTRACE_EVENT_SECCOMP:
		on_seccomp(t);
		return;
	case 0:
		break;
	default:
		resume(tid, 0);
		return;
	}
	if (sig == SYSCALL_STOP)
		on_syscall_stop(t);
	else if (!(sig == SIGSEGV && emulate_tsc(t))) {
		if (sig == SIGSEGV || sig == SIGILL || sig == SIGBUS) {
			struct user_regs_struct r;
			siginfo_t si;

			ptrace(PTRACE_GETREGS, tid, 0, &r);
			ptrace(PTRACE_GETSIGINFO, tid, 0, &si);
			clockd_log("%d: signal %d code %d addr %p at rip %llx", tid, sig,
				   si.si_code, si.si_addr, (unsigned long long)r.rip);
		}
		cd.n.signal++;
		resume(tid, sig); /* deliver the signal unchanged */
	}
}
