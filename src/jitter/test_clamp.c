// SPDX-License-Identifier: GPL-2.0
/*
 * test_clamp.c - checks probe/jitter_clamp.h (tests/unit/test_jitter_clamp.py
 * builds and runs it).  Every input comes from a fixed-seed generator, so
 * a run is the same every time: the statistics cannot flake.
 *
 * Prints "ok NAME" per check, or "FAIL NAME: why" and exits 1.  "stat NAME
 * VALUE" lines carry the numbers the Python side also bounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jitter_clamp.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, why);
		failed = 1;
	}
}

/* xorshift64*: the fixed-seed generator. */
static __u64 rng_state = 0x2545f4914f6cdd1dULL;

static __u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static const __u64 grains[] = { 1000, 10000, 100000, 1000000, 1000000000, 260000 /* TSC */ };
#define NGRAINS (sizeof(grains) / sizeof(grains[0]))
static const __u32 jfracs[] = { WD_JITTER_J_ONE, WD_JITTER_J_ONE / 8, WD_JITTER_J_ONE / 2, 0 };
#define NJ (sizeof(jfracs) / sizeof(jfracs[0]))

static struct wd_jclamp clamp_of(__u64 grain, __u32 j, __u64 secret, __u64 timeline)
{
	struct wd_jclamp c = { grain, wd_jitter_key(secret, timeline), j };

	return c;
}

/* Readings along increasing times never go down, are multiples of G, and
 * stay within one grain of the time. */
static void monotonic_and_multiples(void)
{
	int mono = 1, mult = 1, near = 1;

	for (unsigned g = 0; g < NGRAINS; g++)
		for (unsigned j = 0; j < NJ; j++) {
			struct wd_jclamp c = clamp_of(grains[g], jfracs[j], rnd(), WD_JT_MONO);
			__u64 t = rnd() >> 8, last = 0;

			for (int i = 0; i < 20000; i++) {
				__u64 v = wd_jitter_clamp(&c, t);

				mono &= v >= last;
				mult &= v % c.grain == 0;
				near &= v + c.grain > t && v <= t + c.grain;
				last = v;
				/* steps from 1 unit to 3 grains */
				t += 1 + rnd() % (i & 1 ? 3 * c.grain : 7);
			}
		}
	check(mono, "monotonic", "a later time gave a smaller reading");
	check(mult, "multiples", "a reading was not a multiple of the grain");
	check(near, "within_one_grain", "a reading was more than one grain from the time");
}

/* Between two consecutive switch points every reading is the same, and
 * it changes exactly at the switch point. */
static void deterministic_within_interval(void)
{
	int same = 1, edge = 1;

	for (int k = 0; k < 2000; k++) {
		struct wd_jclamp c = clamp_of(100000, jfracs[k % NJ], rnd(), rnd());
		__u64 b = (rnd() >> 20) * c.grain;
		__u64 s0 = wd_jitter_switch(&c, b), s1 = wd_jitter_switch(&c, b + c.grain);
		__u64 v = wd_jitter_clamp(&c, s0);

		for (int i = 0; i < 50; i++)
			same &= wd_jitter_clamp(&c, s0 + rnd() % (s1 - s0)) == v;
		edge &= v == b + c.grain && wd_jitter_clamp(&c, s0 - 1) == b &&
			wd_jitter_clamp(&c, s1) == b + 2 * c.grain;
	}
	check(same, "deterministic", "two times between the same switch points read differently");
	check(edge, "switch_edges", "the reading did not change exactly at the switch point");
}

/* Another secret (or another timeline) moves the switch points. */
static void keyed(void)
{
	int equal_secret = 0, equal_timeline = 0, n = 0;

	for (int k = 0; k < 200; k++) {
		__u64 s = rnd();
		struct wd_jclamp a = clamp_of(100000, WD_JITTER_J_ONE, s, WD_JT_MONO);
		struct wd_jclamp b = clamp_of(100000, WD_JITTER_J_ONE, s ^ 1, WD_JT_MONO);
		struct wd_jclamp t = clamp_of(100000, WD_JITTER_J_ONE, s, WD_JT_TSC);

		for (int i = 0; i < 100; i++, n++) {
			__u64 bd = (rnd() >> 20) * 100000;

			equal_secret += wd_jitter_switch(&a, bd) == wd_jitter_switch(&b, bd);
			equal_timeline += wd_jitter_switch(&a, bd) == wd_jitter_switch(&t, bd);
		}
	}
	printf("stat equal_switch_points_other_secret %d/%d\n", equal_secret, n);
	/* 100 000 possible points: a few coincidences in 20 000 are chance */
	check(equal_secret < 10, "keyed_by_secret", "another secret kept the switch points");
	check(equal_timeline < 10, "keyed_by_timeline", "another timeline kept the switch points");
}

/* Switch points sit in [b + G(1-J)/2, b + G(1+J)/2) and are uniform there
 * across keys: a Kolmogorov-Smirnov distance and a chi-square over 20 bins,
 * per J, for a fixed set of keys and boundaries. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void uniform(void)
{
	enum { N = 20000, BINS = 20 };
	static double u[N];
	int in_range = 1, ok = 1;

	for (unsigned j = 0; j < NJ - 1; j++) { /* J = 0 has no spread */
		__u64 grain = 100000, span = grain * jfracs[j] >> WD_JITTER_J_SHIFT;
		__u64 lead = (grain - span) / 2;
		int bins[BINS] = { 0 };
		double d = 0, chi = 0;

		for (int i = 0; i < N; i++) {
			/* a new key for every sample: across keys */
			struct wd_jclamp c = clamp_of(grain, jfracs[j], rnd(), WD_JT_MONO);
			__u64 b = (rnd() >> 24) * grain, s = wd_jitter_switch(&c, b);

			in_range &= s >= b + lead && s < b + lead + span;
			u[i] = (double)(s - b - lead) / (double)span;
			bins[(int)(u[i] * BINS) < BINS ? (int)(u[i] * BINS) : BINS - 1]++;
		}
		qsort(u, N, sizeof(u[0]), cmp_double);
		for (int i = 0; i < N; i++) {
			double lo = u[i] - (double)i / N, hi = (double)(i + 1) / N - u[i];

			d = fmax(d, fmax(lo, hi));
		}
		for (int b = 0; b < BINS; b++)
			chi += pow(bins[b] - (double)N / BINS, 2) / ((double)N / BINS);
		printf("stat ks_distance_j%u %.5f\nstat chi_square_j%u %.2f\n", jfracs[j], d,
		       jfracs[j], chi);
		/* KS at 1%: 1.63 / sqrt(N) = 0.0115; chi-square, 19 degrees of
		 * freedom, 1%: 36.19. */
		ok &= d < 1.63 / sqrt(N) && chi < 36.19;
	}
	check(in_range, "switch_in_window", "a switch point fell outside [lead, lead + G*J)");
	check(ok, "uniform_across_keys", "switch points are not uniform across keys");
}

/* Consecutive switch points are G(1-J) to G(1+J) apart. */
static void spacing(void)
{
	int ok = 1;

	for (unsigned j = 0; j < NJ; j++) {
		struct wd_jclamp c = clamp_of(100000, jfracs[j], rnd(), WD_JT_MONO);
		__u64 span = c.grain * c.jfrac >> WD_JITTER_J_SHIFT;
		__u64 b = (rnd() >> 24) * c.grain;

		for (int i = 0; i < 10000; i++, b += c.grain) {
			__u64 gap = wd_jitter_switch(&c, b + c.grain) - wd_jitter_switch(&c, b);

			ok &= gap + span >= c.grain && gap <= c.grain + span;
		}
	}
	check(ok, "spacing", "two switch points were outside G(1-J)..G(1+J) apart");
}

/* pause: next() lands on the switch point with the reading from there;
 * skip() moves a virtual clock there, and a piece of work shorter than
 * G(1-J) + allowance after it reads exactly one grain more. */
static void pause_helpers(void)
{
	int next_ok = 1, skip_ok = 1, first_ok = 1, mono_ok = 1;

	for (int k = 0; k < 5000; k++) {
		struct wd_jclamp c = clamp_of(100000, WD_JITTER_J_ONE / 8, rnd(), rnd());
		__u64 t = rnd() >> 16, v, s = wd_jitter_next(&c, t, &v);
		__u64 allowance = k % 2 ? c.grain / 2 : 0, w, r1, r2, real, last;
		struct wd_jvclock vc;

		next_ok &= s > t && wd_jitter_clamp(&c, s) == v &&
			   wd_jitter_clamp(&c, s - 1) + c.grain == v &&
			   wd_jitter_clamp(&c, t) + c.grain == v;
		wd_jitter_vclock_init(&c, &vc);
		/* a thread's first reading after work shorter than G(1-J) */
		w = rnd() % (c.grain * 7 / 8);
		first_ok &= wd_jitter_skip(&c, w, &vc, 0) == 2 * c.grain;
		real = w;
		r1 = wd_jitter_skip(&c, real, &vc, allowance);
		real += rnd() % (c.grain * 7 / 8 + allowance); /* below G(1-J) + allowance */
		r2 = wd_jitter_skip(&c, real, &vc, allowance);
		skip_ok &= r2 == r1 + c.grain && wd_jitter_clamp(&c, real + vc.off) == r2;
		/* any steps: never backwards, always at least a grain */
		last = r2;
		for (int i = 0; i < 20; i++) {
			real += rnd() % (3 * c.grain);
			v = wd_jitter_skip(&c, real, &vc, allowance);
			mono_ok &= v >= last + c.grain && v % c.grain == 0;
			last = v;
		}
	}
	check(next_ok, "pause_next", "next() is not the switch point with the next reading");
	check(first_ok, "skip_first_reading", "a first reading told more than the switch count");
	check(skip_ok, "skip_short_work", "short work after a paused reading read more than G");
	check(mono_ok, "skip_monotonic", "a paused virtual clock stood still or ran backwards");
}

int main(void)
{
	monotonic_and_multiples();
	deterministic_within_interval();
	keyed();
	uniform();
	spacing();
	pause_helpers();
	return failed;
}
