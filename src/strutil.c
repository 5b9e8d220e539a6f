// SPDX-License-Identifier: GPL-2.0
/*
 * strutil.c - small string helpers (strutil.h): bounded formatting into
 * fixed buffers, and Python's whitespace and strip() for ASCII.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

void wd_cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void wd_put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Python's str.isspace() and str.splitlines() breaks, for ASCII. */
bool wd_py_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

char *wd_strip_dup(const char *text)
{
	size_t n;

	while (wd_py_space(*text))
		text++;
	n = strlen(text);
	while (n && wd_py_space(text[n - 1]))
		n--;
	return strndup(text, n) ?: (abort(), NULL);
}
