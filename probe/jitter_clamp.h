/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_clamp.h - the keyed clamp every mediated clock reading goes
 * through (`--jitter GRAIN`): the launcher-mode supervisor (src/jitter/)
 * and the BPF modes include this one header.  Integer-only, no loops, no
 * division but one by the grain: usable from a BPF program as is.
 *
 * One timeline (a clock, a thread's CPU time, the TSC ...) is cut into
 * intervals of GRAIN units.  Each interval [b, b+G) has one switch point
 *
 *        s(b) = b + G(1-J)/2 + G*J*U(b),    U(b) = fmix64(b ^ key) / 2^64
 *
 *   b            s(b)           b+G       s(b+G)         b+2G
 *   |-------------+--------------|------------+--------------|
 *   reading:  b   |    b + G          b + G   |   b + 2G
 *
 * and a reading at time t of that interval is b before s(b), b + G from
 * s(b) on (Chrome's TimeClamper, with J the jitter fraction: J = 1 spreads
 * the switch points over the whole interval, a small J keeps them near the
 * middle).  So a reading is a multiple of G, the same for every reader
 * within one stretch between two switch points, and never smaller than an
 * earlier one: f(t) is non-decreasing in t.  U comes from MurmurHash3's
 * 64-bit finaliser of the boundary xor a key; the key mixes a per-run
 * secret with the timeline's id, so timelines do not share switch points
 * and nobody without the secret can tell where they are.
 *
 * Switch points of consecutive intervals are G(1-J) to G(1+J) apart.
 *
 * `pause` (Fuzzyfox) holds a reader until the next switch point and gives
 * it the reading that starts there: wd_jitter_next().  For a CPU-time
 * timeline, where waiting does not move the clock, the same is done on a
 * virtual clock (the real one, moved on to a switch point at each
 * reading): wd_jitter_skip().
 */
#ifndef WD_JITTER_CLAMP_H
#define WD_JITTER_CLAMP_H

/* __u64: vmlinux.h (libbpf) or linux/types.h (BCC, user space). */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* J is given in 1/65536ths: WD_JITTER_J_ONE is J = 1. */
#define WD_JITTER_J_SHIFT 16
#define WD_JITTER_J_ONE	  (1U << WD_JITTER_J_SHIFT)

/* Grain bounds in ns (the front ends refuse others): 1 us because the
 * microsecond clocks (gettimeofday, getrusage) must carry multiples of the
 * grain; 1 s because pause holds a reader up to 2 G, and so that G * J
 * (< 2^46 even in TSC cycles) never overflows below. */
#define WD_JITTER_GRAIN_MIN_NS 1000ULL
#define WD_JITTER_GRAIN_MAX_NS 1000000000ULL

/* Timeline ids (mixed into the key).  The clocks a process shares with
 * every other reader have fixed ids; per-task CPU times put the kind in
 * the high half and the TID/TGID in the low half. */
#define WD_JT_MONO		 1ULL /* MONOTONIC; REALTIME, BOOTTIME, TAI ride on it */
#define WD_JT_MONO_RAW		 2ULL
#define WD_JT_TSC		 3ULL	      /* rdtsc / rdtscp, in TSC cycles */
#define WD_JT_IDLE		 4ULL	      /* /proc/uptime's idle sum */
#define WD_JT_THREAD		 (1ULL << 32) /* | TID: a thread's CPU time */
#define WD_JT_PROCESS		 (2ULL << 32) /* | TGID: a process's CPU time */
#define WD_JT_CHILDREN		 (3ULL << 32) /* | TGID: reaped children's */
#define WD_JT_WAIT		 (4ULL << 32) /* | TID: run-queue wait (schedstat) */
#define WD_JT_OTHER		 (5ULL << 32) /* | n: any other single value */
#define WD_JT_TIMELINE(kind, id) ((kind) | (__u64)(__u32)(id))

/* One timeline's clamp: grain in the timeline's unit, key, J. */
struct wd_jclamp {
	__u64 grain;
	__u64 key;
	__u32 jfrac; /* J * 65536, 0..65536 */
};

/* MurmurHash3's fmix64: every input bit flips each output bit with
 * probability about 1/2.  Three shifts, two multiplies. */
static __always_inline __u64 wd_jitter_fmix64(__u64 k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/* A timeline's key: the run's secret mixed with the timeline id. */
static __always_inline __u64 wd_jitter_key(__u64 secret, __u64 timeline)
{
	return wd_jitter_fmix64(secret ^ wd_jitter_fmix64(timeline + 0x9e3779b97f4a7c15ULL));
}

/* The switch point of the interval that starts at boundary b. */
static __always_inline __u64 wd_jitter_switch(const struct wd_jclamp *c, __u64 b)
{
	/* span = G*J < 2^46 (G < 2^30 ns, or < 2^33 TSC cycles at 1 s). */
	__u64 span = c->grain * c->jfrac >> WD_JITTER_J_SHIFT;
	__u64 lead = (c->grain - span) >> 1;
	__u64 u = wd_jitter_fmix64(b ^ c->key) >> 32; /* U * 2^32 */

	/* span * U without overflow: the high and low 32 bits of span apart. */
	return b + lead + (span >> 32) * u + (((span & 0xffffffffULL) * u) >> 32);
}

/* The reading at time t (clamp). */
static __always_inline __u64 wd_jitter_clamp(const struct wd_jclamp *c, __u64 t)
{
	__u64 b = t - t % c->grain;

	return t < wd_jitter_switch(c, b) ? b : b + c->grain;
}

/* The first switch point after t; *value gets the reading from it on,
 * which is the reading at t plus one grain (pause). */
static __always_inline __u64 wd_jitter_next(const struct wd_jclamp *c, __u64 t, __u64 *value)
{
	__u64 b = t - t % c->grain;
	__u64 s = wd_jitter_switch(c, b);

	if (t < s) {
		*value = b + c->grain;
		return s;
	}
	*value = b + 2 * c->grain;
	return wd_jitter_switch(c, b + c->grain);
}

/* A virtual clock (pause on a CPU-time timeline): its time at the last
 * reading is that reading's switch point, `off` ahead of (or, mod 2^64,
 * behind) the real clock's `last`. */
struct wd_jvclock {
	__u64 off;
	__u64 last;
};

/* Before the first reading: virtual time 0 (a thread's or a process's
 * start) is the switch point s(0), so even the first reading after a
 * known start tells only how many switch points the work crossed. */
static __always_inline void wd_jitter_vclock_init(const struct wd_jclamp *c, struct wd_jvclock *vc)
{
	vc->off = wd_jitter_switch(c, 0);
	vc->last = 0;
}

/* Pause on a virtual clock: since the last reading the real clock moved
 * from vc->last to t; the virtual clock moves as much, less up to
 * `allowance` (the mediation's own cost between two readings), then on to
 * its next switch point, whose reading is returned.  The virtual clock
 * never runs backwards, and work shorter than G(1-J) + allowance (less
 * the mediation's cost) between two readings crosses exactly one switch
 * point.  Unsigned wrap-around keeps `off` right when it is negative. */
static __always_inline __u64 wd_jitter_skip(const struct wd_jclamp *c, __u64 t,
					    struct wd_jvclock *vc, __u64 allowance)
{
	__u64 d = t - vc->last, value;
	__u64 v = t + vc->off - (d < allowance ? d : allowance);
	__u64 s = wd_jitter_next(c, v, &value);

	vc->off = s - t;
	vc->last = t;
	return value;
}

#endif /* WD_JITTER_CLAMP_H */
