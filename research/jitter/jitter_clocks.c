// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_clocks.c - the survey: for every clock source a process has,
 * whether it works (or the error / fault it gives), what one read costs,
 * the smallest step it shows, whether all its readings are multiples of a
 * power of ten (a clamp's grain shows up there), and whether it ever ran
 * backwards.  One JSON line per clock ("survey"); see README.md.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "jt.h"

#define MAX_VALS 1000000

static const char usage[] =
	"usage: jitter_clocks [-c CLOCK,...] [-q] [-b MS] [--ipu X] [-l]\n"
	"  reads every clock source for about 30 ms (5 ms with -q) and prints one\n"
	"  JSON line per clock: status, read_ns, tick_ns, multiple_of_ns, backwards\n"
	"  (README.md defines every field)\n";

/* The readings that differ from the one before (a clock that repeats a
 * value stores it once), so the survey can run its whole span. */
static int64_t vals[MAX_VALS];
/* The reference-clock time of each chunk of 64 reads, per read, for the
 * chunks in which the thread was not preempted (its involuntary context
 * switches, from getrusage, did not change). */
#define MAX_CHUNKS 100000
static double chunk_ns[MAX_CHUNKS];

struct survey {
	int err;
	long n, nvals, back, zero, nchunks, preempted;
	double elapsed_ns;
};

static void survey(struct jt_clock *c, void *arg)
{
	struct survey *s = arg;
	struct jt_budget b;
	struct rusage ru;
	int64_t v, prev = 0;
	long switches = getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_nivcsw;

	jt_budget_start(&b, jt_opt.quick ? 5 : 30, MAX_CHUNKS);
	do {
		int64_t t0 = jt_ref_ns(), t1;
		for (int i = 0; i < 64; i++) {
			if ((s->err = c->read(c, &v)))
				return;
			if (s->n++ && v == prev) {
				s->zero++;
				continue;
			}
			s->back += s->n > 1 && v < prev;
			if (s->nvals < MAX_VALS)
				vals[s->nvals++] = v;
			prev = v;
		}
		t1 = jt_ref_ns();
		if (switches >= 0 && !getrusage(RUSAGE_THREAD, &ru) && ru.ru_nivcsw != switches) {
			switches = ru.ru_nivcsw;
			s->preempted++;
		} else if (t0 >= 0 && t1 >= 0) {
			chunk_ns[s->nchunks++] = (t1 - t0) / 64.0;
		}
	} while (!jt_budget_over(&b));
	s->elapsed_ns = jt_budget_ms(&b) * 1e6;
}

static void report(struct jt_clock *c, void *state)
{
	const struct survey *s = state;
	int64_t tick = 0, mult = 1;

	for (long i = 1; i < s->nvals; i++) {
		int64_t d = vals[i] - vals[i - 1];
		if (d > 0 && (!tick || d < tick))
			tick = d;
	}
	/* the largest power of ten (raw units) that divides every reading */
	for (int64_t m = 10; m <= 1000000000; m *= 10) {
		long i;
		for (i = 0; i < s->nvals && vals[i] % m == 0; i++)
			;
		if (i < s->nvals)
			break;
		mult = m;
	}
	jt_begin("survey", c);
	jt_str("unit", c->unit);
	jt_num("ns_per_unit", c->ns_per_unit);
	jt_int("reads", s->n);
	/* the mean over chunks that were not preempted: unbiased under a clamp
	 * of the reference clock (random phases); read_mean_ns counts all */
	jt_num("read_ns", jt_mean(chunk_ns, s->nchunks));
	jt_num("read_mean_ns", s->elapsed_ns / s->n);
	jt_int("chunks", s->nchunks);
	jt_int("chunks_preempted", s->preempted);
	jt_num("tick_ns", tick ? jt_ns(c, tick) : NAN);
	/* with a single distinct reading, "multiple of" says nothing */
	jt_num("multiple_of_ns", s->nvals > 1 ? jt_ns(c, mult) : NAN);
	jt_num("multiple_of_units", s->nvals > 1 ? mult : NAN);
	jt_int("changes", s->n - 1 - s->zero);
	jt_num("repeat_share", s->n > 1 ? (double)s->zero / (s->n - 1) : NAN);
	jt_int("backwards", s->back);
	jt_num("span_ns", jt_ns(c, vals[s->nvals - 1] - vals[0]));
	jt_num("ref_span_ns", s->elapsed_ns);
	if (c->calibrated)
		jt_bool("shared_cpu", c->arg && c->route[0] == 't');
	jt_end();
}

int main(int argc, char **argv)
{
	static struct survey s;

	jt_setup(argc, argv, "clocks", usage);
	jt_each_clock("survey", survey, report, &s, sizeof(s), 60);
	return 0;
}
