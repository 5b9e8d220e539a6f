// SPDX-License-Identifier: GPL-2.0
/*
 * text.c - safe text and JSON text (mirrors ethoswd/safetext.py, and the
 * json.dumps(sort_keys=True) that ethoswd/report.py writes records with).
 *
 * Process names are raw kernel bytes: wd_escape() and wd_cell() show them
 * as printable ASCII; wd_one_line() keeps a composed line on one line.
 * The JSON builder writes objects in key order, strings escaped as Python
 * with ensure_ascii, floats as Python's repr() of round(x, n).
 *
 * Why emulate Python rather than define a format of our own: the two front
 * ends are one tool, and their records are compared byte for byte.  The
 * parity tests run both on the same input and diff the lines; replay,
 * export and sweep read records from either front end and must print the
 * same report; users diff a run of one against the other.  A fixed-decimals
 * format would change watchdog.py's output (json.dumps writes repr()), and
 * the repr() part is 60 lines (py_float_repr); the rest of this file
 * (escaping, JSON strings, buffers) is needed whatever the float format.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define CUT "+"

/* ---- growing buffers ---------------------------------------------------- */

void *wd_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort(); /* no sensible way on without memory */
	return p;
}

void *wd_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *wd_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(wd_xmalloc(n), s, n);
}

void wb_putn(struct wd_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = wd_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void wb_puts(struct wd_buf *b, const char *s)
{
	wb_putn(b, s, strlen(s));
}

void wb_printf(struct wd_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	wb_putn(b, s, n);
	free(s);
}

/* The text built so far (never NULL); the caller frees it. */
char *wb_take(struct wd_buf *b)
{
	char *p = b->p ? b->p : wd_xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- UTF-8 and printability --------------------------------------------- */

/*
 * One character of s[0..n): its length, and *cp the code point or -1 for
 * invalid bytes.  An invalid sequence is its maximal valid prefix (at
 * least one byte), as Python's decoder reports it: one U+FFFD each.
 */
size_t wd_utf8_next(const unsigned char *s, size_t n, long *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;
	long v;

	*cp = -1;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, v = c & 0x07;
	else
		return 1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return i;
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80, hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/*
 * Python's str.isprintable() for one code point: false for controls
 * (Cc), format characters (Cf), separators other than the space (Zs, Zl,
 * Zp), surrogates, private use and noncharacters.  Unassigned code points
 * (Cn) are treated as printable except in the unused planes.
 */
static const long unprintable[][2] = {
	{ 0x0, 0x1f },	      { 0x7f, 0xa0 },	    { 0xad, 0xad },	  { 0x600, 0x605 },
	{ 0x61c, 0x61c },     { 0x6dd, 0x6dd },	    { 0x70f, 0x70f },	  { 0x890, 0x891 },
	{ 0x8e2, 0x8e2 },     { 0x1680, 0x1680 },   { 0x180e, 0x180e },	  { 0x2000, 0x200f },
	{ 0x2028, 0x202f },   { 0x205f, 0x2064 },   { 0x2066, 0x206f },	  { 0x3000, 0x3000 },
	{ 0xd800, 0xf8ff },   { 0xfdd0, 0xfdef },   { 0xfeff, 0xfeff },	  { 0xfff9, 0xfffb },
	{ 0x110bd, 0x110bd }, { 0x110cd, 0x110cd }, { 0x13430, 0x13438 }, { 0x1bca0, 0x1bca3 },
	{ 0x1d173, 0x1d17a }, { 0x40000, 0xdffff }, { 0xe0000, 0xe00ff }, { 0xe01f0, 0x10ffff },
};

bool wd_printable(long cp)
{
	size_t i;

	if (cp < 0)
		return false;
	if ((cp & 0xfffe) == 0xfffe)
		return false; /* U+xFFFE, U+xFFFF */
	for (i = 0; i < sizeof(unprintable) / sizeof(unprintable[0]); i++)
		if (cp >= unprintable[i][0] && cp <= unprintable[i][1])
			return false;
	return true;
}

/* ---- escape, cell, one_line --------------------------------------------- */

/* One byte of a name as printable ASCII (safetext._UNITS); returns its length. */
static int unit(unsigned char b, char out[5])
{
	switch (b) {
	case '\\':
		return snprintf(out, 5, "\\\\");
	case '\n':
		return snprintf(out, 5, "\\n");
	case '\r':
		return snprintf(out, 5, "\\r");
	case '\t':
		return snprintf(out, 5, "\\t");
	}
	if (b >= 0x20 && b < 0x7f)
		return snprintf(out, 5, "%c", b);
	return snprintf(out, 5, "\\x%02x", b);
}

/* Up to the first NUL, as safetext.name_bytes(). */
static size_t name_len(const char *raw, size_t rawlen)
{
	return raw ? strnlen(raw, rawlen) : 0;
}

char *wd_escape(const char *raw, size_t rawlen, char *buf, size_t len)
{
	size_t n = name_len(raw, rawlen), i, used = 0;
	char u[5];
	int k;

	if (!len)
		return buf;
	for (i = 0; i < n; i++) {
		k = unit((unsigned char)raw[i], u);
		if (used + k >= len)
			break; /* no room: never half an escape */
		memcpy(buf + used, u, k);
		used += k;
	}
	buf[used] = '\0';
	return buf;
}

char *wd_cell(const char *raw, size_t rawlen, int width, char *buf, size_t len)
{
	size_t n = name_len(raw, rawlen), i, used = 0, full = 0, w;
	char u[5];
	int k;

	if (!len)
		return buf;
	w = width < 0 ? 0 : (size_t)width;
	if (w > len - 1)
		w = len - 1;
	for (i = 0; i < n; i++)
		full += unit((unsigned char)raw[i], u);
	for (i = 0; i < n; i++) {
		k = unit((unsigned char)raw[i], u);
		/* signed: a width below the CUT's keeps nothing, as in Python */
		if (full > w && (long)(used + k) > (long)w - (long)strlen(CUT))
			break;
		memcpy(buf + used, u, k);
		used += k;
	}
	if (full > w && used + strlen(CUT) < len) {
		memcpy(buf + used, CUT, strlen(CUT));
		used += strlen(CUT);
	}
	while (used < w)
		buf[used++] = ' ';
	buf[used] = '\0';
	return buf;
}

/* safetext._char(): a non-printable character; raw bytes as \xHH. */
static void one_char(struct wd_buf *b, long cp, const unsigned char *s, size_t n)
{
	size_t i;

	if (cp == '\n' || cp == '\r' || cp == '\t')
		wb_puts(b, cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : "\\t");
	else if (cp < 0)
		for (i = 0; i < n; i++)
			wb_printf(b, "\\x%02x", s[i]);
	else if (cp < 0x100)
		wb_printf(b, "\\x%02lx", cp);
	else if (cp < 0x10000)
		wb_printf(b, "\\u%04lx", cp);
	else
		wb_printf(b, "\\U%08lx", cp);
}

/* The line with every non-printable character escaped, malloc'ed. */
char *wd_one_line_dup(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), i = 0, k;
	struct wd_buf b = { 0 };
	long cp;

	while (i < n) {
		k = wd_utf8_next(s + i, n - i, &cp);
		if (wd_printable(cp))
			wb_putn(&b, text + i, k);
		else
			one_char(&b, cp, s + i, k);
		i += k;
	}
	return wb_take(&b);
}

char *wd_one_line(const char *text, char *buf, size_t len)
{
	char *s = wd_one_line_dup(text);

	if (len) {
		/* Cut at a whole character: back off continuation bytes. */
		size_t n = strlen(s);

		if (n >= len) {
			n = len - 1;
			while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	free(s);
	return buf;
}

/* ---- Python repr() of a command-line string ----------------------------- */

/*
 * repr(str) of an argument as Python decodes argv (UTF-8, invalid bytes as
 * lone surrogates U+DC80..U+DCFF): single quotes unless the text holds a
 * single quote and no double quote.
 */
char *wd_repr_dup(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), i = 0, j, k;
	char q = strchr(text, '\'') && !strchr(text, '"') ? '"' : '\'';
	struct wd_buf b = { 0 };
	long cp;

	wb_putn(&b, &q, 1);
	while (i < n) {
		k = wd_utf8_next(s + i, n - i, &cp);
		if (cp == '\\' || cp == q)
			wb_printf(&b, "\\%c", (int)cp);
		else if (cp < 0)
			for (j = 0; j < k; j++)
				wb_printf(&b, "\\udc%02x", s[i + j]);
		else if (wd_printable(cp))
			wb_putn(&b, text + i, k);
		else
			one_char(&b, cp, s + i, k);
		i += k;
	}
	wb_putn(&b, &q, 1);
	return wb_take(&b);
}

/* ---- JSON --------------------------------------------------------------- */

struct wj_member {
	char *key;
	char *val; /* JSON text */
};

struct wd_json {
	int n, cap;
	struct wj_member *m;
};

struct wd_jarr {
	struct wd_buf b;
	int n;
};

/* A JSON string as Python's json.dumps(ensure_ascii=True) writes it. */
static void json_quote(struct wd_buf *b, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;
	long cp;

	wb_putn(b, "\"", 1);
	while (i < n) {
		k = wd_utf8_next(s + i, n - i, &cp);
		if (cp < 0)
			cp = 0xfffd;
		if (cp == '"' || cp == '\\')
			wb_printf(b, "\\%c", (int)cp);
		else if (cp >= 0x20 && cp < 0x7f)
			wb_putn(b, text + i, 1);
		else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f')
			wb_puts(b, cp == '\n' ? "\\n" :
				   cp == '\r' ? "\\r" :
				   cp == '\t' ? "\\t" :
				   cp == '\b' ? "\\b" :
						"\\f");
		else if (cp < 0x10000)
			wb_printf(b, "\\u%04lx", cp);
		else
			wb_printf(b, "\\u%04lx\\u%04lx", 0xd800 + ((cp - 0x10000) >> 10),
				  0xdc00 + ((cp - 0x10000) & 0x3ff));
		i += k;
	}
	wb_putn(b, "\"", 1);
}

char *wd_json_quote(const char *text, size_t n)
{
	struct wd_buf b = { 0 };

	json_quote(&b, text, n);
	return wb_take(&b);
}

/*
 * Python's repr() of a float: the shortest digits that read back as the
 * same double, fixed notation for 1e-4 <= |x| < 1e16 (with at least
 * ".0"), else d.ddde+XX.
 */
static void py_float_repr(double x, char *buf, size_t len)
{
	char e[40], digits[20], out[64], *p;
	int prec, exp10, decpt, nd, i, o = 0;

	if (isnan(x) || isinf(x)) {
		snprintf(buf, len, "%s", isnan(x) ? "NaN" : x < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, x);
		if (strtod(e, NULL) == x)
			break;
	}
	p = e;
	if (*p == '-')
		p++;
	for (nd = 0; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	exp10 = atoi(p + 1);
	decpt = exp10 + 1;
	if (signbit(x))
		out[o++] = '-';
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			o += sprintf(out + o, "0.");
			for (i = decpt; i < 0; i++)
				out[o++] = '0';
		}
		for (i = 0; i < nd || i < decpt; i++) {
			if (i == decpt && decpt > 0)
				out[o++] = '.';
			out[o++] = i < nd ? digits[i] : '0';
		}
		if (decpt >= nd) {
			out[o++] = '.';
			out[o++] = '0';
		}
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += sprintf(out + o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

/* repr(round(x, decimals)); decimals < 0: repr(x). */
char *wd_json_double(double x, int decimals, char *buf, size_t len)
{
	char tmp[400];

	if (decimals >= 0 && isfinite(x) && fabs(x) < 1e300) {
		/* printf rounds the exact binary value, as Python's round() does */
		snprintf(tmp, sizeof(tmp), "%.*f", decimals > 30 ? 30 : decimals, x);
		x = strtod(tmp, NULL);
	}
	py_float_repr(x, buf, len);
	return buf;
}

struct wd_json *wj_new(void)
{
	struct wd_json *j = wd_xmalloc(sizeof(*j));

	memset(j, 0, sizeof(*j));
	return j;
}

/* Sets key to the JSON text val (taken); a key set again is replaced. */
static void wj_set(struct wd_json *j, const char *key, char *val)
{
	int i;

	for (i = 0; i < j->n; i++) {
		if (!strcmp(j->m[i].key, key)) {
			free(j->m[i].val);
			j->m[i].val = val;
			return;
		}
	}
	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 16;
		j->m = wd_xrealloc(j->m, j->cap * sizeof(*j->m));
	}
	j->m[j->n].key = wd_xstrdup(key);
	j->m[j->n++].val = val;
}

bool wj_has(const struct wd_json *j, const char *key)
{
	int i;

	for (i = 0; i < j->n; i++)
		if (!strcmp(j->m[i].key, key))
			return true;
	return false;
}

int wj_len(const struct wd_json *j)
{
	return j->n;
}

void wj_str(struct wd_json *j, const char *key, const char *val)
{
	wj_set(j, key, val ? wd_json_quote(val, strlen(val)) : wd_xstrdup("null"));
}

void wj_strn(struct wd_json *j, const char *key, const char *val, size_t n)
{
	wj_set(j, key, wd_json_quote(val, n));
}

void wj_int(struct wd_json *j, const char *key, long long val)
{
	char *s;

	if (asprintf(&s, "%lld", val) < 0)
		abort();
	wj_set(j, key, s);
}

void wj_u64(struct wd_json *j, const char *key, unsigned long long val)
{
	char *s;

	if (asprintf(&s, "%llu", val) < 0)
		abort();
	wj_set(j, key, s);
}

void wj_double(struct wd_json *j, const char *key, double val, int decimals)
{
	char buf[64];

	wj_set(j, key, wd_xstrdup(wd_json_double(val, decimals, buf, sizeof(buf))));
}

void wj_bool(struct wd_json *j, const char *key, bool val)
{
	wj_set(j, key, wd_xstrdup(val ? "true" : "false"));
}

void wj_null(struct wd_json *j, const char *key)
{
	wj_set(j, key, wd_xstrdup("null"));
}

void wj_raw(struct wd_json *j, const char *key, const char *json_text)
{
	wj_set(j, key, wd_xstrdup(json_text));
}

void wj_take(struct wd_json *j, const char *key, char *json_text)
{
	wj_set(j, key, json_text);
}

static int member_cmp(const void *a, const void *b)
{
	/* UTF-8 byte order is code point order: Python's sort of str keys */
	return strcmp(((const struct wj_member *)a)->key, ((const struct wj_member *)b)->key);
}

char *wj_end(struct wd_json *j)
{
	struct wd_buf b = { 0 };
	int i;

	if (j->n)
		qsort(j->m, j->n, sizeof(*j->m), member_cmp);
	wb_puts(&b, "{");
	for (i = 0; i < j->n; i++) {
		if (i)
			wb_puts(&b, ", ");
		json_quote(&b, j->m[i].key, strlen(j->m[i].key));
		wb_puts(&b, ": ");
		wb_puts(&b, j->m[i].val);
		free(j->m[i].key);
		free(j->m[i].val);
	}
	wb_puts(&b, "}");
	free(j->m);
	free(j);
	return wb_take(&b);
}

void wj_free(struct wd_json *j)
{
	free(wj_end(j));
}

struct wd_jarr *wja_new(void)
{
	struct wd_jarr *a = wd_xmalloc(sizeof(*a));

	memset(a, 0, sizeof(*a));
	wb_puts(&a->b, "[");
	return a;
}

void wja_raw(struct wd_jarr *a, const char *json_text)
{
	if (a->n++)
		wb_puts(&a->b, ", ");
	wb_puts(&a->b, json_text);
}

void wja_take(struct wd_jarr *a, char *json_text)
{
	wja_raw(a, json_text);
	free(json_text);
}

void wja_str(struct wd_jarr *a, const char *val)
{
	if (!val) {
		wja_raw(a, "null");
		return;
	}
	wja_take(a, wd_json_quote(val, strlen(val)));
}

void wja_u64(struct wd_jarr *a, unsigned long long val)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", val);
	wja_raw(a, s);
}

char *wja_end(struct wd_jarr *a)
{
	char *s;

	wb_puts(&a->b, "]");
	s = wb_take(&a->b);
	free(a);
	return s;
}
