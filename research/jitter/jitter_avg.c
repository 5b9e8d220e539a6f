// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_avg.c - the averaging attack and the effective resolution, for
 * every clock source.
 *
 * Averaging: a work unit of W us (a fixed number of spin iterations, W in
 * 0, 5, 10, 30, 50; W = 0 measures the read overhead the attacker then
 * subtracts) is timed N times by two reads of the clock, each sample after
 * a random pre-spin of 0 to 10 us so samples start at random phases of any
 * grain, the W values interleaved in random order.  From the first N
 * samples (N = 10, 100, 1000, 3000) it estimates W by the mean, the
 * censored mean (samples more than 1 ms or 3 grains above the median
 * dropped), the 10 % trimmed mean, the median and the minimum of the
 * differences, and says whether each estimator orders W = 10 < 30 < 50.
 *
 * Resolution: within one burst of --budget-ms (500 ms), pairs of samples of
 * W0 = 30 us and W0 + d (in random order within a pair) are taken; the
 * attacker tells them apart when a one-sided paired t test or a Wilcoxon
 * signed-rank test of the pair differences (each at 2.5 %, so at most 5 %
 * false alarms together) says W0 + d is longer.  The smallest such d on a
 * ladder from 1 ns to 100 us (binary search, one burst per step, the answer
 * confirmed by one more burst) is the effective resolution; a control burst
 * with d = 0 shows the false-alarm side.  See README.md for the fields.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>

#include "jt.h"

static const char usage[] =
	"usage: jitter_avg [-c CLOCK,...] [-q] [-b MS] [-n NMAX] [--ipu X] [-s SEED] [-l]\n"
	"  the averaging attack (W = 0,5,10,30,50 us; N = 10,100,1000,NMAX) and the\n"
	"  effective resolution within a burst of MS ms, per clock, as JSON lines\n";

#define NW	5
#define MAX_N	100000
#define MAX_ARM (1 << 17)
static const double w_us[NW] = { 0, 5, 10, 30, 50 };
static const double ladder_ns[] = { 1,	 2,    5,    10,   20,	  50,	 100,	200,
				    500, 1000, 2000, 5000, 10000, 20000, 50000, 100000 };
#define NLADDER ((int)(sizeof(ladder_ns) / sizeof(ladder_ns[0])))

static double samples[NW][MAX_N];
static double arm_a[MAX_ARM], arm_b[MAX_ARM], diff[MAX_ARM];

struct run {
	int err;
	int n;	   /* samples collected per W */
	double ms; /* wall time of the collection */
	int found; /* resolution: ladder index, or -1 */
	int bursts;
	int null_ok; /* the control burst (d = 0) said "told apart" */
};

/* One sample: random pre-spin, read, work, read.  0, or the read's error. */
static int sample(struct jt_clock *c, uint64_t iters, uint64_t prespin, double *out)
{
	int64_t t0, t1;
	int e;

	jt_spin(jt_rand() % (prespin + 1));
	if ((e = c->read(c, &t0)))
		return e;
	jt_spin(iters);
	if ((e = c->read(c, &t1)))
		return e;
	*out = jt_ns(c, t1 - t0);
	return 0;
}

static void collect(struct jt_clock *c, void *arg)
{
	struct run *r = arg;
	uint64_t iters[NW], pre = jt_iters(10);
	int order[NW];
	struct jt_budget b;

	for (int w = 0; w < NW; w++)
		iters[w] = jt_iters(w_us[w]);
	jt_budget_start(&b, 1e12, 1L << 40);
	for (r->n = 0; r->n < jt_opt.nmax; r->n++) {
		for (int w = 0; w < NW; w++)
			order[w] = w;
		for (int w = NW - 1; w > 0; w--) { /* Fisher-Yates */
			int k = jt_rand() % (w + 1), t = order[w];
			order[w] = order[k];
			order[k] = t;
		}
		for (int k = 0; k < NW; k++)
			if ((r->err = sample(c, iters[order[k]], pre, &samples[order[k]][r->n])))
				return;
	}
	r->ms = jt_budget_ms(&b);
}

/* The censored mean: the mean of the samples at most cut (and its standard
 * error).  An attacker drops samples longer than the work can take, which
 * on a shared machine are preemptions (milliseconds), not the work. */
static double cmean(const double *x, int n, double cut, double *se)
{
	double s = 0, ss = 0;
	int k = 0;

	for (int i = 0; i < n; i++)
		if (x[i] <= cut) {
			s += x[i];
			ss += x[i] * x[i];
			k++;
		}
	*se = k > 1 ? sqrt((ss - s * s / k) / (k - 1) / k) : NAN;
	return k ? s / k : NAN;
}

static int ordered(const double *est)
{
	return est[2] < est[3] && est[3] < est[4]; /* W = 10 < 30 < 50 */
}

static void report_avg(struct jt_clock *c, const struct run *r)
{
	int ns[] = { 10, 100, 1000, jt_opt.nmax };

	for (int k = 0; k < 4; k++) {
		int n = ns[k] < r->n ? ns[k] : r->n;
		double mean[NW], med[NW], mn[NW], tm[NW], se[NW], tse[NW], cm[NW], cse[NW];
		double tick = INFINITY; /* smallest positive difference: the grain, if any */
		if (k && n <= ns[k - 1])
			break;
		for (int w = 0; w < NW; w++)
			for (int i = 0; i < n; i++)
				if (samples[w][i] > 0 && samples[w][i] < tick)
					tick = samples[w][i];
		for (int w = 0; w < NW; w++) {
			mean[w] = jt_mean(samples[w], n);
			se[w] = sqrt(jt_var(samples[w], n) / n);
			med[w] = jt_median(samples[w], n);
			mn[w] = jt_min(samples[w], n);
			tm[w] = jt_tmean(samples[w], n, 0.1, &tse[w]);
			/* cut: 1 ms, or 3 grains, above the median */
			cm[w] = cmean(samples[w], n,
				      med[w] + fmax(1e6, isfinite(tick) ? 3 * tick : 0), &cse[w]);
		}
		for (int w = 0; w < NW; w++) {
			jt_begin("avg", c);
			jt_num("w_us", w_us[w]);
			jt_num("w_true_ns", jt_iters(w_us[w]) * 1000.0 / jt_ipu);
			jt_int("n", n);
			jt_num("mean_ns", mean[w]);
			jt_num("se_ns", se[w]);
			jt_num("cmean_ns", cm[w]);
			jt_num("cmean_se_ns", cse[w]);
			jt_num("tmean_ns", tm[w]);
			jt_num("tmean_se_ns", tse[w]);
			jt_num("median_ns", med[w]);
			jt_num("min_ns", mn[w]);
			jt_num("net_mean_ns", mean[w] - mean[0]);
			jt_num("net_cmean_ns", cm[w] - cm[0]);
			jt_num("net_tmean_ns", tm[w] - tm[0]);
			jt_num("net_median_ns", med[w] - med[0]);
			jt_num("net_min_ns", mn[w] - mn[0]);
			jt_end();
		}
		/* significant: each censored-mean step 10->30->50 beyond 1.96 SE */
		int sig = cm[3] - cm[2] > 1.96 * hypot(cse[2], cse[3]) &&
			  cm[4] - cm[3] > 1.96 * hypot(cse[3], cse[4]);
		jt_begin("order", c);
		jt_int("n", n);
		jt_bool("mean", ordered(mean));
		jt_bool("cmean", ordered(cm));
		jt_bool("tmean", ordered(tm));
		jt_bool("median", ordered(med));
		jt_bool("min", ordered(mn));
		jt_bool("cmean_significant", sig);
		jt_bool("any",
			ordered(mean) || ordered(cm) || ordered(tm) || ordered(med) || ordered(mn));
		jt_num("collect_ms", k == 3 || n == r->n ? r->ms : NAN);
		jt_end();
	}
}

/* One burst: pairs of W0 and W0 + d (d = ladder_ns[step], or 0 for the
 * control burst when step < 0) in random order for budget_ms.  The pairs
 * cancel any drift of the machine's speed; 1 when told apart. */
static int burst(struct jt_clock *c, struct run *r, int step)
{
	uint64_t ia = jt_iters(30), ib = step < 0 ? ia : jt_iters(30 + ladder_ns[step] / 1000);
	uint64_t pre = jt_iters(10);
	int n = 0;
	struct jt_budget b;

	jt_budget_start(&b, jt_opt.budget_ms, 1L << 40);
	do {
		for (int i = 0; i < 16 && n < MAX_ARM; i++, n++) {
			int first_b = jt_rand() & 1;
			for (int k = 0; k < 2; k++) {
				if (k == first_b)
					r->err = sample(c, ib, pre, &arm_b[n]);
				else
					r->err = sample(c, ia, pre, &arm_a[n]);
				if (r->err)
					return 0;
			}
			diff[n] = arm_b[n] - arm_a[n];
		}
	} while (n < MAX_ARM && !jt_budget_over(&b));
	double zt = jt_paired_z(diff, n), zw = jt_signed_rank_z(diff, n);
	int ok = zt > 1.96 || zw > 1.96;
	jt_begin("res_burst", c);
	jt_num("d_ns", (ib - ia) * 1000.0 / jt_ipu);
	jt_num("d_nominal_ns", step < 0 ? 0 : ladder_ns[step]);
	jt_int("pairs", n);
	jt_num("burst_ms", jt_budget_ms(&b));
	jt_num("diff_mean_ns", jt_mean(diff, n));
	jt_num("diff_median_ns", jt_median(diff, n));
	jt_num("z_paired_t", zt);
	jt_num("z_signed_rank", zw);
	jt_bool("told_apart", ok);
	jt_end();
	r->bursts++;
	return ok;
}

static void resolution(struct jt_clock *c, void *arg)
{
	struct run *r = arg;
	int lo = -1, hi = NLADDER - 1;

	r->found = -1;
	r->null_ok = burst(c, r, -1); /* control: W0 against itself */
	if (r->err || !burst(c, r, hi))
		return;
	while (hi - lo > 1) { /* smallest passing step, assuming monotone */
		int mid = (lo + hi) / 2;
		if (burst(c, r, mid))
			hi = mid;
		else if (r->err)
			return;
		else
			lo = mid;
	}
	/* confirm with a fresh burst, stepping up until one passes again: a
	 * false alarm (5 % a burst) must not set the answer on its own */
	while (hi < NLADDER - 1 && !burst(c, r, hi) && !r->err)
		hi++;
	r->found = hi;
}

int main(int argc, char **argv)
{
	jt_setup(argc, argv, "avg", usage);
	if (jt_opt.nmax > MAX_N)
		jt_opt.nmax = MAX_N;
	for (int i = 0; i < jt_nclocks; i++) {
		struct jt_clock *c = &jt_clocks[i];
		struct run r = { 0 };
		int e;

		if (!jt_selected(c))
			continue;
		if ((e = jt_clock_open(c))) {
			jt_status("avg", c, e);
			jt_status("resolution", c, e);
			continue;
		}
		e = jt_guard(collect, c, &r, 600);
		if (e || r.err)
			jt_status("avg", c, e ? e : r.err);
		else
			report_avg(c, &r);
		r.err = 0;
		e = jt_guard(resolution, c, &r, 600);
		if (e || r.err) {
			jt_status("resolution", c, e ? e : r.err);
		} else {
			jt_begin("resolution", c);
			jt_num("resolution_ns", r.found < 0 ? NAN : ladder_ns[r.found]);
			jt_num("resolution_true_ns",
			       r.found < 0 ?
				       NAN :
				       (jt_iters(30 + ladder_ns[r.found] / 1000) - jt_iters(30)) *
					       1000.0 / jt_ipu);
			jt_bool("resolved", r.found >= 0);
			jt_num("d_max_ns", ladder_ns[NLADDER - 1]);
			jt_num("w0_us", 30);
			jt_int("budget_ms", jt_opt.budget_ms);
			jt_int("bursts", r.bursts);
			jt_bool("control_false_alarm", r.null_ok);
			jt_end();
		}
		jt_clock_close(c);
	}
	return 0;
}
