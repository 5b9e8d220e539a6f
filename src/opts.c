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

static const char help_text[] =
	"usage: ethoswd [options] [-- CMD [ARGS...]]\n"
	"\n"
	"Rate-limit read() bursts per process with eBPF.\n"
	"\n"
	"options:\n"
	"  -h, --help            show this help message and exit\n"
	"  --config FILE         read settings from this TOML file: the long options\n"
	"                        without '--' (max-calls = 50, comm = [\"x\"]); flags\n"
	"                        given here override it; SIGHUP re-reads it\n"
	"  --max-calls N         counted calls allowed per window per budget (default\n"
	"                        100; fingerprint profile 16)\n"
	"  --window-ms MS        window length in milliseconds (default 500)\n"
	"  --profile {seed,fingerprint}\n"
	"                        seed (default): every read, per process, 100/500 ms;\n"
	"                        fingerprint: reads of kernel information and identity\n"
	"                        files, per tree (targets) or cgroup; flags override it\n"
	"  --count CLASS         which reads count: all (default), sysinfo (procfs,\n"
	"                        sysfs, debugfs, ...), files (only --file),\n"
	"                        fs:NAME[,NAME...]; sysinfo,fs:NAME joins both\n"
	"  --file PATH           also count reads of this file, matched by device and\n"
	"                        inode (repeatable)\n"
	"  --key {process,tree,uid,cgroup}\n"
	"                        whose budget a call is charged to (default process;\n"
	"                        tree needs -- CMD or -p)\n"
	"  --exclude-exe PATH    never limit processes running this executable, matched\n"
	"                        by device and inode (repeatable)\n"
	"  --backend {auto,kprobe,lsm,tracepoint}\n"
	"                        attach point (default: the strongest that works)\n"
	"  --action {auto,deny,throttle,kill,monitor}\n"
	"                        what to do over the limit (default: the strongest the\n"
	"                        backend can do)\n"
	"  -p PID, --pid PID     limit this process and the children it starts\n"
	"                        (repeatable)\n"
	"  -u USER, --user USER  run CMD as this user (name or UID), with its groups;\n"
	"                        needs -- CMD\n"
	"  --comm NAME           limit only threads with this command name (repeatable)\n"
	"  --exclude-comm NAME   never limit threads with this command name\n"
	"                        (repeatable; spoofable: any process can rename itself)\n"
	"  -i SECONDS, --interval SECONDS\n"
	"                        seconds between tables (default 1, at least 0.1)\n"
	"  --duration SECONDS    run this long, then detach and exit\n"
	"  --json                one JSON object per line instead of tables\n"
	"  --probe-features      print what this kernel supports and exit\n"
	"  --map-size N          processes the PID map can track (default 65536)\n"
	"  --state-file PATH     keep the processes throttle stopped in PATH (PID and\n"
	"                        start time), for --resume-stopped\n"
	"  --resume-stopped PATH\n"
	"                        resume the processes a --state-file lists (if still\n"
	"                        the same process), remove it and exit\n"
	"  --metrics-file PATH   write Prometheus metrics to PATH every interval (a\n"
	"                        temporary file, then rename), for node_exporter's\n"
	"                        textfile collector\n"
	"  --metrics-listen ADDR:PORT\n"
	"                        serve Prometheus metrics on http://ADDR:PORT/metrics,\n"
	"                        and /healthz (ADDR: an IPv4 address or [IPv6])\n"
	"  --metrics-per-cgroup N\n"
	"                        with --key cgroup: a series per cgroup for the first N\n"
	"                        cgroups seen (path, container), the rest summed as\n"
	"                        other\n"
	"  --jitter GRAIN        clamp every clock the targets read to a keyed grain:\n"
	"                        100us, 1ms (1us to 1s); see docs/jitter.md\n"
	"  --jitter-mode {clamp,pause}\n"
	"                        clamp (default): only the values; pause: also hold\n"
	"                        each read until the reading's switch point\n"
	"  --jitter-via {auto,launcher,write,quantize}\n"
	"                        auto (default): the launcher for -- CMD, else write\n"
	"                        where the kernel allows bpf_probe_write_user, else\n"
	"                        quantize (grains up to 100us); see docs/jitter_bpf.md\n"
	"  --version             print the version and exit\n"
	"\n"
	"examples:\n"
	"  ethoswd                                # limit every process: 100 reads/500 ms\n"
	"  ethoswd --probe-features               # what this kernel can enforce, and why\n"
	"  ethoswd --max-calls 50 --window-ms 200 -- ./tests/progs/bin/aggressive_reader -n 500\n"
	"                                         # launch a command, limit it and its children\n"
	"  ethoswd -p 1234 -p 1240                # limit two running processes\n"
	"  ethoswd -u nobody -- lscpu             # run the command as user nobody\n"
	"  ethoswd --comm python3 --action monitor --json\n"
	"                                         # count only, one JSON object per line\n"
	"  ethoswd --backend tracepoint --action throttle --duration 10\n"
	"                                         # stop offenders until their window ends\n"
	"  ethoswd --count sysinfo --key tree --max-calls 40 -- ./scan.sh\n"
	"                                         # count only /proc, /sys... reads, one\n"
	"                                         # budget for the whole process tree\n"
	"  ethoswd --profile fingerprint          # system-wide, one budget per cgroup\n"
	"  ethoswd --action monitor --jitter 100us -- ./bench.sh\n"
	"                                         # every clock of the command's tree\n"
	"                                         # clamped to a keyed 100 us grain\n"
	"  ethoswd --action monitor --jitter 100us -p 1234\n"
	"                                         # BPF mode: written where the kernel\n"
	"                                         # allows it, else quantized by delay\n"
	"\n"
	"ethoswd runs the watchdog only: the research commands record, replay,\n"
	"export and sweep are in watchdog.py.\n";

/* ---- the option table (argparse's order: it orders "could match") ------- */

enum opt_id {
	O_HELP,
	O_CONFIG,
	O_MAX_CALLS,
	O_WINDOW_MS,
	O_PROFILE,
	O_COUNT,
	O_FILE,
	O_KEY,
	O_EXCLUDE_EXE,
	O_BACKEND,
	O_ACTION,
	O_PID,
	O_USER,
	O_COMM,
	O_EXCLUDE_COMM,
	O_INTERVAL,
	O_DURATION,
	O_JSON,
	O_PROBE_FEATURES,
	O_MAP_SIZE,
	O_STATE_FILE,
	O_RESUME_STOPPED,
	O_METRICS_FILE,
	O_METRICS_LISTEN,
	O_METRICS_PER_CGROUP,
	O_JITTER,
	O_JITTER_MODE,
	O_JITTER_VIA,
	O_EBPF,
	O_VERSION,
	O_N
};

static const char *const profiles[] = { "seed", "fingerprint", NULL };
static const char *const keys[] = { "process", "tree", "uid", "cgroup", NULL };
static const char *const backends[] = { "auto", "kprobe", "lsm", "tracepoint", NULL };
static const char *const actions[] = { "auto", "deny", "throttle", "kill", "monitor", NULL };
static const char *const jitter_modes[] = { "clamp", "pause", NULL };
static const char *const jitter_vias[] = { "auto", "launcher", "write", "quantize", NULL };

struct optdef {
	const char *shrt, *lng;
	bool arg; /* takes one value */
	const char *const *choices;
};

static const struct optdef optdefs[O_N] = {
	[O_HELP] = { "-h", "--help", false, NULL },
	[O_CONFIG] = { NULL, "--config", true, NULL },
	[O_MAX_CALLS] = { NULL, "--max-calls", true, NULL },
	[O_WINDOW_MS] = { NULL, "--window-ms", true, NULL },
	[O_PROFILE] = { NULL, "--profile", true, profiles },
	[O_COUNT] = { NULL, "--count", true, NULL },
	[O_FILE] = { NULL, "--file", true, NULL },
	[O_KEY] = { NULL, "--key", true, keys },
	[O_EXCLUDE_EXE] = { NULL, "--exclude-exe", true, NULL },
	[O_BACKEND] = { NULL, "--backend", true, backends },
	[O_ACTION] = { NULL, "--action", true, actions },
	[O_PID] = { "-p", "--pid", true, NULL },
	[O_USER] = { "-u", "--user", true, NULL },
	[O_COMM] = { NULL, "--comm", true, NULL },
	[O_EXCLUDE_COMM] = { NULL, "--exclude-comm", true, NULL },
	[O_INTERVAL] = { "-i", "--interval", true, NULL },
	[O_DURATION] = { NULL, "--duration", true, NULL },
	[O_JSON] = { NULL, "--json", false, NULL },
	[O_PROBE_FEATURES] = { NULL, "--probe-features", false, NULL },
	[O_MAP_SIZE] = { NULL, "--map-size", true, NULL },
	[O_STATE_FILE] = { NULL, "--state-file", true, NULL },
	[O_RESUME_STOPPED] = { NULL, "--resume-stopped", true, NULL },
	[O_METRICS_FILE] = { NULL, "--metrics-file", true, NULL },
	[O_METRICS_LISTEN] = { NULL, "--metrics-listen", true, NULL },
	[O_METRICS_PER_CGROUP] = { NULL, "--metrics-per-cgroup", true, NULL },
	[O_JITTER] = { NULL, "--jitter", true, NULL },
	[O_JITTER_MODE] = { NULL, "--jitter-mode", true, jitter_modes },
	[O_JITTER_VIA] = { NULL, "--jitter-via", true, jitter_vias },
	[O_EBPF] = { NULL, "--ebpf", false, NULL },	  /* hidden, as in cli.py */
	[O_VERSION] = { NULL, "--version", false, NULL }, /* ethoswd only */
};

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
	return id == O_FILE || id == O_EXCLUDE_EXE || id == O_PID || id == O_COMM ||
	       id == O_EXCLUDE_COMM;
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
	if (l->n > WD_MAX_LIST)
		return wd_fail("-p/--pid: at most %d processes", WD_MAX_LIST);
	for (k = 0; k < l->n; k++) {
		if (whole("--pid", l->v[k], 1, 4194304, "PID_MAX_LIMIT", &v))
			return -1;
		o->pid[o->npid++] = v;
	}
	l = &raw->list[O_COMM];
	if (l->n > WD_MAX_LIST)
		return wd_fail("--comm: at most %d names", WD_MAX_LIST);
	for (k = 0; k < l->n; k++)
		if (comm("--comm", l->v[k], o->comm[o->ncomm++]))
			return -1;
	l = &raw->list[O_EXCLUDE_COMM];
	if (l->n > WD_MAX_LIST)
		return wd_fail("--exclude-comm: at most %d names", WD_MAX_LIST);
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
	if (whole("--map-size", raw->val[O_MAP_SIZE] ?: STR(WD_MAX_PIDS), 1, 1 << 22,
		  "4194304 entries", &v))
		return -1;
	o->map_size = v;
	if (seconds("--interval", raw->val[O_INTERVAL] ?: "1", INTERVAL_MIN, 3600, &o->interval_s))
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
		fputs(raw->flag[O_HELP] ? help_text : WD_PROG " " VERSION "\n", stdout);
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
		raw->val[O_PROFILE] ? profiles[index_of(profiles, raw->val[O_PROFILE])] : "seed";
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
