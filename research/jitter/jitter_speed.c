// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_speed.c - the CPU-speed probe of a short-burst fingerprinter, for
 * every clock source: within --budget-ms (500 ms) per clock, 70 % of it
 * times a fixed loop (2^18 iterations of the work unit's multiply chain,
 * the same count on every machine) and keeps the minimum (the CPU's speed
 * class), 30 % times batches of 32 cpuid instructions (about 4 us each in
 * a VM, about 0.1 us on bare metal) and keeps the minimum per cpuid.
 * Each sample starts after a random pre-spin of 0 to 10 us.  One JSON line
 * per clock ("speed"); run.py runs it several times for the spread.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <math.h>
#include <stdlib.h>

#include "jt.h"

static const char usage[] = "usage: jitter_speed [-c CLOCK,...] [-q] [-b MS] [--ipu X] [-l]\n"
			    "  the CPU-speed and cpuid-cost probe per clock, as JSON lines\n";

#define LOOP_ITERS (1u << 18)
#define CPUID_N	   32
#define MAX_S	   100000

static double loop_ns[MAX_S], cpuid_ns[MAX_S];

struct speed {
	int err, nl, nc;
};

static void cpuid_batch(void)
{
	unsigned a, b, c, d;

	for (int i = 0; i < CPUID_N; i++) {
		__cpuid(0, a, b, c, d);
		__asm__ volatile("" : : "r"(a), "r"(b), "r"(c), "r"(d));
	}
}

static void probe(struct jt_clock *c, void *arg)
{
	struct speed *s = arg;
	struct jt_budget b;
	uint64_t pre = jt_iters(10);
	int64_t t0, t1;

	jt_budget_start(&b, jt_opt.budget_ms * 0.7, 1L << 40);
	do {
		jt_spin(jt_rand() % (pre + 1));
		if ((s->err = c->read(c, &t0)))
			return;
		jt_spin(LOOP_ITERS);
		if ((s->err = c->read(c, &t1)))
			return;
		loop_ns[s->nl++] = jt_ns(c, t1 - t0);
	} while (s->nl < MAX_S && !jt_budget_over(&b));
	jt_budget_start(&b, jt_opt.budget_ms * 0.3, 1L << 40);
	do {
		jt_spin(jt_rand() % (pre + 1));
		if ((s->err = c->read(c, &t0)))
			return;
		cpuid_batch();
		if ((s->err = c->read(c, &t1)))
			return;
		cpuid_ns[s->nc++] = jt_ns(c, t1 - t0) / CPUID_N;
	} while (s->nc < MAX_S && !jt_budget_over(&b));
}

static void report(struct jt_clock *c, void *state)
{
	const struct speed *s = state;
	double lmin = jt_min(loop_ns, s->nl), cmin = jt_min(cpuid_ns, s->nc);

	jt_begin("speed", c);
	jt_int("loop_iters", LOOP_ITERS);
	jt_int("loop_reps", s->nl);
	jt_num("loop_min_ns", lmin);
	jt_num("loop_median_ns", jt_median(loop_ns, s->nl));
	jt_num("loop_mean_ns", jt_mean(loop_ns, s->nl));
	jt_num("loop_true_ns", LOOP_ITERS * 1000.0 / jt_ipu);
	jt_num("iters_per_ns", lmin > 0 ? LOOP_ITERS / lmin : NAN);
	jt_int("cpuid_reps", s->nc);
	jt_num("cpuid_min_ns", cmin);
	jt_num("cpuid_median_ns", jt_median(cpuid_ns, s->nc));
	jt_num("cpuid_mean_ns", jt_mean(cpuid_ns, s->nc));
	jt_str("vm_guess", !(cmin > 0) ? "unknown" :
			   cmin > 1000 ? "vm" :
			   cmin < 300  ? "bare" :
					 "unclear");
	jt_end();
}

int main(int argc, char **argv)
{
	static struct speed s;

	jt_setup(argc, argv, "speed", usage);
	jt_each_clock("speed", probe, report, &s, sizeof(s), 60);
	return 0;
}
