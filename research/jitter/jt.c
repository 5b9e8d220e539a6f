// SPDX-License-Identifier: GPL-2.0
/*
 * jt.c - the work unit, statistics, options, JSON-line output and the
 * fault guard shared by the jitter attacker programs (see jt.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

struct jt_opts jt_opt = { .budget_ms = 500, .nmax = 3000, .seed = 0 };
double jt_ipu;
static const char *prog_name = "?";
static int first_field;

/* ---- work unit: a dependent multiply chain the compiler cannot drop ---- */
void jt_spin(uint64_t iters)
{
	uint64_t x = 1;

	for (uint64_t i = 0; i < iters; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	__asm__ volatile("" : : "r"(x));
}

uint64_t jt_iters(double us)
{
	return (uint64_t)(us * jt_ipu + 0.5);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Thread CPU time in ns (not inflated by preemption), or the reference clock. */
static int64_t calib_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return jt_ref_ns();
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The fastest of 21 spins of about 2 ms each, timed in thread CPU time:
 * preemption on a shared machine only ever slows a spin down (and wall
 * clocks count it), so the fastest is the work unit's own speed.  Under a
 * defence the clock may be clamped: run.py passes --ipu measured without. */
double jt_calibrate(void)
{
	double best = 0;
	uint64_t n = 1000000;
	int64_t t0 = calib_ns();

	jt_spin(n);
	int64_t dt = calib_ns() - t0;
	if (t0 < 0 || dt <= 0)
		return 1000.0; /* no working clock: assume 1 iteration a ns */
	n = (uint64_t)(n * (2e6 / dt)) + 1;
	for (int i = 0; i < 21; i++) {
		t0 = calib_ns();
		jt_spin(n);
		dt = calib_ns() - t0;
		if (dt > 0 && n * 1000.0 / dt > best)
			best = n * 1000.0 / dt;
	}
	return best > 0 ? best : 1000.0;
}

uint64_t jt_rand(void)
{
	static uint64_t s;

	if (!s)
		s = (jt_opt.seed ? jt_opt.seed : 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid()) | 1;
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (s * 2685821657736338717ULL) >>
	       32; /* xorshift64*: its high bits are the good ones */
}

/* ---- statistics ---- */
double jt_mean(const double *x, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += x[i];
	return n ? s / n : NAN;
}

double jt_var(const double *x, int n)
{
	double m = jt_mean(x, n), s = 0;

	for (int i = 0; i < n; i++)
		s += (x[i] - m) * (x[i] - m);
	return n > 1 ? s / (n - 1) : NAN;
}

double jt_median(const double *x, int n)
{
	double *y, m;

	if (n <= 0 || !(y = malloc(n * sizeof(*y))))
		return NAN;
	memcpy(y, x, n * sizeof(*y));
	qsort(y, n, sizeof(*y), cmp_double);
	m = n % 2 ? y[n / 2] : (y[n / 2 - 1] + y[n / 2]) / 2;
	free(y);
	return m;
}

double jt_min(const double *x, int n)
{
	double m = INFINITY;

	for (int i = 0; i < n; i++)
		m = x[i] < m ? x[i] : m;
	return n ? m : NAN;
}

/* Trimmed mean (trim of each end) and its standard error (Yuen: the
 * winsorized standard deviation over (1 - 2 trim) sqrt(n)). */
double jt_tmean(const double *x, int n, double trim, double *se)
{
	int g = (int)(trim * n), k = n - 2 * g;
	double *y, s = 0, w = 0, m;

	*se = NAN;
	if (k <= 0 || !(y = malloc(n * sizeof(*y))))
		return NAN;
	memcpy(y, x, n * sizeof(*y));
	qsort(y, n, sizeof(*y), cmp_double);
	for (int i = g; i < n - g; i++)
		s += y[i];
	m = s / k;
	double wm = 0;
	for (int i = 0; i < n; i++) {
		y[i] = y[i < g ? g : i >= n - g ? n - g - 1 : i];
		wm += y[i];
	}
	wm /= n;
	for (int i = 0; i < n; i++)
		w += (y[i] - wm) * (y[i] - wm);
	if (n > 1)
		*se = sqrt(w / (n - 1)) / ((1 - 2 * trim) * sqrt(n));
	free(y);
	return m;
}

/* z of the mean of paired differences d[i] = b[i] - a[i] (a paired t
 * statistic; +inf or -inf when every difference is the same non-zero). */
double jt_paired_z(const double *d, int n)
{
	double m = jt_mean(d, n), s = sqrt(jt_var(d, n) / n);

	if (s > 0)
		return m / s;
	return m > 0 ? INFINITY : m < 0 ? -INFINITY : 0;
}

struct ranked {
	double v;
	int pos;
};

static int cmp_ranked(const void *x, const void *y)
{
	return cmp_double(&((const struct ranked *)x)->v, &((const struct ranked *)y)->v);
}

/* Wilcoxon signed-rank statistic of paired differences as a z score
 * (normal approximation, zero differences dropped, tie correction):
 * positive when b tends to be larger than its partner a. */
double jt_signed_rank_z(const double *d, int n)
{
	struct ranked *r = malloc((n > 0 ? n : 1) * sizeof(*r));
	double w = 0, ties = 0;
	int m = 0;

	if (!r)
		return NAN;
	for (int i = 0; i < n; i++)
		if (d[i] != 0)
			r[m++] = (struct ranked){ fabs(d[i]), d[i] > 0 };
	qsort(r, m, sizeof(*r), cmp_ranked);
	for (int i = 0, j; i < m; i = j) {
		for (j = i + 1; j < m && r[j].v == r[i].v; j++)
			;
		double rank = (i + 1 + j) / 2.0, t = j - i;
		for (int k = i; k < j; k++)
			w += r[k].pos ? rank : 0;
		ties += t * t * t - t;
	}
	free(r);
	double mu = m * (m + 1) / 4.0, var = m * (m + 1.0) * (2 * m + 1) / 24 - ties / 48;
	return var > 0 ? (w - mu) / sqrt(var) : 0;
}

/* ---- options ---- */
void jt_parse(int argc, char **argv, const char *prog, const char *usage)
{
	static const struct option lo[] = {
		{ "clocks", required_argument, 0, 'c' },
		{ "quick", no_argument, 0, 'q' },
		{ "budget-ms", required_argument, 0, 'b' },
		{ "nmax", required_argument, 0, 'n' },
		{ "seed", required_argument, 0, 's' },
		{ "ipu", required_argument, 0, 'i' },
		{ "list", no_argument, 0, 'l' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int o;

	prog_name = prog;
	while ((o = getopt_long(argc, argv, "c:qb:n:s:i:lh", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			jt_opt.only = optarg;
			break;
		case 'q':
			jt_opt.quick = 1;
			break;
		case 'b':
			jt_opt.budget_ms = atoi(optarg);
			break;
		case 'n':
			jt_opt.nmax = atoi(optarg);
			break;
		case 's':
			jt_opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 'i':
			jt_ipu = atof(optarg);
			break;
		case 'l':
			for (int i = 0; i < jt_nclocks; i++)
				printf("%s\n", jt_clocks[i].name);
			exit(0);
		case 'h':
			printf("%s", usage);
			exit(0);
		default:
			fprintf(stderr, "%s", usage);
			exit(2);
		}
	}
	if (optind < argc || jt_opt.budget_ms < 1 || jt_opt.nmax < 10 || jt_opt.nmax > 100000 ||
	    jt_ipu < 0) {
		fprintf(stderr, "%s: bad arguments (try --help)\n", prog);
		exit(2);
	}
	if (jt_opt.only) {
		for (const char *p = jt_opt.only; *p;) {
			size_t len = strcspn(p, ",");
			int found = 0;
			for (int i = 0; i < jt_nclocks; i++)
				found |= strlen(jt_clocks[i].name) == len &&
					 !strncmp(jt_clocks[i].name, p, len);
			if (!found) {
				fprintf(stderr, "%s: unknown clock '%.*s' (see --list)\n", prog,
					(int)len, p);
				exit(2);
			}
			p += len + !!p[len];
		}
	}
}

int jt_selected(const struct jt_clock *c)
{
	size_t len = strlen(c->name);

	if (!jt_opt.only)
		return 1;
	for (const char *p = jt_opt.only; *p;) {
		size_t l = strcspn(p, ",");
		if (l == len && !strncmp(p, c->name, len))
			return 1;
		p += l + !!p[l];
	}
	return 0;
}

void jt_setup(int argc, char **argv, const char *prog, const char *usage)
{
	int given;

	jt_parse(argc, argv, prog, usage);
	given = jt_ipu > 0;
	jt_ref_pick();
	if (!given)
		jt_ipu = jt_calibrate();
	jt_begin("setup", NULL);
	jt_str("ref", jt_ref ? jt_ref->name : "none");
	jt_num("ipu", jt_ipu);
	jt_str("ipu_from", given ? "option" : "calibrated");
	jt_int("budget_ms", jt_opt.budget_ms);
	jt_bool("quick", jt_opt.quick);
	jt_end();
}

void jt_budget_start(struct jt_budget *b, double ms, long max_polls)
{
	b->t0 = jt_ref_ns();
	b->limit_ns = (int64_t)(ms * 1e6);
	b->polls = 0;
	b->max_polls = max_polls;
}

int jt_budget_over(struct jt_budget *b)
{
	int64_t t = b->t0 >= 0 ? jt_ref_ns() : -1;

	if (++b->polls >= b->max_polls)
		return 1;
	return t >= 0 && t - b->t0 >= b->limit_ns;
}

double jt_budget_ms(const struct jt_budget *b)
{
	int64_t t = b->t0 >= 0 ? jt_ref_ns() : -1;

	return t >= 0 ? (t - b->t0) / 1e6 : NAN;
}

/* ---- output ---- */
static void begin(const char *attack, const struct jt_clock *c)
{
	printf("{\"prog\":\"%s\",\"build\":\"%s\",\"attack\":\"%s\"", prog_name, JT_BUILD, attack);
	if (c)
		printf(",\"clock\":\"%s\",\"route\":\"%s\"", c->name, c->route);
	first_field = 0;
}

void jt_begin(const char *attack, const struct jt_clock *c)
{
	begin(attack, c);
	jt_str("status", "ok");
}

void jt_int(const char *k, int64_t v)
{
	printf(",\"%s\":%lld", k, (long long)v);
}

void jt_num(const char *k, double v)
{
	if (isfinite(v))
		printf(",\"%s\":%.6g", k, v);
	else
		printf(",\"%s\":null", k);
}

void jt_str(const char *k, const char *v)
{
	printf(",\"%s\":\"%s\"", k, v);
}

void jt_bool(const char *k, int v)
{
	printf(",\"%s\":%s", k, v ? "true" : "false");
}

void jt_end(void)
{
	printf("}\n");
	fflush(stdout);
}

void jt_status(const char *attack, const struct jt_clock *c, int err)
{
	begin(attack, c);
	if (err <= JT_FAULT)
		jt_str("status", JT_FAULT - err == SIGALRM ? "timeout" : "fault");
	else
		jt_str("status", "error");
	jt_str("error", jt_err_name(err));
	jt_end();
}

const char *jt_err_name(int err)
{
	static char buf[32];

	if (err <= JT_FAULT) {
		int sig = JT_FAULT - err;
		if (sig == SIGALRM)
			return "timeout";
		snprintf(buf, sizeof(buf), "SIG%s", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
		return buf;
	}
	if (err < 0 && strerrorname_np(-err))
		return strerrorname_np(-err);
	snprintf(buf, sizeof(buf), "error %d", err);
	return buf;
}

/* ---- fault guard ---- */
static sigjmp_buf guard_jb;
static volatile sig_atomic_t guard_armed;

static void on_fault(int sig)
{
	if (guard_armed) {
		guard_armed = 0;
		siglongjmp(guard_jb, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

int jt_guard(void (*fn)(struct jt_clock *c, void *arg), struct jt_clock *c, void *arg,
	     unsigned timeout_s)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGSYS, SIGFPE, SIGALRM };
	struct sigaction sa = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };
	int sig;

	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sig = sigsetjmp(guard_jb, 1);
	if (sig) {
		alarm(0);
		return JT_FAULT - sig;
	}
	guard_armed = 1;
	alarm(timeout_s);
	fn(c, arg);
	alarm(0);
	guard_armed = 0;
	return 0;
}

void jt_each_clock(const char *attack, void (*fn)(struct jt_clock *c, void *state),
		   void (*report)(struct jt_clock *c, void *state), void *state, size_t size,
		   unsigned timeout_s)
{
	for (int i = 0; i < jt_nclocks; i++) {
		struct jt_clock *c = &jt_clocks[i];
		int e;

		if (!jt_selected(c))
			continue;
		memset(state, 0, size);
		if (!(e = jt_clock_open(c)))
			e = jt_guard(fn, c, state, timeout_s);
		if (e || *(int *)state)
			jt_status(attack, c, e ? e : *(int *)state);
		else
			report(c, state);
		jt_clock_close(c);
	}
}
