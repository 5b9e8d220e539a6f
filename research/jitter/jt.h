/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jt.h - shared pieces of the jitter attacker suite (research/jitter):
 * the clock sources a process can time itself with (clocks.c), the work
 * unit and its calibration, statistics, JSON-line output and the fault
 * guard (jt.c).  See research/jitter/README.md for what each program
 * measures and the meaning of every field it prints.
 */
#ifndef JT_H
#define JT_H

#include <stddef.h>
#include <stdint.h>

#ifndef JT_BUILD
#define JT_BUILD "dynamic"
#endif

/* ---- clock sources (clocks.c) ---- */
struct jt_clock {
	const char *name;
	const char *route;  /* vdso, syscall, instruction, file, perf, memory, thread */
	const char *unit;   /* what one raw unit is: ns, us, s, ticks, cycles, counts */
	double ns_per_unit; /* fixed, or calibrated against the reference clock */
	int (*open)(struct jt_clock *c);
	int (*read)(struct jt_clock *c, int64_t *v); /* 0, or -errno */
	void (*close)(struct jt_clock *c);
	int arg; /* a clock id, a perf event id, ... */
	int fd;
	void *fn;	/* a function found in the vDSO */
	void *addr;	/* a word in the vvar page */
	int calibrated; /* 1: ns_per_unit measured at open */
};

extern struct jt_clock jt_clocks[];
extern int jt_nclocks;
/* The reference clock (first working of libc MONOTONIC, the raw syscall,
 * gettimeofday): for budgets, per-read costs and calibrations. */
extern struct jt_clock *jt_ref;

int jt_ref_pick(void);
int64_t jt_ref_ns(void); /* -1 when it fails */
/* Open c under the guard: 0, -errno, or JT_FAULT - signal number. */
int jt_clock_open(struct jt_clock *c);
void jt_clock_close(struct jt_clock *c);
static inline double jt_ns(const struct jt_clock *c, int64_t raw)
{
	return raw * c->ns_per_unit;
}

/* ---- vDSO and vvar lookup (vdso.c) ---- */
uintptr_t jt_vdso_base_auxv(void);
uintptr_t jt_map_base(const char *tag); /* "[vdso]", "[vvar]" from /proc/self/maps */
void *jt_vdso_sym(uintptr_t base, const char *name);

/* ---- work unit, random numbers (jt.c) ---- */
extern double jt_ipu; /* spin iterations per microsecond */
void jt_spin(uint64_t iters);
uint64_t jt_iters(double us); /* iterations for a work unit of us microseconds */
double jt_calibrate(void);    /* measures jt_ipu with the reference clock */
uint64_t jt_rand(void);

/* ---- statistics (jt.c) ---- */
double jt_mean(const double *x, int n);
double jt_var(const double *x, int n);
double jt_median(const double *x, int n); /* sorts a copy */
double jt_min(const double *x, int n);
double jt_tmean(const double *x, int n, double trim, double *se);
double jt_paired_z(const double *d, int n);	 /* paired t of d = b - a */
double jt_signed_rank_z(const double *d, int n); /* Wilcoxon signed-rank of d */

/* ---- options (jt.c) ---- */
struct jt_opts {
	const char *only; /* comma-separated clock names, or NULL for all */
	int quick;	  /* small N: a smoke test */
	int budget_ms;	  /* the attacker's burst */
	int nmax;	  /* averaging attack: samples per work unit */
	uint64_t seed;
};
extern struct jt_opts jt_opt;
void jt_parse(int argc, char **argv, const char *prog, const char *usage);
int jt_selected(const struct jt_clock *c);
/* jt_parse, then the reference clock and the work unit's calibration (unless
 * --ipu gave it), printed as a "setup" line. */
void jt_setup(int argc, char **argv, const char *prog, const char *usage);

/* A time budget on the reference clock; when no clock works, a poll count. */
struct jt_budget {
	int64_t t0, limit_ns;
	long polls, max_polls;
};
void jt_budget_start(struct jt_budget *b, double ms, long max_polls);
int jt_budget_over(struct jt_budget *b);
double jt_budget_ms(const struct jt_budget *b); /* elapsed, NaN without a clock */

/* ---- output: one JSON object per line (jt.c) ---- */
void jt_begin(const char *attack, const struct jt_clock *c);
void jt_int(const char *k, int64_t v);
void jt_num(const char *k, double v); /* NaN and inf print as null */
void jt_str(const char *k, const char *v);
void jt_bool(const char *k, int v);
void jt_end(void);
/* One line saying why clock c gave no result for this attack. */
void jt_status(const char *attack, const struct jt_clock *c, int err);

/* ---- fault guard (jt.c) ---- */
#define JT_FAULT (-100000)
/* Runs fn(c, arg) with SIGSEGV/SIGBUS/SIGILL/SIGSYS and a timeout of
 * timeout_s seconds turned into a return value: 0, or JT_FAULT - signal. */
int jt_guard(void (*fn)(struct jt_clock *c, void *arg), struct jt_clock *c, void *arg,
	     unsigned timeout_s);
const char *jt_err_name(int err);

/* For each selected clock: open it, run fn under the guard (timeout_s) on a
 * zeroed state of size bytes whose first member is an int error, then
 * report(c, state), or one status line for attack when anything failed. */
void jt_each_clock(const char *attack, void (*fn)(struct jt_clock *c, void *state),
		   void (*report)(struct jt_clock *c, void *state), void *state, size_t size,
		   unsigned timeout_s);

#endif
