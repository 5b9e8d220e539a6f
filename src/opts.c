// SPDX-License-Identifier: GPL-2.0
/*
 * opts.c - the command line (mirrors ethoswd/cli.py): an argparse-like
 * parser, the help text, the value checks, and the names of backends,
 * actions and keys.  The policy the options resolve to is policy.c.
 *
 * Parsing follows what argparse does for watchdog.py, so that a bad
 * command line gets the same one-line refusal: long options may be cut
 * to a unique prefix, take "--opt value" or "--opt=value", short options
 * "-p 5" or "-p5"; words that are not options are "unrecognized"; an
 * option value that looks like an option is "expected one argument".
 * Values are then checked in cli.parse()'s order, and the policy
 * (profile, read class, files, key, excluded executables) resolved by
 * wd_policy_resolve() as cli.parse() calls policy.resolve().
 */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "errors.h"
#include "jitter_bpf_run.h"
#include "labels.h"
#include "opts.h"
#include "policy.h"
#include "runas.h"
#include "strutil.h"
#include "text.h"

#define COMM_MAX     (WD_COMM_LEN - 1)
#define VERSION	     "1.0" /* cli.py VERSION */
#define INTERVAL_MIN 0.1   /* the shortest -i: cli.py INTERVAL_MIN */
#define STR2(x)	     #x
#define STR(x)	     STR2(x)

/* ---- the option table: options.def ------------------------------------ */

#define WD_CHOICES(name, ...) static const char *const name[] = { __VA_ARGS__, NULL };
#include "../probe/options.def"

/* argparse's order: it orders "could match" and --help */
enum opt_id {
#define WD_OPT(id, ...) O_##id,
#include "../probe/options.def"
	O_N
};

enum opt_kind { K_FLAG, K_VALUE, K_LIST, K_HELP, K_VERSION };

struct optdef {
	const char *shrt, *lng;
	bool arg; /* takes one value */
	enum opt_kind kind;
	const char *metavar;
	const char *const *choices;
	const char *dflt, *help; /* help NULL: hidden (--ebpf) */
};

/* clang-format off */
static const struct optdef optdefs[O_N] = {
#define WD_OPT(id, s, l, kind, meta, choices, dflt, help) \
	[O_##id] = { s, l, K_##kind == K_VALUE || K_##kind == K_LIST, K_##kind, meta, choices, \
		     dflt, help },
#include "../probe/options.def"
};
/* clang-format on */

/* ---- --help, formatted as argparse does at 80 columns --------------------- */

#define HELP_COLUMN    24 /* argparse's max_help_position */
#define HELP_WIDTH     54 /* 78 columns - HELP_COLUMN */
#define EXAMPLE_COLUMN 41 /* options.py EXAMPLE_COLUMN */

/* "-p PID, --pid PID", "--key {process,tree,uid,cgroup}", "--json" */
static char *invocation(const struct optdef *d)
{
	struct wd_buf meta = { 0 }, b = { 0 };
	const char *const *c;

	if (d->choices)
		for (c = d->choices, wb_printf(&meta, " {"); *c; c++)
			wb_printf(&meta, "%s%s", *c, c[1] ? "," : "}");
	else if (d->arg)
		wb_printf(&meta, " %s", d->metavar);
	if (d->shrt)
		wb_printf(&b, "%s%s, ", d->shrt, meta.p ?: "");
	wb_printf(&b, "%s%s", d->lng, meta.p ?: "");
	free(meta.p);
	return b.p;
}

/* The help text wrapped at spaces to HELP_WIDTH: textwrap's lines for
 * these texts, which break at no hyphen (the parity test compares). */
static void wrap(const char *text, struct wd_buf *out)
{
	size_t col = 0, n;

	while (*text) {
		n = strcspn(text, " ");
		if (col && col + 1 + n > HELP_WIDTH) {
			wb_printf(out, "\n%*s", HELP_COLUMN, "");
			col = 0;
		} else if (col) {
			wb_printf(out, " ");
			col++;
		}
		wb_printf(out, "%.*s", (int)n, text);
		col += n;
		text += n + strspn(text + n, " ");
	}
	wb_printf(out, "\n");
}

/* options.py examples(): the comment from EXAMPLE_COLUMN, on a line of
 * its own if the command reaches it. */
static void examples(struct wd_buf *b)
{
	static const struct {
		const char *args, *comment;
	} ex[] = {
#define WD_EXAMPLE(args, comment) { args, comment },
#include "../probe/options.def"
	};
	const char *c, *next;
	int col;

	wb_printf(b, "\nexamples:\n");
	for (size_t k = 0; k < sizeof(ex) / sizeof(ex[0]); k++) {
		wb_printf(b, "  " WD_PROG "%s", ex[k].args);
		col = (int)strlen("  " WD_PROG) + (int)strlen(ex[k].args);
		for (c = ex[k].comment; c; c = next) {
			next = strchr(c, '\n');
			if (col >= EXAMPLE_COLUMN) {
				wb_printf(b, "\n");
				col = 0;
			}
			wb_printf(b, "%*s# %.*s", EXAMPLE_COLUMN - col, "", (int)strcspn(c, "\n"),
				  c);
			col = EXAMPLE_COLUMN;
			next = next ? next + 1 : NULL;
		}
		wb_printf(b, "\n");
	}
}

static void print_help(void)
{
	struct wd_buf b = { 0 };
	char *inv;

	wb_printf(&b, "usage: " WD_PROG " [options] [-- CMD [ARGS...]]\n\n"
		      "Rate-limit read() bursts per process with eBPF.\n\noptions:\n");
	for (int k = 0; k < O_N; k++) {
		if (!optdefs[k].help)
			continue;
		inv = invocation(&optdefs[k]);
		if (strlen(inv) <= HELP_COLUMN - 4)
			wb_printf(&b, "  %-*s", HELP_COLUMN - 2, inv);
		else
			wb_printf(&b, "  %s\n%*s", inv, HELP_COLUMN, "");
		free(inv);
		wrap(optdefs[k].help, &b);
	}
	examples(&b);
	wb_printf(&b, "\nethoswd runs the watchdog only: the research commands record, replay,\n"
		      "export and sweep are in watchdog.py.\n");
	fputs(b.p, stdout);
	free(b.p);
}

/* The option strings in argparse's order: -h, --help, --max-calls, ... */
static const char *optstr(int k, int *id)
{
	int i, n = 0;

	for (i = 0; i < O_N; i++) {
		if (optdefs[i].shrt && n++ == k)
			return *id = i, optdefs[i].shrt;
		if (n++ == k)
			return *id = i, optdefs[i].lng;
	}
	return NULL;
}

static int find_exact(const char *s, size_t n)
{
	const char *o;
	int k, id;

	for (k = 0; (o = optstr(k, &id)); k++)
		if (strlen(o) == n && !strncmp(o, s, n))
			return id;
	return -1;
}

/* argparse's action name in errors: "-p/--pid", "--max-calls". */
static const char *optname(int id, char *buf, size_t len)
{
	if (optdefs[id].shrt)
		snprintf(buf, len, "%s/%s", optdefs[id].shrt, optdefs[id].lng);
	else
		snprintf(buf, len, "%s", optdefs[id].lng);
	return buf;
}

/* ---- what the command line gave, before the checks ---------------------- */

struct strlist {
	int n;
	const char **v;
};

struct raw {
	const char *val[O_N];	  /* last value of a single-value option */
	struct strlist list[O_N]; /* --file, --exclude-exe, -p, --comm, ... */
	bool flag[O_N];
	struct strlist extras;	 /* unrecognized words */
	struct wd_cfg_file file; /* --config FILE: the values it gave point here */
	bool given[O_N];	 /* on the command line (they override the file) */
};

static void list_add(struct strlist *l, const char *s)
{
	l->v = wd_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

static bool repeatable(int id)
{
	return optdefs[id].kind == K_LIST;
}

/* A word as argparse classifies it. */
struct match {
	int kind;	      /* 0: a value, 1: an option */
	int id;		      /* the option, -1 if unknown */
	const char *used;     /* the option string it matched */
	const char *explicit; /* "=value" or "-pVALUE" part, or NULL */
};

static bool negative_number(const char *s)
{
	const char *p = s + 1, *dot;

	if (*p == '\0')
		return false;
	dot = strchr(p, '.');
	if (dot && (strchr(dot + 1, '.') || !dot[1]))
		return false;
	for (; *p; p++)
		if (*p != '.' && (*p < '0' || *p > '9'))
			return false;
	return true;
}

/* The option strings `arg` abbreviates (argparse _get_option_tuples). */
static int prefix_matches(const char *arg, struct match *m, struct wd_buf *names)
{
	const char *eq = strchr(arg, '='), *o;
	size_t plen = arg[1] == '-' && eq ? (size_t)(eq - arg) : strlen(arg);
	int k, id, n = 0;

	for (k = 0; (o = optstr(k, &id)); k++) {
		const char *explicit = NULL;

		if (arg[1] != '-' && strlen(o) == 2 && !strncmp(o, arg, 2))
			explicit = arg + 2; /* -pVALUE */
		else if (strncmp(o, arg, plen))
			continue;
		else if (arg[1] == '-' && eq)
			explicit = eq + 1;
		wb_printf(names, "%s%s", n ? ", " : "", o);
		if (!n++)
			*m = (struct match){ 1, id, o, explicit };
	}
	return n;
}

static int classify(const char *arg, struct match *m)
{
	struct wd_buf names = { 0 };
	const char *eq;
	int n;

	*m = (struct match){ 0, -1, NULL, NULL };
	if (arg[0] != '-')
		return 0;
	if ((m->id = find_exact(arg, strlen(arg))) >= 0)
		return m->kind = 1, m->used = arg, 0;
	if (!arg[1])
		return 0;
	eq = strchr(arg, '=');
	if (eq && (m->id = find_exact(arg, eq - arg)) >= 0) {
		m->kind = 1, m->explicit = eq + 1;
		m->used = arg[1] == '-' ? optdefs[m->id].lng : optdefs[m->id].shrt;
		return 0;
	}
	n = prefix_matches(arg, m, &names);
	if (n > 1) {
		wd_fail("ambiguous option: %s could match %s (see --help)", arg, names.p);
		free(names.p);
		return -1;
	}
	free(names.p);
	if (n == 1)
		return 0;
	if (negative_number(arg) || strchr(arg, ' '))
		return 0;
	m->kind = 1; /* an unknown option */
	return 0;
}

/* Store one option's value, checking a choice as argparse does then. */
static int take(struct raw *raw, int id, const char *val)
{
	const char *const *c = optdefs[id].choices;
	char name[40], *r;
	struct wd_buf b = { 0 };

	if (!optdefs[id].arg) {
		raw->flag[id] = true;
		return 0;
	}
	for (; c && *c; c++)
		if (!strcmp(*c, val))
			break;
	if (c && !*c) {
		for (c = optdefs[id].choices; *c; c++)
			wb_printf(&b, "%s'%s'", c == optdefs[id].choices ? "" : ", ", *c);
		r = wd_repr_dup(val);
		wd_fail("argument %s: invalid choice: %s (choose from %s) (see --help)",
			optname(id, name, sizeof(name)), r, b.p);
		free(r);
		free(b.p);
		return -1;
	}
	if (repeatable(id))
		list_add(&raw->list[id], val);
	else
		raw->val[id] = val;
	return 0;
}

static int ignored(int id, const char *explicit)
{
	char name[40], *r = wd_repr_dup(explicit);

	wd_fail("argument %s: ignored explicit argument %s (see --help)",
		optname(id, name, sizeof(name)), r);
	free(r);
	return -1;
}

/*
 * One option at args[i] (argparse consume_optional): its value from
 * "=value", "-pVALUE" or the next word; "-h" may lead a cluster of short
 * options ("-hp5").  Returns the next index, or -1.
 */
static int consume(char **args, int n, int i, struct match m, struct raw *raw)
{
	struct match next;
	int acts[8], nacts = 0, k;
	const char *val = NULL;
	char name[40], s[3];

	for (;;) {
		if (!m.explicit) {
			if (optdefs[m.id].arg) {
				if (i + 1 >= n || classify(args[i + 1], &next) || next.kind)
					return wd_fail(
						"argument %s: expected one argument (see --help)",
						optname(m.id, name, sizeof(name)));
				val = args[++i];
			}
			break;
		}
		if (optdefs[m.id].arg) {
			val = m.explicit;
			break;
		}
		if (m.used[1] == '-' || !*m.explicit || nacts == 7)
			return ignored(m.id, m.explicit);
		/* a flag in a cluster: the next letter is the next option */
		acts[nacts++] = m.id;
		snprintf(s, sizeof(s), "-%c", m.explicit[0]);
		if ((k = find_exact(s, 2)) < 0)
			return ignored(m.id, m.explicit);
		m = (struct match){ 1, k, optdefs[k].shrt, m.explicit[1] ? m.explicit + 1 : NULL };
	}
	acts[nacts++] = m.id;
	for (k = 0; k < nacts; k++) {
		if (acts[k] == O_HELP || acts[k] == O_VERSION) {
			raw->flag[acts[k]] = true;
			return n; /* argparse prints help at once */
		}
		if (take(raw, acts[k], k == nacts - 1 ? val : NULL))
			return -1;
	}
	return i + 1;
}

static int parse_words(char **args, int n, struct raw *raw)
{
	struct match m;
	int i;

	/* argparse classifies every word first: an ambiguous one fails now */
	for (i = 0; i < n; i++)
		if (classify(args[i], &m))
			return -1;
	for (i = 0; i < n && !raw->flag[O_HELP] && !raw->flag[O_VERSION];) {
		classify(args[i], &m);
		if (!m.kind || m.id < 0) {
			list_add(&raw->extras, args[i++]);
			continue;
		}
		i = consume(args, n, i, m, raw);
		if (i < 0)
			return -1;
	}
	return 0;
}

/* ---- value checks (cli.py _whole, _seconds, _comm) ---------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int whole(const char *name, const char *text, __u64 lo, __u64 hi, const char *what,
		 __u64 *out)
{
	char *s = wd_strip_dup(text), *d = s + (*s == '+'), *r;
	size_t i, nd = strlen(d);
	int rc = 0;

	for (i = 0; i < nd && is_digit(d[i]); i++)
		;
	if (!nd || i < nd) {
		r = wd_repr_dup(text);
		rc = wd_fail("%s %s is not a whole number", name, r);
		free(r);
		goto out;
	}
	while (d[0] == '0' && d[1])
		d++; /* the value as Python prints int(text) */
	errno = 0;
	*out = strtoull(d, NULL, 10);
	if (*out < lo && !errno)
		rc = wd_fail("%s %s is too small: it must be at least %llu", name, d,
			     (unsigned long long)lo);
	else if (*out > hi || errno)
		rc = wd_fail("%s %s is too large: %s, at most %llu", name, d, what,
			     (unsigned long long)hi);
out:
	free(s);
	return rc;
}

/* A number of seconds: float()'s syntax in ASCII without '_' ([sign]
 * digits[.digits][e[sign]digits], or inf, infinity); NaN is not one. */
static bool seconds_syntax(const char *s)
{
	const char *p = s;
	int digits = 0, state = 0; /* 0 mantissa, 1 fraction, 2 exponent */
	bool edigit = false;

	if (*p == '+' || *p == '-')
		p++;
	if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity"))
		return true;
	for (; *p; p++) {
		if (is_digit(*p)) {
			if (state == 2)
				edigit = true;
			else
				digits++;
		} else if (*p == '.' && state == 0) {
			state = 1;
		} else if ((*p == 'e' || *p == 'E') && state < 2 && digits) {
			state = 2;
			if (p[1] == '+' || p[1] == '-')
				p++;
		} else {
			return false;
		}
	}
	return digits && (state < 2 || edigit);
}

/* Seconds in lo..hi (lo 0: more than 0), as cli.py _seconds(). */
static int seconds(const char *name, const char *text, double lo, double hi, double *out)
{
	char *s = wd_strip_dup(text), *r;
	int rc = 0;

	if (!seconds_syntax(s)) {
		r = wd_repr_dup(text);
		rc = wd_fail("%s %s is not a number of seconds", name, r);
		free(r);
	} else {
		*out = strtod(s, NULL);
		if (lo && !(*out >= lo && *out <= hi))
			rc = wd_fail("%s %s must be at least %g and at most %g seconds", name, text,
				     lo, hi);
		else if (!(*out > 0 && *out <= hi))
			rc = wd_fail("%s %s must be more than 0 and at most %g seconds", name, text,
				     hi);
	}
	free(s);
	return rc;
}

static int comm(const char *name, const char *text, char out[WD_COMM_LEN])
{
	char *r;

	if (!*text || strlen(text) > COMM_MAX) {
		r = wd_repr_dup(text);
		wd_fail("%s %s must be 1 to %d bytes long, the kernel's "
			"command-name limit",
			name, r, COMM_MAX);
		free(r);
		return -1;
	}
	memset(out, 0, WD_COMM_LEN);
	memcpy(out, text, strlen(text));
	return 0;
}

/* --jitter GRAIN (cli.py _grain): a whole number and a unit, in ns; the
 * bounds are probe/jitter_clamp.h's. */
static int grain(const char *text, __u64 *ns)
{
	static const struct {
		const char *unit;
		__u64 ns;
	} units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 } };
	size_t nd = strspn(text, "0123456789");
	__u64 mul = 0, v;
	char *r;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (nd && !strcmp(text + nd, units[i].unit))
			mul = units[i].ns;
	if (!mul) {
		r = wd_repr_dup(text);
		wd_fail("--jitter %s is not a duration: give a whole number and a unit, "
			"e.g. 100us or 1ms",
			r);
		free(r);
		return -1;
	}
	errno = 0;
	v = strtoull(text, NULL, 10);
	if (v < 1000 && v * mul < 1000 && !errno) /* below 1 us */
		return wd_fail("--jitter %s is too small: it must be at least 1us, so that "
			       "microsecond clocks carry whole grains",
			       text);
	if (errno || v > 1000000000 / mul)
		return wd_fail("--jitter %s is too large: pause holds a reader up to two "
			       "grains, at most 1s",
			       text);
	*ns = v * mul;
	if (*ns % 1000)
		return wd_fail("--jitter %s is not a whole number of microseconds", text);
	return 0;
}

static int check_jitter(struct wd_opts *o, struct raw *raw)
{
	o->jitter_mode = raw->val[O_JITTER_MODE] ?: "clamp";
	o->jitter_via = raw->val[O_JITTER_VIA] ?: "auto";
	if (raw->val[O_JITTER]) {
		if (grain(raw->val[O_JITTER], &o->jitter_ns))
			return -1;
	} else if (raw->val[O_JITTER_MODE]) {
		return wd_fail("--jitter-mode needs --jitter GRAIN");
	} else if (raw->val[O_JITTER_VIA]) {
		return wd_fail("--jitter-via needs --jitter GRAIN");
	}
	return o->jitter_ns ? wd_jb_check_via(o->jitter_ns, o->jitter_mode, o->jitter_via,
					      o->ncommand > 0) :
			      0;
}

/* ---- cli.parse() -------------------------------------------------------- */

/* The index of s in a NULL-terminated list of names, or -1. */
static int index_of(const char *const *names, const char *s)
{
	int i;

	for (i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static int check_lists(struct wd_opts *o, struct raw *raw)
{
	struct strlist *l;
	__u64 v;
	int k;

	/* the count first, then each value (cli.py _at_most) */
	l = &raw->list[O_PID];
	if (l->n > WD_LIST_MAX)
		return wd_fail("-p/--pid: at most %d processes", WD_LIST_MAX);
	for (k = 0; k < l->n; k++) {
		if (whole("--pid", l->v[k], 1, 4194304, "PID_MAX_LIMIT", &v))
			return -1;
		o->pid[o->npid++] = v;
	}
	l = &raw->list[O_COMM];
	if (l->n > WD_LIST_MAX)
		return wd_fail("--comm: at most %d names", WD_LIST_MAX);
	for (k = 0; k < l->n; k++)
		if (comm("--comm", l->v[k], o->comm[o->ncomm++]))
			return -1;
	l = &raw->list[O_EXCLUDE_COMM];
	if (l->n > WD_LIST_MAX)
		return wd_fail("--exclude-comm: at most %d names", WD_LIST_MAX);
	for (k = 0; k < l->n; k++)
		if (comm("--exclude-comm", l->v[k], o->exclude_comm[o->nexclude_comm++]))
			return -1;
	return 0;
}

/* policy.resolve() of what the command line gave. */
static int resolve(struct wd_opts *o, struct raw *raw)
{
	struct wd_policy_args a = {
		.count = raw->val[O_COUNT],
		/* keys[] is in WD_KEY_* order */
		.key = raw->val[O_KEY] ? index_of(keys, raw->val[O_KEY]) : WD_KEY_UNSET,
		.targets = o->npid || o->ncommand,
		.nfiles = raw->list[O_FILE].n,
		.files = raw->list[O_FILE].v,
		.nexe = raw->list[O_EXCLUDE_EXE].n,
		.exe = raw->list[O_EXCLUDE_EXE].v,
	};

	return wd_policy_resolve(&o->policy, &a);
}

/* --metrics-listen ADDR:PORT: a numeric IPv4 address or [IPv6] address
 * (no name lookup), a colon, a port 1-65535 (cli.py metrics_listen). */
static int metrics_listen(const char *text, struct wd_opts *o)
{
	const char *colon, *p;
	char addr[64], *r;
	unsigned char bin[16];
	bool v6 = text[0] == '[', ok = false;
	size_t n;
	unsigned long port = 0;

	colon = v6 ? strstr(text, "]:") : strchr(text, ':');
	if (colon) {
		const char *a = text + v6;

		n = colon - a;
		ok = n > 0 && n < sizeof(addr) && colon[v6 + 1];
		for (p = a; ok && p < colon; p++)
			ok = is_digit(*p) || *p == '.' ||
			     (v6 && (*p == ':' || strchr("abcdefABCDEF", *p)));
		for (p = colon + v6 + 1; ok && *p; p++)
			ok = is_digit(*p);
		if (ok) {
			memcpy(addr, a, n);
			addr[n] = '\0';
			errno = 0;
			port = strtoul(colon + v6 + 1, NULL, 10);
			ok = !errno && port > 0 && port < 65536 &&
			     inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) == 1;
		}
	}
	if (!ok) {
		r = wd_repr_dup(text);
		wd_fail("--metrics-listen %s is not ADDR:PORT: an IPv4 address or [IPv6] "
			"address, a colon and a port 1-65535",
			r);
		free(r);
		return -1;
	}
	snprintf(o->metrics_addr, sizeof(o->metrics_addr), "%s", addr);
	o->metrics_port = port;
	return 0;
}

/* Checks of the metrics options, after the policy (cli.py _metrics). */
static int check_metrics(struct wd_opts *o, struct raw *raw)
{
	__u64 v;

	if (raw->val[O_METRICS_LISTEN] && metrics_listen(raw->val[O_METRICS_LISTEN], o))
		return -1;
	if (raw->val[O_METRICS_FILE] && !raw->val[O_METRICS_FILE][0])
		return wd_fail("--metrics-file needs a file name");
	o->metrics_file = raw->val[O_METRICS_FILE];
	if (!raw->val[O_METRICS_PER_CGROUP])
		return 0;
	if (whole("--metrics-per-cgroup", raw->val[O_METRICS_PER_CGROUP], 1, WD_METRICS_SERIES_MAX,
		  "label sets", &v))
		return -1;
	o->metrics_per_cgroup = v;
	if (!o->metrics_file && !o->metrics_port)
		return wd_fail("--metrics-per-cgroup needs --metrics-file or --metrics-listen");
	if (o->policy.key != WD_KEY_CGROUP)
		return wd_fail("--metrics-per-cgroup labels cgroup budgets: it needs --key cgroup "
			       "(the key here is %s)",
			       wd_key_name(o->policy.key));
	return 0;
}

static int check_values(struct wd_opts *o, struct raw *raw)
{
	struct wd_policy *p = &o->policy;
	__u64 v;

	if (raw->val[O_MAX_CALLS] &&
	    whole("--max-calls", raw->val[O_MAX_CALLS], 1, WD_MAX_CALLS_LIMIT,
		  "the 32-bit window count needs headroom", &p->max_calls))
		return -1;
	if (raw->val[O_WINDOW_MS] && whole("--window-ms", raw->val[O_WINDOW_MS], 1,
					   WD_WINDOW_MS_LIMIT, "one day", &p->window_ms))
		return -1;
	if (whole("--map-size", raw->val[O_MAP_SIZE] ?: optdefs[O_MAP_SIZE].dflt, 1, 1 << 22,
		  "4194304 entries", &v))
		return -1;
	o->map_size = v;
	if (seconds("--interval", raw->val[O_INTERVAL] ?: optdefs[O_INTERVAL].dflt, INTERVAL_MIN,
		    3600, &o->interval_s))
		return -1;
	if (raw->val[O_DURATION] &&
	    seconds("--duration", raw->val[O_DURATION], 0, 1e7, &o->duration_s))
		return -1;
	if (check_lists(o, raw))
		return -1;
	if (o->npid && o->ncommand)
		return wd_fail("use either -p/--pid or -- CMD, not both");
	if (raw->val[O_USER]) {
		if (!o->ncommand)
			return wd_fail("-u/--user runs the launched command as that user: "
				       "give -- CMD");
		if (wd_user_lookup(raw->val[O_USER], &o->user))
			return -1;
	}
	if (check_jitter(o, raw))
		return -1;
	if (resolve(o, raw))
		return -1;
	if (o->action == WD_ACT_DENY && o->backend == WD_BACKEND_TRACEPOINT)
		return wd_fail("--action deny needs a backend that can fail a call "
			       "(kprobe or lsm); tracepoint can only count and signal");
	return check_metrics(o, raw);
}

static const int backend_ids[] = { WD_BACKEND_AUTO, WD_BACKEND_KPROBE, WD_BACKEND_LSM,
				   WD_BACKEND_TRACEPOINT };
static const int action_ids[] = { WD_ACT_AUTO, WD_ACT_DENY, WD_ACT_THROTTLE, WD_ACT_KILL,
				  WD_ACT_MONITOR };

static void free_raw(struct raw *raw)
{
	int i;

	wd_config_free(&raw->file);
	for (i = 0; i < O_N; i++)
		free(raw->list[i].v);
	free(raw->extras.v);
}

/* --resume-stopped takes no other option than --json (cli.py: options
 * given, defaults aside), and neither path option an empty path. */
static int resume_alone(struct wd_opts *o, const struct raw *raw)
{
	o->state_file = raw->val[O_STATE_FILE];
	o->resume_stopped = raw->val[O_RESUME_STOPPED];
	for (int i = 0; o->resume_stopped && i < O_N; i++)
		if (i != O_RESUME_STOPPED && i != O_JSON &&
		    (raw->val[i] || raw->list[i].n || raw->flag[i] || o->ncommand))
			return wd_fail("--resume-stopped takes no other options than --json");
	if (o->state_file && !*o->state_file)
		return wd_fail("--state-file needs a path");
	if (o->resume_stopped && !*o->resume_stopped)
		return wd_fail("--resume-stopped needs a path");
	return 0;
}

/* --config FILE: a setting the command line did not give goes into raw
 * as if it had (cli.py _merge_config); the texts live in raw->file. */
static int set_from_file(void *ctx, int id, const char *const *vals, int n)
{
	struct raw *raw = ctx;

	if (raw->given[id])
		return 0;
	if (!optdefs[id].arg)
		raw->flag[id] = !strcmp(vals[0], "true");
	else if (repeatable(id))
		for (int i = 0; i < n; i++)
			list_add(&raw->list[id], vals[i]);
	else
		raw->val[id] = vals[0];
	return 0;
}

static int merge_config(struct raw *raw)
{
	struct wd_cfg_setting defs[O_N];

	for (int i = 0; i < O_N; i++) {
		raw->given[i] = raw->val[i] || raw->list[i].n || raw->flag[i];
		defs[i] = (struct wd_cfg_setting){ optdefs[i].lng + 2, !optdefs[i].arg,
						   repeatable(i), optdefs[i].choices };
	}
	return wd_config_apply(raw->val[O_CONFIG], &raw->file, defs, O_N, set_from_file, raw);
}

/* The words before "--" as argparse takes them, then the checks. */
static int parse_raw(int n, char **args, struct wd_opts *o, struct raw *raw)
{
	struct wd_buf b = { 0 };
	int i;

	if (parse_words(args, n, raw))
		return -1;
	if (raw->flag[O_HELP] || raw->flag[O_VERSION]) {
		if (raw->flag[O_HELP])
			print_help();
		else
			fputs(WD_PROG " " VERSION "\n", stdout);
		fflush(stdout);
		return 1;
	}
	if (raw->extras.n) {
		for (i = 0; i < raw->extras.n; i++)
			wb_printf(&b, "%s%s", i ? " " : "", raw->extras.v[i]);
		wd_fail("unrecognized arguments: %s (see --help)", b.p);
		free(b.p);
		return -1;
	}
	if (raw->val[O_CONFIG] && merge_config(raw))
		return -1;
	if (resume_alone(o, raw))
		return -1;
	o->policy.profile =
		profiles[index_of(profiles, raw->val[O_PROFILE] ?: optdefs[O_PROFILE].dflt)];
	if (raw->val[O_BACKEND])
		o->backend = backend_ids[index_of(backends, raw->val[O_BACKEND])];
	if (raw->val[O_ACTION])
		o->action = action_ids[index_of(actions, raw->val[O_ACTION])];
	o->config = raw->val[O_CONFIG];
	o->json = raw->flag[O_JSON];
	o->probe_features = raw->flag[O_PROBE_FEATURES];
	o->ebpf = raw->flag[O_EBPF];
	return check_values(o, raw);
}

int wd_opts_parse(int argc, char **argv, struct wd_opts *o)
{
	struct raw raw = { 0 };
	int i, n = argc - 1, rc;

	memset(o, 0, sizeof(*o));
	o->backend = WD_BACKEND_AUTO;
	o->action = WD_ACT_AUTO;
	o->policy.key = WD_KEY_UNSET;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			n = i - 1;
			o->command = argv + i + 1; /* argv[argc] is NULL */
			o->ncommand = argc - i - 1;
			if (!o->ncommand)
				return wd_fail("nothing after '--': give the command to launch");
			break;
		}
	}
	rc = parse_raw(n, argv + 1, o, &raw);
	free_raw(&raw);
	return rc;
}

void wd_opts_free(struct wd_opts *o)
{
	wd_user_free(&o->user);
	free(o->policy.files);
	free(o->policy.exclude_exe);
	o->policy.files = o->policy.exclude_exe = NULL;
	o->policy.nfiles = o->policy.nexe = 0;
}
