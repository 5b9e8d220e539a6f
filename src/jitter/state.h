/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.h - what every part of ethos-clockd shares (state.c): the descriptors a
 * front end hands over, the traced threads, the pause holds and the one
 * state `cd`.
 */
#ifndef WD_CLOCKD_STATE_H
#define WD_CLOCKD_STATE_H

#include <linux/types.h>
#include <stdbool.h>
#include <sys/types.h>

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

/* A reply that waits for its switch point: queued for the loop (state.c). */
void hold_add(const struct hold *h);
void clockd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
