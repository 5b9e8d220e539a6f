// SPDX-License-Identifier: GPL-2.0
/*
 * coverage.c - `ethos-clockd --coverage`: every clock source a process
 * has, and what launcher mode does with it, one "source TAB status TAB
 * how" line each.  Both front ends print these lines (--probe-features,
 * and the start lines of a --jitter run), so the table lives only here,
 * next to the code it describes.
 *
 * status: clamped (the value is the keyed clamp's), refused (the call
 * fails), out of reach (nothing here changes it).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coverage.h"
#include "state.h"

#define ARCH_SET_CPUID 0x1012

static const char *const rows[][3] = {
	{ "clock_gettime REALTIME, MONOTONIC, BOOTTIME, TAI, *_COARSE, *_ALARM", "clamped",
	  "vDSO unmapped at every exec, answered by ethos-clockd on one timeline" },
	{ "clock_gettime MONOTONIC_RAW", "clamped",
	  "answered by ethos-clockd on a timeline of its own" },
	{ "clock_gettime PROCESS/THREAD_CPUTIME_ID, clock_getcpuclockid, pthread_getcpuclockid",
	  "clamped", "from the process CPU clock and /proc/TID/schedstat, a timeline each" },
	{ "gettimeofday, time, times, sysinfo, adjtimex, clock_adjtime", "clamped",
	  "answered by ethos-clockd; setting a clock is refused (EPERM)" },
	{ "getrusage, wait4 and waitid rusage", "clamped",
	  "time fields rewritten at the system call's exit" },
	{ "getitimer, timer_gettime, timerfd_gettime, old values of the *settime calls", "clamped",
	  "time left rewritten at the system call's exit" },
	{ "rdtsc, rdtscp", "clamped",
	  "PR_SET_TSC makes each fault; emulated with a clamped TSC (TSC_AUX 0)" },
	{ "/proc/PID/stat, /proc/PID/schedstat (and task/TID/), /proc/uptime", "clamped",
	  "opened by ethos-clockd: a copy with the times clamped, taken at open" },
	{ "/proc/PID/sched", "refused", "EACCES: a scheduler debug file of ns clocks" },
	{ "perf_event_open", "refused", "EACCES, as perf_event_paranoid would" },
	{ "the vsyscall page's gettimeofday and time", "clamped",
	  "the kernel's emulation runs the filter" },
	{ "static, Go and other libc-free binaries", "clamped",
	  "no vDSO and the same filter: the kernel entry is what is mediated" },
	{ "ia32 and x32 system calls (int 0x80 included)", "refused",
	  "ENOSYS: 32-bit programs do not run" },
	{ "clone3, clone(CLONE_UNTRACED), io_uring_setup, seccomp(NEW_LISTENER), "
	  "prctl(PR_SET_TSC), arch_prctl(ARCH_MAP_VDSO_*)",
	  "refused",
	  "ENOSYS for clone3 (glibc falls back to clone), EPERM: ways around the tracer "
	  "and the filter" },
	{ "counting threads, shared-memory counters", "out of reach",
	  "an implicit clock: nothing to mediate" },
	{ "timers as clocks: sleeps, timeouts, signals, time left of select/ppoll/nanosleep",
	  "out of reach", "not rewritten" },
	{ "file, socket and network timestamps; /proc/stat, /proc/schedstat, /proc/interrupts, "
	  "/sys",
	  "out of reach", "not rewritten" },
	{ "a second thread racing the caller (a rusage buffer, an open's path)", "out of reach",
	  "a rusage buffer is raw for the microseconds before its rewrite; a path can be "
	  "swapped between the check and the kernel's lookup" },
};

/* Can a process make cpuid fault here?  Asked in a child: it sticks. */
static const char *cpuid_faulting(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) ? (errno == ENODEV ? 1 : 2) : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return "cpuid faulting could not be probed";
	switch (WEXITSTATUS(status)) {
	case 0:
		return "CPUID faulting exists here but is not used";
	case 1:
		return "no CPUID faulting on this machine: ARCH_SET_CPUID says ENODEV";
	}
	return "ARCH_SET_CPUID refused";
}

int clockd_coverage(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("%s\t%s\t%s\n", rows[i][0], rows[i][1], rows[i][2]);
	printf("cpuid cost (a VM exit here)\tout of reach\t%s\n", cpuid_faulting());
	return fflush(stdout) ? 1 : 0;
}
