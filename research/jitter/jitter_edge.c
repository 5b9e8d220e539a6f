// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_edge.c - the edge attack, for every clock source.
 *
 * A clock that only moves in steps (a coarse clock, or one clamped to a
 * grain) still leaks time between its steps: spin reading it until the
 * value changes (an edge), then count reads until the next change.  Phase
 * 1 measures K, the reads in one interval, over up to 40 intervals: its
 * spread says whether intervals are regular (a plain grain: the attacker
 * has the true grain in reads) or jittered (keyed switch points).  Phase 2
 * times a work unit W (10, 30, 50 us) against edges: sync to an edge, run
 * W, count the reads k to the next change, and estimate W as the clock's
 * own step from the sync edge to that change minus k reads' worth of time
 * (clock time per read: the median over phase 1 of step / K).  Only where
 * an interval holds at least 8 reads (finer clocks need no edges); medians
 * keep preemption on a shared machine from ruling.  See README.md.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>

#include "jt.h"

static const char usage[] = "usage: jitter_edge [-c CLOCK,...] [-q] [--ipu X] [-s SEED] [-l]\n"
			    "  the edge attack per clock, as JSON lines (README.md)\n";

#define MAX_INT 40
#define NW	3
#define MAX_REP 30
static const double w_us[NW] = { 10, 30, 50 };

struct edge {
	int err, nint, nrep[NW];
	double k[MAX_INT], step[MAX_INT]; /* reads and raw step of each interval */
	double est[NW][MAX_REP];
	double kmed, tick, iter_ns; /* reads an interval, smallest step, clock ns a read */
};

/* Read until the value differs from the first one read: returns 0 with the
 * value before and after the change and the number of reads, 1 when the
 * budget ran out first (polled every 4096 reads), or the read's error. */
static int next_edge(struct jt_clock *c, struct jt_budget *b, int64_t *from, int64_t *to,
		     long *reads)
{
	int64_t v0, v;
	long n = 0;
	int e;

	if ((e = c->read(c, &v0)))
		return e;
	do {
		if ((e = c->read(c, &v)))
			return e;
		if (!(++n & 4095) && jt_budget_over(b))
			return 1;
	} while (v == v0);
	*from = v0;
	*to = v;
	*reads = n;
	return 0;
}

static void attack(struct jt_clock *c, void *arg)
{
	struct edge *s = arg;
	struct jt_budget b;
	int64_t from, to;
	long n;
	double per_read[MAX_INT];

	jt_budget_start(&b, jt_opt.quick ? 40 : 300, 1L << 40);
	if ((s->err = next_edge(c, &b, &from, &to, &n))) /* sync */
		goto out;
	while (s->nint < (jt_opt.quick ? 5 : MAX_INT)) {
		if ((s->err = next_edge(c, &b, &from, &to, &n)))
			goto out;
		s->k[s->nint] = n;
		s->step[s->nint++] = to - from;
		if (!s->tick || to - from < s->tick)
			s->tick = to - from;
		per_read[s->nint - 1] = jt_ns(c, to - from) / n;
	}
out:
	if (s->err == 1) /* out of budget: keep what was found */
		s->err = 0;
	if (s->err || s->nint < 2)
		return;
	s->kmed = jt_median(s->k, s->nint);
	s->iter_ns = jt_median(per_read, s->nint);
	if (s->kmed < 8)
		return;
	jt_budget_start(&b, jt_opt.quick ? 100 : 900, 1L << 40);
	for (int rep = 0; rep < (jt_opt.quick ? 3 : MAX_REP); rep++) {
		int first = jt_rand() % NW;
		for (int i = 0; i < NW; i++) {
			int w = (first + i) % NW;
			int64_t at;
			if ((s->err = next_edge(c, &b, &from, &at, &n))) /* at an edge */
				goto done;
			jt_spin(jt_iters(w_us[w]));
			if ((s->err = next_edge(c, &b, &from, &to, &n)))
				goto done;
			s->est[w][s->nrep[w]++] = jt_ns(c, to - at) - n * s->iter_ns;
		}
	}
done:
	if (s->err == 1)
		s->err = 0;
}

static int ordered(const double *e)
{
	return e[0] < e[1] && e[1] < e[2];
}

static void report(struct jt_clock *c, void *state)
{
	const struct edge *s = state;
	double kmin = jt_min(s->k, s->nint), kmax = 0;
	int applicable = s->nint >= 2 && s->kmed >= 8;

	for (int i = 0; i < s->nint; i++)
		kmax = s->k[i] > kmax ? s->k[i] : kmax;
	jt_begin("edge", c);
	jt_int("intervals", s->nint);
	jt_num("tick_ns", s->nint ? jt_ns(c, s->tick) : NAN);
	jt_num("step_mean_ns", s->nint ? jt_ns(c, jt_mean(s->step, s->nint)) : NAN);
	jt_num("step_median_ns", s->nint ? jt_ns(c, jt_median(s->step, s->nint)) : NAN);
	jt_num("reads_mean", s->nint ? jt_mean(s->k, s->nint) : NAN);
	jt_num("reads_median", s->nint ? s->kmed : NAN);
	jt_num("reads_cv",
	       s->nint > 1 ? sqrt(jt_var(s->k, s->nint)) / jt_mean(s->k, s->nint) : NAN);
	jt_num("reads_min", s->nint ? kmin : NAN);
	jt_num("reads_max", s->nint ? kmax : NAN);
	jt_num("read_clock_ns", s->iter_ns);
	jt_bool("applicable", applicable);
	jt_end();
	if (!applicable)
		return;
	double mean[NW], med[NW];
	for (int w = 0; w < NW; w++) {
		int n = s->nrep[w];
		mean[w] = jt_mean(s->est[w], n);
		med[w] = jt_median(s->est[w], n);
		jt_begin("edge_w", c);
		jt_num("w_us", w_us[w]);
		jt_num("w_true_ns", jt_iters(w_us[w]) * 1000.0 / jt_ipu);
		jt_int("n", n);
		jt_num("est_mean_ns", mean[w]);
		jt_num("est_sd_ns", n > 1 ? sqrt(jt_var(s->est[w], n)) : NAN);
		jt_num("est_median_ns", med[w]);
		jt_end();
	}
	jt_begin("edge_order", c);
	jt_bool("mean", ordered(mean));
	jt_bool("median", ordered(med));
	jt_end();
}

int main(int argc, char **argv)
{
	static struct edge s;

	jt_setup(argc, argv, "edge", usage);
	jt_each_clock("edge", attack, report, &s, sizeof(s), 60);
	return 0;
}
