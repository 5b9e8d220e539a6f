// SPDX-License-Identifier: GPL-2.0
/*
 * pause.c - `--jitter-mode pause` on the wall-clock timelines (the
 * MONOTONIC family, MONOTONIC_RAW, the TSC): a reading is the one from the
 * next switch point on, and the reader is held until that switch point.
 *
 * "Next" is counted on the reader's own time, not the machine's.  Since
 * its release after the last reading a thread has run (CPU time), waited
 * for a CPU (run-queue delay: the machine's load, not its work) and
 * slept (among it, the wait in the notification until the supervisor
 * runs).  Its own time is the switch point it was released at, plus its
 * CPU time beyond half a grain (the mediation's own CPU time per read,
 * and a VM's steal time, which counts as run time), plus its sleep beyond
 * ten grains; run-queue delay does not count.  So on a loaded machine,
 * where a read waits tens or hundreds of microseconds for the supervisor
 * and for a CPU, and is sometimes preempted for milliseconds, work shorter
 * than G(1 - J) + G/2, less the mediation's CPU time, still crosses
 * exactly one switch point, and a difference says nothing about it: not
 * even through how often a longer piece of work happens to be preempted.
 *
 * What is not counted makes a thread's clock lag the machine's; a sleep
 * of 10 ms or more (20 G for grains above 0.5 ms) brings it back to
 * within a grain, at a reading that follows a sleep and so carries no
 * work before it.  A thread that never sleeps that long falls behind by
 * its waits for a CPU (docs/jitter.md).
 *
 * A floor per timeline keeps every reading of the tree, from any thread,
 * at or above every reading given before: the clock never runs backwards
 * for one process, nor between two that compare readings.
 */
#include "pause.h"
#include "readings.h"
#include "state.h"

#define RUN_ALLOWANCE(g)   ((g) / 2)
#define SLEEP_ALLOWANCE(g) (10 * (g))
#define RESYNC_SLEEP(g)	   ((g) > 500000 ? 20 * (g) : 10000000)

static struct {
	__u64 v, sw;   /* the largest reading given, its switch point */
	long long due; /* that switch point in MONOTONIC ns */
	bool set;
} floors[NLINES];

static __u64 beyond(__u64 v, __u64 allowance)
{
	return v > allowance ? v - allowance : 0;
}

/* How far the thread's own time is behind MONOTONIC's `mono`, in ns. */
static __u64 lag_of(const struct task *t, __u64 mono, __u64 run, __u64 delay)
{
	__u64 cpu, waited, wall, sleep, own, g = cd.grain;

	if (!t || !t->rel_set)
		return 0;
	cpu = run - t->rel_run;
	waited = delay - t->rel_delay;
	wall = mono > t->rel_real ? mono - t->rel_real : 0;
	sleep = wall > cpu + waited ? wall - cpu - waited : 0;
	own = t->rel_virt + beyond(cpu, RUN_ALLOWANCE(g)) + beyond(sleep, SLEEP_ALLOWANCE(g));
	/* a long sleep brings it back to the machine's time, less a grain */
	if (sleep >= RESYNC_SLEEP(g) && own + g < mono)
		own = mono - g;
	return own < mono ? mono - own : 0;
}

/* One paused reading of timeline `line`, whose clock reads `now` in units
 * of num/den ns at MONOTONIC's `mono`; *due: the MONOTONIC ns to hold the
 * reader until, or 0. */
static __u64 pause_read(struct task *t, int line, const struct wd_jclamp *c, __u64 mono, __u64 now,
			__u64 num, __u64 den, __u64 *due)
{
	__u64 run = 0, delay = 0, v, s, own;
	bool counted = t && !thread_sched(t, &run, &delay);
	long long when;

	/* 128-bit products: a lag of hours in TSC cycles times 10^6 */
	own = now -
	      (counted ? (__u64)((unsigned __int128)lag_of(t, mono, run, delay) * den / num) : 0);
	/* never before this thread's last switch point on this line (the
	 * clocks are read a few ns apart: that must not repeat a reading) */
	if (counted && t->line_set[line] && own < t->line_sw[line])
		own = t->line_sw[line];
	s = wd_jitter_next(c, own, &v);
	when = (long long)mono + (long long)((__int128)((long long)s - (long long)now) *
					     (long long)num / (long long)den);
	if (floors[line].set && v < floors[line].v) {
		v = floors[line].v;
		s = floors[line].sw;
		when = floors[line].due;
	} else {
		floors[line].v = v;
		floors[line].sw = s;
		floors[line].due = when;
		floors[line].set = true;
	}
	if (counted) {
		t->rel_virt = (__u64)when;
		t->rel_real = when > (long long)mono ? (__u64)when : mono; /* pause_released() */
		t->rel_run = run;
		t->rel_delay = delay;
		t->rel_set = true;
		t->line_sw[line] = s;
		t->line_set[line] = true;
	}
	*due = when > (long long)mono ? (__u64)when : 0;
	return v;
}

/* A held reader is released now: its time since release starts here,
 * not at the switch point (the supervisor's own delay is not its time). */
void pause_released(struct task *t)
{
	if (t && t->rel_set)
		t->rel_real = now_ns(CLOCK_MONOTONIC);
}

__u64 pause_mono(struct task *t, __u64 *due)
{
	struct wd_jclamp c = clockd_clamp(WD_JT_MONO, cd.grain);
	__u64 mono = now_ns(CLOCK_MONOTONIC);

	return pause_read(t, LINE_MONO, &c, mono, mono, 1, 1, due);
}

__u64 pause_raw(struct task *t, __u64 *due)
{
	struct wd_jclamp c = clockd_clamp(WD_JT_MONO_RAW, cd.grain);
	__u64 mono = now_ns(CLOCK_MONOTONIC);

	return pause_read(t, LINE_RAW, &c, mono, now_ns(CLOCK_MONOTONIC_RAW), 1, 1, due);
}

__u64 pause_tsc(struct task *t, const struct wd_jclamp *c, __u64 tsc, __u64 *due)
{
	return pause_read(t, LINE_TSC, c, now_ns(CLOCK_MONOTONIC), tsc, 1000000, cd.tsc_khz, due);
}
