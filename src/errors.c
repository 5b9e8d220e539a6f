// SPDX-License-Identifier: GPL-2.0
/*
 * errors.c - the error store (errors.h): wd_fail() keeps the last setup
 * problem as one line, wd_last_error() hands it to whoever prints it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"

static char last_error[1024];

int wd_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -1;
}

const char *wd_last_error(void)
{
	return last_error;
}
