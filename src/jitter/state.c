// SPDX-License-Identifier: GPL-2.0
/*
 * state.c - the one state of ethos-clockd (state.h), the pause holds the
 * loop releases (clockd.c), and the log of what went wrong last.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "state.h"

struct clockd cd = { .notify_fd = -1, .child_sock = CLOCKD_FD_CHILD, .ctl_fd = CLOCKD_FD_CTL };

void clockd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cd.last_error, sizeof(cd.last_error), fmt, ap);
	va_end(ap);
	if (getenv("CLOCKD_DEBUG"))
		dprintf(STDERR_FILENO, CLOCKD_PROG ": %s\n", cd.last_error);
}

void hold_add(const struct hold *h)
{
	if (cd.nholds == cd.capholds) {
		cd.capholds = cd.capholds ? 2 * cd.capholds : 64;
		cd.holds = realloc(cd.holds, cd.capholds * sizeof(*cd.holds));
		if (!cd.holds)
			abort();
	}
	cd.holds[cd.nholds++] = *h;
	cd.n.hold++;
}
