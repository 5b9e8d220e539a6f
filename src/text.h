/* SPDX-License-Identifier: GPL-2.0 */
/*
 * text.h - safe text and JSON text (text.c; ethoswd/safetext.py).
 */
#ifndef ETHOSWD_TEXT_H
#define ETHOSWD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* escape(): a process-controlled name as printable ASCII, exactly as
 * ethoswd/safetext.py escape() (\\, \n, \r, \t, \xHH); returns buf. */
char *wd_escape(const char *raw, size_t rawlen, char *buf, size_t len);
/* cell(): escape() padded or cut to exactly `width` columns ("+" marks a cut). */
char *wd_cell(const char *raw, size_t rawlen, int width, char *buf, size_t len);
/* one_line(): a composed line with non-printables escaped (safetext.one_line). */
char *wd_one_line(const char *text, char *buf, size_t len);

/* A JSON object built member by member; wj_end() writes the members in
 * key order (as Python's json.dumps(sort_keys=True)) and returns a
 * malloc'ed string.  Nested values: build them with another wd_json (or
 * wj_array_*) and add the text with wj_raw().  Strings are escaped as JSON
 * (invalid UTF-8 as U+FFFD). */
struct wd_json;
struct wd_json *wj_new(void);
void wj_str(struct wd_json *j, const char *key, const char *val);
void wj_strn(struct wd_json *j, const char *key, const char *val, size_t n);
void wj_int(struct wd_json *j, const char *key, long long val);
void wj_u64(struct wd_json *j, const char *key, unsigned long long val);
void wj_double(struct wd_json *j, const char *key, double val, int decimals);
void wj_bool(struct wd_json *j, const char *key, bool val);
void wj_null(struct wd_json *j, const char *key);
void wj_raw(struct wd_json *j, const char *key, const char *json_text);
void wj_take(struct wd_json *j, const char *key, char *json_text); /* wj_raw + free */
char *wj_end(struct wd_json *j);				   /* frees j */
/* JSON arrays: "[" elements "]", built the same way. */
struct wd_jarr;
struct wd_jarr *wja_new(void);
void wja_raw(struct wd_jarr *a, const char *json_text);
void wja_take(struct wd_jarr *a, char *json_text);
void wja_str(struct wd_jarr *a, const char *val);
void wja_u64(struct wd_jarr *a, unsigned long long val);
char *wja_end(struct wd_jarr *a); /* frees a */

/* Helpers of text.c that the other parts use too. */
struct wd_buf { /* a growing NUL-terminated string */
	char *p;
	size_t len, cap;
};
void wb_putn(struct wd_buf *b, const char *s, size_t n);
void wb_puts(struct wd_buf *b, const char *s);
void wb_printf(struct wd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *wb_take(struct wd_buf *b); /* the text (malloc'ed, never NULL) */
void *wd_xmalloc(size_t n);	 /* abort() when out of memory */
void *wd_xrealloc(void *p, size_t n);
char *wd_xstrdup(const char *s);
/* One UTF-8 character: its length; *cp = code point, -1 if invalid. */
size_t wd_utf8_next(const unsigned char *s, size_t n, long *cp);
bool wd_printable(long cp);		 /* Python str.isprintable() of one char */
char *wd_one_line_dup(const char *text); /* one_line(), malloc'ed */
/* Python's repr() of a command-line string (for error lines), malloc'ed. */
char *wd_repr_dup(const char *text);
char *wd_json_quote(const char *text, size_t n); /* "...", malloc'ed */
/* Python's repr(round(x, decimals)) (decimals < 0: repr(x)); returns buf. */
char *wd_json_double(double x, int decimals, char *buf, size_t len);
bool wj_has(const struct wd_json *j, const char *key);
int wj_len(const struct wd_json *j);
void wj_free(struct wd_json *j);

#endif /* ETHOSWD_TEXT_H */
