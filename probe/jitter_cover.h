/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_cover.h - what the BPF modes of --jitter do with every clock
 * source a process has: the one table both front ends print
 * (--probe-features, the start lines).  src/jitter_bpf_report.c compiles
 * it; ethoswd/jitter_cover.py reads the string literals below (so keep
 * each row's five strings and its flag in this shape).
 *
 * A row: the source; in write mode its status and how; in quantize mode
 * its status and how ("" status: not shown in that mode); and 1 if it
 * needs the libc uprobes, which only -p and --comm targets get (system-
 * wide, the row is out of reach).  Status: clamped (the value is the keyed
 * clamp's), quantized (the reader is held to a switch point, the value is
 * the kernel's), counted (seen, not changed), out of reach.
 */
#ifndef WD_JITTER_COVER_H
#define WD_JITTER_COVER_H

/* How a row that needs the uprobes reads system-wide. */
#define WD_JB_NO_UPROBES                                                               \
	"system-wide: no uprobes (one on every process would add about 13 us to each " \
	"of its clock reads)"

static const struct wd_jb_row {
	const char *source, *w_status, *w_how, *q_status, *q_how;
	int uprobe;
} wd_jb_rows[] = {
	{ "clock_gettime REALTIME, MONOTONIC, BOOTTIME, TAI, *_COARSE through libc (vDSO)",
	  "clamped",
	  "uprobe and uretprobe on libc's clock_gettime: MONOTONIC clamped, the others at their "
	  "offset from it rounded to the grain",
	  "quantized",
	  "uprobe on libc's clock_gettime holds the caller to MONOTONIC's next switch point", 1 },
	{ "clock_gettime MONOTONIC_RAW through libc (vDSO)", "clamped",
	  "uretprobe on libc's clock_gettime, a timeline of its own", "quantized",
	  "held to MONOTONIC's next switch point", 1 },
	{ "clock_gettime PROCESS/THREAD_CPUTIME_ID, clock_getcpuclockid, pthread_getcpuclockid, clock()",
	  "clamped", "at the system call's exit, a timeline per thread and per process",
	  "quantized",
	  "held at the system call's entry to the next switch point of the caller's own CPU time, "
	  "estimated from the scheduler's clock",
	  0 },
	{ "clock_gettime of another thread's or process's CPU clock", "clamped",
	  "at the system call's exit", "counted",
	  "not held: that CPU time is not the caller's to wait for", 0 },
	{ "clock_gettime and gettimeofday as system calls (no vDSO, syscall(2))", "clamped",
	  "at the system call's exit", "quantized", "held at the system call's entry", 0 },
	{ "time, times as system calls", "out of reach",
	  "a tracepoint cannot change a return value; with pause: held at entry", "quantized",
	  "held at the system call's entry to MONOTONIC's next switch point", 0 },
	{ "getrusage SELF, THREAD", "clamped", "user and system time, each on a timeline",
	  "quantized", "held to the process's (thread's) next switch point of CPU time", 0 },
	{ "getrusage CHILDREN", "clamped", "user and system time, each on a timeline",
	  "out of reach", "changes only when a child is reaped: not held", 0 },
	{ "clock_getres", "clamped", "answers the grain: the system call, and libc's for the vDSO",
	  "out of reach", "answers the kernel's resolution, 1 ns", 0 },
	{ "gettimeofday, time through libc (vDSO IFUNC)", "out of reach",
	  "the IFUNC resolves straight into the vDSO: a uprobe on libc's symbol fires once per "
	  "process, at resolution",
	  "out of reach", "the IFUNC resolves straight into the vDSO, past libc", 0 },
	{ "the vDSO without libc: static binaries, Go, a direct __vdso_clock_gettime",
	  "out of reach", "no libc call to probe; only their system calls are seen", "out of reach",
	  "no libc call to probe; only their system calls are held", 0 },
	{ "rdtsc, rdtscp", "out of reach", "an instruction: nothing for BPF to hook",
	  "out of reach", "an instruction: nothing for BPF to hook", 0 },
	{ "/proc/PID/stat, /proc/PID/schedstat, /proc/uptime, perf_event_open", "out of reach",
	  "not rewritten", "out of reach", "not held", 0 },
	{ "getitimer, timer_gettime, timerfd_gettime, wait4 and waitid rusage", "out of reach",
	  "not rewritten", "out of reach", "not held", 0 },
	{ "counting threads, shared-memory counters", "out of reach",
	  "an implicit clock: nothing to mediate", "out of reach",
	  "an implicit clock: nothing to mediate", 0 },
	{ "timers as clocks: sleeps, timeouts, signals", "out of reach", "not rewritten",
	  "out of reach", "not held", 0 },
	{ "a new process of a target before its uprobes are attached", "out of reach",
	  "its libc clock reads, between its fork and the attach; see docs/jitter_bpf.md; its "
	  "system calls are mediated from the fork on",
	  "out of reach",
	  "its libc clock reads, between its fork and the attach; see docs/jitter_bpf.md; its "
	  "system calls are held from the fork on",
	  1 },
	{ "a second thread racing the rewrite", "out of reach",
	  "the kernel's value is in memory for the microseconds before it is rewritten", "", "",
	  0 },
	{ "cpuid cost (a VM exit)", "out of reach", "nothing to mediate", "out of reach",
	  "nothing to mediate", 0 },
	{ "the watchdog itself dying (SIGKILL)", "out of reach",
	  "its programs go with it: the clocks simply become unmediated; BPF mode cannot fail "
	  "closed",
	  "out of reach",
	  "its programs go with it: the clocks simply become unmediated; BPF mode cannot fail "
	  "closed",
	  0 },
};

#endif /* WD_JITTER_COVER_H */
