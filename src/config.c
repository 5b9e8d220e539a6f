// SPDX-License-Identifier: GPL-2.0
/*
 * config.c - read a --config FILE (ethoswd/config.py): the small subset
 * of TOML both front ends read, with the same refusals word for word.
 *
 * Debian 12 packages no C TOML library, and the file needs little: bare
 * keys at the top level, each once; "basic" and 'literal' one-line
 * strings; decimal integers and floats as written; true, false; [lists]
 * of strings and numbers over one or more lines.  Comments, blank lines,
 * CRLF line ends.  Everything else is refused with one line naming the
 * line (config.py's docstring lists the subset).  Which keys are
 * settings, and what each takes, is opts.c's business (wd_opts_parse).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "text.h"
#include "config.h"

#define FILE_MAX 65536

struct cur { /* the text and where the parser is */
	const char *path;
	char *s;
	size_t n, i;
	int line;
};

static int cfail(struct cur *t, const char *what)
{
	return wd_fail("--config %s: line %d: %s", t->path, t->line, what);
}

static char peek(struct cur *t)
{
	return t->i < t->n ? t->s[t->i] : '\0';
}

/* Spaces and tabs; with newlines, comments and line ends too (a comment
 * always runs to the line's end). */
static void blanks(struct cur *t, bool newlines)
{
	while (t->i < t->n) {
		char c = t->s[t->i];

		if (c == ' ' || c == '\t') {
			t->i++;
		} else if (c == '#') {
			while (t->i < t->n && t->s[t->i] != '\n')
				t->i++;
		} else if (newlines && c == '\n') {
			t->i++;
			t->line++;
		} else {
			return;
		}
	}
}

/* One escape after a backslash, appended to b as UTF-8. */
static int escape(struct cur *t, struct wd_buf *b)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	char c = peek(t), u[4], u8[9];
	const char *k;
	int ndig = c == 'u' ? 4 : c == 'U' ? 8 : 0;
	long cp = 0;

	t->i++;
	if (c && (k = strchr(from, c))) {
		wb_putn(b, &to[k - from], 1);
		return 0;
	}
	if (!ndig || t->i + ndig > t->n)
		return cfail(t, "invalid escape sequence in a string");
	memcpy(u8, t->s + t->i, ndig);
	u8[ndig] = '\0';
	if (strspn(u8, "0123456789abcdefABCDEF") == (size_t)ndig)
		cp = strtol(u8, NULL, 16);
	if (cp <= 0 || cp >= 0x110000 || (cp >= 0xd800 && cp <= 0xdfff))
		return cfail(t, "invalid escape sequence in a string");
	t->i += ndig;
	if (cp < 0x80) {
		u[0] = cp;
		wb_putn(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6, u[1] = 0x80 | (cp & 0x3f);
		wb_putn(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12, u[1] = 0x80 | (cp >> 6 & 0x3f), u[2] = 0x80 | (cp & 0x3f);
		wb_putn(b, u, 3);
	} else {
		u[0] = 0xf0 | cp >> 18, u[1] = 0x80 | (cp >> 12 & 0x3f);
		u[2] = 0x80 | (cp >> 6 & 0x3f), u[3] = 0x80 | (cp & 0x3f);
		wb_putn(b, u, 4);
	}
	return 0;
}

static int string(struct cur *t, struct wd_cfg_value *v)
{
	char q = t->s[t->i];
	struct wd_buf b = { 0 };

	if (t->i + 2 < t->n && t->s[t->i + 1] == q && t->s[t->i + 2] == q)
		return cfail(t, "multi-line strings are not read: write the value on one line");
	t->i++;
	for (;;) {
		char c = peek(t);

		if (!c || c == '\n') {
			free(b.p);
			return cfail(t, "unterminated string");
		}
		t->i++;
		if (c == q)
			break;
		if (c == '\\' && q == '"') {
			if (escape(t, &b)) {
				free(b.p);
				return -1;
			}
		} else {
			wb_putn(&b, &c, 1);
		}
	}
	v->kind = WD_CV_STR;
	v->text = wb_take(&b);
	return 0;
}

static bool digits(const char **p)
{
	const char *s = *p;

	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

/* [+-](0|[1-9][0-9]*): the end of it, or NULL. */
static const char *integer(const char *p)
{
	if (*p == '+' || *p == '-')
		p++;
	if (*p == '0')
		return p + 1;
	return *p >= '1' && *p <= '9' && digits(&p) ? p : NULL;
}

/* An integer, then a fraction and/or an exponent: config.py _FLOAT. */
static bool is_float(const char *w)
{
	const char *p = integer(w);
	bool frac = false;

	if (!p)
		return false;
	if (*p == '.') {
		p++;
		if (!digits(&p))
			return false;
		frac = true;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		return digits(&p) && !*p;
	}
	return frac && !*p;
}

static int scalar(struct cur *t, struct wd_cfg_value *v)
{
	char c = peek(t), *word, *r;
	const char *end;
	size_t start = t->i;

	if (c == '"' || c == '\'')
		return string(t, v);
	if (c == '{')
		return cfail(t, "inline tables are not read: give each setting its own line");
	while (t->i < t->n && !strchr(" \t\n,]#", t->s[t->i]))
		t->i++;
	word = strndup(t->s + start, t->i - start);
	if (!word)
		abort();
	v->text = word;
	if (!strcmp(word, "true") || !strcmp(word, "false"))
		v->kind = WD_CV_BOOL;
	else if ((end = integer(word)) && !*end)
		v->kind = WD_CV_INT;
	else if (is_float(word))
		v->kind = WD_CV_FLOAT;
	else {
		r = wd_repr_dup(word);
		wd_fail("--config %s: line %d: %s is not a value the file can hold: quote a string; "
			"numbers are decimal, without '_'; true or false; a [list]",
			t->path, t->line, r);
		free(r);
		free(word);
		v->text = NULL;
		return -1;
	}
	return 0;
}

void wd_cfg_value_free(struct wd_cfg_value *v)
{
	for (int i = 0; i < v->n; i++)
		wd_cfg_value_free(&v->items[i]);
	free(v->items);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

static int value(struct cur *t, struct wd_cfg_value *v)
{
	if (peek(t) != '[')
		return scalar(t, v);
	t->i++;
	v->kind = WD_CV_LIST;
	for (;;) {
		blanks(t, true);
		if (peek(t) == ']')
			break;
		if (peek(t) == '[')
			return cfail(t, "nested lists are not read");
		if (!peek(t) || peek(t) == ',')
			return cfail(t, "unterminated list: expected a value or ']'");
		v->items = wd_xrealloc(v->items, (v->n + 1) * sizeof(*v->items));
		memset(&v->items[v->n], 0, sizeof(*v->items));
		if (scalar(t, &v->items[v->n++]))
			return -1;
		blanks(t, true);
		if (peek(t) == ',')
			t->i++;
		else if (peek(t) != ']')
			return cfail(t, "expected ',' or ']' in a list");
	}
	t->i++;
	return 0;
}

static bool key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* One "key = value" line at t (config.py parse()'s loop body). */
static int entry(struct cur *t, struct wd_cfg_file *f)
{
	struct wd_cfg_entry *e;
	size_t start = t->i;
	int rc = -1;
	char *r;

	if (peek(t) == '[')
		return cfail(t,
			     "tables ([name]) are not read: write every setting at the top level");
	while (t->i < t->n && key_char(t->s[t->i]))
		t->i++;
	if (t->i == start)
		return cfail(t, "expected a setting: key = value");
	f->e = wd_xrealloc(f->e, (f->n + 1) * sizeof(*f->e));
	e = memset(&f->e[f->n++], 0, sizeof(*e)); /* f owns it, even half made */
	e->key = strndup(t->s + start, t->i - start);
	if (!e->key)
		abort();
	r = wd_repr_dup(e->key);
	blanks(t, false);
	if (peek(t) == '.') {
		cfail(t, "dotted keys are not read: write the setting's own name");
	} else if (peek(t) != '=') {
		wd_fail("--config %s: line %d: expected '=' after %s", t->path, t->line, r);
	} else {
		t->i++;
		blanks(t, false);
		e->line = t->line;
		if (!peek(t) || peek(t) == '\n' || peek(t) == '#')
			wd_fail("--config %s: line %d: %s has no value", t->path, t->line, r);
		else if (value(t, &e->v) == 0)
			rc = 0;
	}
	if (rc == 0) {
		blanks(t, false);
		if (peek(t) && peek(t) != '\n') {
			rc = wd_fail("--config %s: line %d: expected the end of the line after the "
				     "value of %s",
				     t->path, t->line, r);
		}
		for (int k = 0; rc == 0 && k < f->n - 1; k++)
			if (!strcmp(f->e[k].key, e->key))
				rc = wd_fail("--config %s: line %d: %s is set twice", t->path,
					     e->line, r);
	}
	free(r);
	return rc;
}

/* The file's bytes: at most FILE_MAX, UTF-8, no control characters but
 * tab and line ends; CRLF made LF.  0, or -1 with wd_fail(). */
static int load(const char *path, struct cur *t)
{
	FILE *fp = fopen(path, "rb");
	size_t n, w = 0;
	long cp;
	int line = 1;

	if (!fp)
		return wd_fail("--config %s: %s", path, strerror(errno));
	t->s = wd_xmalloc(FILE_MAX + 2);
	n = fread(t->s, 1, FILE_MAX + 1, fp);
	if (ferror(fp)) {
		int err = errno;

		fclose(fp);
		return wd_fail("--config %s: %s", path, strerror(err));
	}
	fclose(fp);
	if (n > FILE_MAX)
		return wd_fail("--config %s: larger than %d bytes", path, FILE_MAX);
	for (size_t i = 0; i < n;) {
		size_t k = wd_utf8_next((unsigned char *)t->s + i, n - i, &cp);

		if (cp < 0)
			return wd_fail("--config %s: line %d: not UTF-8 text", path, line);
		line += cp == '\n';
		i += k;
	}
	for (size_t i = 0; i < n; i++) /* CRLF -> LF */
		if (!(t->s[i] == '\r' && i + 1 < n && t->s[i + 1] == '\n'))
			t->s[w++] = t->s[i];
	t->n = w;
	t->s[w] = '\0';
	line = 1;
	for (size_t i = 0; i < w; i++) {
		unsigned char c = t->s[i];
		char what[40];

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
			t->line = line;
			snprintf(what, sizeof(what), "control character U+%04X", c);
			return cfail(t, what);
		}
		line += c == '\n';
	}
	t->line = 1;
	return 0;
}

int wd_config_read(const char *path, struct wd_cfg_file *f)
{
	struct cur t = { .path = path };
	int rc = 0;

	memset(f, 0, sizeof(*f));
	if (load(path, &t) == 0) {
		for (;;) {
			blanks(&t, true);
			if (t.i >= t.n)
				break;
			if (entry(&t, f)) {
				rc = -1;
				break;
			}
		}
	} else {
		rc = -1;
	}
	free(t.s);
	if (rc)
		wd_config_free(f);
	return rc;
}

void wd_config_free(struct wd_cfg_file *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->e[i].key);
		wd_cfg_value_free(&f->e[i].v);
	}
	free(f->e);
	memset(f, 0, sizeof(*f));
}

/* ---- settings (config.py settings()) ------------------------------------- */

/* Options that act once rather than set a policy: not settings. */
static const char *const command_line_only[] = { "help",   "version", "probe-features",
						 "config", "ebpf",    "resume-stopped",
						 NULL };

/* A scalar's text, refusing true/false where a value is wanted. */
static int text_of(const char *path, const struct wd_cfg_entry *e, const struct wd_cfg_value *v,
		   const char *what, const char **out)
{
	if (v->kind == WD_CV_BOOL)
		return wd_fail("--config %s: line %d: %s takes %s, not true or false", path,
			       e->line, e->key, what);
	*out = v->text;
	return 0;
}

static int one(const char *path, struct wd_cfg_entry *e, const struct wd_cfg_setting *d, int k,
	       wd_cfg_set_fn set, void *ctx)
{
	const char **vals = NULL, *c;
	struct wd_buf b = { 0 };
	int n = 0, rc = -1;

	if (d->flag) {
		if (e->v.kind != WD_CV_BOOL)
			return wd_fail("--config %s: line %d: %s takes true or false", path,
				       e->line, e->key);
		return set(ctx, k, (const char *const *)&e->v.text, 1);
	}
	if (e->v.kind == WD_CV_LIST && !d->list && strcmp(e->key, "count"))
		return wd_fail("--config %s: line %d: %s takes one value, not a list", path,
			       e->line, e->key);
	if (e->v.kind == WD_CV_LIST) {
		vals = wd_xmalloc((e->v.n + 1) * sizeof(*vals));
		for (n = 0; n < e->v.n; n++)
			if (text_of(path, e, &e->v.items[n], "strings or numbers", &vals[n]))
				goto out;
		if (!strcmp(e->key, "count")) { /* --count takes one "a,b" */
			for (int i = 0; i < n; i++)
				wb_printf(&b, "%s%s", i ? "," : "", vals[i]);
			free(e->v.text);
			e->v.text = wb_take(&b);
			vals[0] = e->v.text;
			n = 1;
		}
		rc = set(ctx, k, vals, n);
		goto out;
	}
	if (text_of(path, e, &e->v, "a value", &c))
		return -1;
	for (const char *const *ch = d->choices; ch && *ch; ch++)
		if (!strcmp(*ch, c))
			return set(ctx, k, &c, 1);
	if (d->choices) {
		char *r = wd_repr_dup(c);

		for (const char *const *ch = d->choices; *ch; ch++)
			wb_printf(&b, "%s'%s'", ch == d->choices ? "" : ", ", *ch);
		wd_fail("--config %s: line %d: %s: invalid choice: %s (choose from %s)", path,
			e->line, e->key, r, b.p);
		free(r);
		free(b.p);
		return -1;
	}
	return set(ctx, k, &c, 1);
out:
	free(vals);
	return rc;
}

int wd_config_apply(const char *path, struct wd_cfg_file *f, const struct wd_cfg_setting *defs,
		    int ndefs, wd_cfg_set_fn set, void *ctx)
{
	if (wd_config_read(path, f))
		return -1;
	for (int i = 0; i < f->n; i++) {
		struct wd_cfg_entry *e = &f->e[i];
		int k;
		char *r;

		const char *pre = "", *post = NULL; /* the refusal around the key */

		for (const char *const *c = command_line_only; *c && !post; c++)
			if (!strcmp(*c, e->key))
				post = "is a command-line option, not a setting";
		for (k = 0; k < ndefs && strcmp(defs[k].name, e->key); k++)
			;
		if (!post && k == ndefs) {
			pre = "unknown setting ";
			post = "(the settings are the long options without '--': see --help)";
		}
		if (post) {
			r = wd_repr_dup(e->key);
			wd_fail("--config %s: line %d: %s%s %s", path, e->line, pre, r, post);
			free(r);
			return -1;
		}
		if (one(path, e, &defs[k], k, set, ctx))
			return -1;
	}
	return 0;
}
