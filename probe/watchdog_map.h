/* SPDX-License-Identifier: GPL-2.0 */
/*
 * watchdog_map.h - the layout shared by the eBPF probe and the front end.
 *
 * The front end reads this file to build matching ctypes structures and
 * to learn the defaults, so keep it plain: #defines and fixed-width
 * structs only, no kernel includes.
 *
 * Per-process state lives in a BPF hash map keyed by process ID (the
 * TGID: every thread of a process shares one budget).  The limiter is a
 * fixed window anchored at a process's first call: the count restarts
 * once TIME_WINDOW has passed since the window began.
 */
#ifndef WATCHDOG_MAP_H
#define WATCHDOG_MAP_H

/* Defaults: at most MAX_CALLS read calls per TIME_WINDOW per process. */
#define WD_DEFAULT_MAX_CALLS	100
#define WD_DEFAULT_WINDOW_MS	500

/* Bounds the front end enforces on user input.  The count of a window is
 * 32 bits and stops at WD_COUNT_MAX, leaving room for concurrent adds. */
#define WD_COUNT_MAX		0xfffff000U
#define WD_MAX_CALLS_LIMIT	4000000000ULL
#define WD_WINDOW_MS_LIMIT	86400000ULL	/* one day, far below the 2^31 ms wrap */

/* Entries in the per-process map; overridable with -DWD_MAX_PIDS. */
#ifndef WD_MAX_PIDS
#define WD_MAX_PIDS		65536
#endif

/* Actions, chosen by the front end at start (compiled in as WD_ACTION). */
#define WD_ACT_MONITOR		0	/* count and report, change nothing */
#define WD_ACT_DENY		1	/* fail the call with -EPERM */
#define WD_ACT_THROTTLE		2	/* SIGSTOP now, SIGCONT at window end */
#define WD_ACT_KILL		3	/* SIGKILL */

/* Event kinds sent through the ring buffer. */
#define WD_EV_LIMIT		1	/* first call over the limit in a window */
#define WD_EV_EXIT		2	/* a tracked process exited: final counts */

/* Slots of the per-CPU health counters (map wd_health). */
#define WD_H_MAP_FULL		0	/* calls not tracked: the state map was full */
#define WD_H_CONTENDED		1	/* calls refused after WD_CAS_TRIES lost races */
#define WD_H_EVENTS_LOST	2	/* ring buffer full: an event was dropped */
#define WD_H_TARGETS_FULL	3	/* a target's child could not get an entry */
#define WD_H_SLOTS		4

/* Key of the per-process map. */
struct wd_key {
	__u32 tgid;			/* process ID (thread group ID) */
};

/*
 * Value of the per-process map.  `window` packs the current window and
 * its count into one 64-bit word so that one compare-and-swap updates
 * both: bits 63..32 hold the window start in milliseconds of
 * bpf_ktime_get_ns() (mod 2^32), bits 31..0 the calls counted in it.
 */
struct wd_value {
	__u64 window;			/* (start_ms << 32) | calls_in_window */
	__u64 allowed;			/* calls within the limit, ever */
	__u64 limited;			/* calls over the limit, ever */
	__u64 limited_windows;		/* windows in which the limit was hit */
	char comm[16];			/* command name when first seen */
};

/* Run-time settings, one entry in the array map wd_config. */
struct wd_config {
	__u32 max_calls;		/* calls allowed per window */
	__u32 window_ms;		/* window length in milliseconds */
};

/* Ring-buffer record for WD_EV_LIMIT and WD_EV_EXIT. */
struct wd_event {
	__u32 kind;			/* WD_EV_* */
	__u32 tgid;
	__u32 window_start_ms;		/* start of the window concerned */
	__u32 calls;			/* calls in that window so far */
	__u64 allowed;			/* totals at the time of the event */
	__u64 limited;
	__u64 limited_windows;
	char comm[16];
};

#endif /* WATCHDOG_MAP_H */
