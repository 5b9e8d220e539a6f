/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clockd.h - ethos-clockd, the launcher-mode clock supervisor of
 * `--jitter GRAIN` (docs/jitter.md).  One process, one thread, started by
 * either front end for `-- CMD`; it traces the command's whole tree
 * (ptrace) and answers its clock system calls (seccomp user notification)
 * with readings of the keyed clamp (probe/jitter_clamp.h).
 *
 *   clockd.c     main: arguments, secret, TSC rate, seize, the event loop,
 *                pause holds
 *   filter.c     the seccomp program the command's process installs
 *   trace.c      ptrace stops: exec (vDSO hidden), rdtsc/rdtscp emulated,
 *                group-stops, exits
 *   rewrite.c    system calls fixed at their exit (rusage, timers)
 *   notify.c     system calls answered in full (clock_gettime, ...)
 *   procfiles.c  opens of /proc files that carry CPU times
 *   clocks.c     the clocks: families, CPU-time timelines, task table
 *   pause.c      pause on the wall-clock timelines: each thread's own time
 */
#ifndef WD_CLOCKD_H
#define WD_CLOCKD_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "jitter_clamp.h"

#define CLOCKD_PROG "ethos-clockd"

/* The descriptors a front end hands over (see src/jitter_launch.c). */
#define CLOCKD_FD_CHILD 3 /* SEQPACKET to the command's process */
#define CLOCKD_FD_CTL	4 /* from the watchdog: "=" at a clean stop */
#define CLOCKD_FD_READY 5 /* to the watchdog: "ok" or one error line */

/* Kernel constants glibc 2.36 does not name. */
#define NS_PER_S 1000000000ULL
#define TICK_NS	 10000000ULL /* USER_HZ 100: times(), /proc/PID/stat */

enum jmode { JM_CLAMP, JM_PAUSE };

/* Seccomp RET_TRACE data: which system call is fixed at its exit. */
enum rewrite {
	RW_NONE,
	RW_GETRUSAGE,
	RW_WAIT4,
	RW_WAITID,
	RW_GETITIMER,
	RW_SETITIMER,
	RW_TIMER_GETTIME,
	RW_TIMER_SETTIME,
	RW_TIMERFD_GETTIME,
	RW_TIMERFD_SETTIME,
};

/* One traced thread. */
struct task {
	pid_t tid, tgid;
	int schedstat_fd;     /* /proc/TGID/task/TID/schedstat, -1 if not open */
	enum rewrite rewrite; /* pending exit fix, RW_NONE if none */
	unsigned long long args[6];
	bool held;     /* a paused rdtsc: resumed by a hold */
	bool exec_fix; /* exec'ed: hide the vDSO at the syscall exit */
	/* pause (pause.c): where its last wall-clock reading left it */
	bool rel_set;
	__u64 rel_virt, rel_real; /* its own time, and MONOTONIC, at release */
	__u64 rel_run, rel_delay; /* its run time and run-queue delay then */
	__u64 line_sw[3];	  /* its last switch point per line (pause.c) */
	bool line_set[3];
};

/* A reply that waits for its switch point (pause). */
struct hold {
	__u64 due;     /* CLOCK_MONOTONIC ns */
	bool notif;    /* a notification reply, else a PTRACE_CONT */
	__u64 id;      /* the notification */
	long long val; /* its return value */
	pid_t tid;     /* the tracee to resume */
};

/* Everything the supervisor knows. */
struct clockd {
	enum jmode mode;
	__u64 grain;	/* ns */
	__u32 jfrac;	/* J * 65536 */
	__u64 secret;	/* getrandom, per run */
	__u64 tsc_khz;	/* measured at start */
	pid_t root;	/* the command's process */
	int notify_fd;	/* seccomp listener, -1 until the command sends it */
	int child_sock; /* CLOCKD_FD_CHILD, -1 once the listener came */
	int ctl_fd;	/* CLOCKD_FD_CTL, -1 once closed */
	bool detached;	/* "=": keep serving after the watchdog exits */
	bool started;	/* the root has been seen */
	int ntasks;
	__u64 off_real, off_boot, off_tai; /* family offsets, multiples of G */
	bool offs_set;
	__u64 off_jiffies; /* times()'s tick count minus MONOTONIC, in ns */
	bool jiffies_set;
	struct hold *holds;
	int nholds, capholds;
	char last_error[256]; /* for tests: what went wrong last */
	struct {	      /* CLOCKD_STATS=1: printed at exit */
		unsigned long notify, cont, procfile, rdtsc, exec, rewrite, hold, signal;
	} n;
};

extern struct clockd cd;

/* ---- filter.c ---- */
/* The program, and its length in instructions. */
const struct sock_filter *clockd_filter(unsigned short *len);

/* ---- clocks.c ---- */
struct wd_jclamp clockd_clamp(__u64 timeline, __u64 grain);
__u64 now_ns(clockid_t id);
/* A family clock (CLOCK_REALTIME ... TAI, their COARSE and ALARM ids):
 * 0 with *ns, or -errno.  *due gets the pause release time (MONOTONIC ns)
 * or 0. */
int family_read(struct task *t, clockid_t id, __u64 *ns, __u64 *due);
void track_jiffies(void); /* before a times() answer: cd.off_jiffies */
/* A CPU-time clock id as the caller (tid, tgid) named it: 0, or -errno. */
int cpu_clock_read(clockid_t id, pid_t tid, pid_t tgid, __u64 *ns);
/* A process's / a thread's CPU time through its timeline (clamped, or
 * skipped on its virtual clock under pause); raw > 0 if known. */
__u64 cpu_timeline(__u64 timeline, __u64 raw);
/* Split a clamped total into user/system by the kernel's own ratio, each
 * never below what this timeline gave before (cputime_adjust's rule). */
void cpu_split(__u64 timeline, __u64 total, __u64 ku, __u64 ks, __u64 *u, __u64 *s);
/* A plain clamp of a value on its own timeline (no pause). */
__u64 clamp_other(__u64 timeline, __u64 v);
__u64 thread_cpu_ns(struct task *t, pid_t tid, pid_t tgid);
__u64 process_cpu_ns(pid_t tgid);
__u64 tsc_read(struct task *t, __u64 *due);
int thread_sched(struct task *t, __u64 *run, __u64 *delay); /* 0, or -1 */

/* ---- pause.c: pause on the wall-clock timelines (t may be NULL) ---- */
enum { LINE_MONO, LINE_RAW, LINE_TSC, NLINES };
__u64 pause_mono(struct task *t, __u64 *due);
__u64 pause_raw(struct task *t, __u64 *due);
__u64 pause_tsc(struct task *t, const struct wd_jclamp *c, __u64 tsc, __u64 *due);
void pause_released(struct task *t); /* a held reader goes on now */

struct task *task_get(pid_t tid);
struct task *task_add(pid_t tid);
void task_del(pid_t tid);
pid_t tgid_of(pid_t tid);
void timeline_forget(pid_t tid, bool leader);

/* ---- coverage.c ---- */
int clockd_coverage(void); /* --coverage: the table on stdout */

/* ---- clockd.c ---- */
void hold_add(const struct hold *h);
void clockd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- trace.c ---- */
int trace_seize(pid_t pid);
void trace_event(pid_t tid, int status);

/* ---- rewrite.c ---- */
void rewrite_exit(struct task *t, long long ret);

/* ---- notify.c ---- */
void notify_handle(int fd);
int mem_read(pid_t tid, __u64 addr, void *buf, size_t len);
int mem_write(pid_t tid, __u64 addr, const void *buf, size_t len);

/* A small file's text, NUL-terminated: its length, or -1. */
ssize_t read_text(const char *path, char *buf, size_t size);
/* utime, stime, cutime, cstime of a process (tid 0) or thread, in ticks. */
int stat_ticks(pid_t tgid, pid_t tid, unsigned long long t[4]);

/* ---- procfiles.c ---- */
/* An open/openat/openat2: answers the notification itself (an fd of
 * clamped contents, or an error) and returns true, or false for
 * "continue: not a mediated file". */
bool procfile_open(int fd, const struct seccomp_notif *n, int dirfd, __u64 path, int flags);

#endif /* WD_CLOCKD_H */
