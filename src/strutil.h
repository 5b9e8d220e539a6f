/* SPDX-License-Identifier: GPL-2.0 */
/*
 * strutil.h - small string helpers of every part (strutil.c).
 */
#ifndef WD_STRUTIL_H
#define WD_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* wd_cat() appends to a NUL-terminated buffer, cutting at its end;
 * wd_put() is snprintf() for texts that fit in practice, where a cut is
 * acceptable and gcc's truncation warning is not. */
void wd_cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void wd_put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Python's str.isspace() of one ASCII char. */
bool wd_py_space(char c);
/* text.strip() as Python does it (ASCII whitespace), malloc'ed. */
char *wd_strip_dup(const char *text);

#endif
