/* SPDX-License-Identifier: GPL-2.0 */
/*
 * errors.h - the one error line of a setup problem (errors.c).
 *
 * A setup problem is one line made with wd_fail() (stored, not printed);
 * the function returns -1 and main() prints "ethoswd: error: <line>" and
 * exits 2 with nothing left attached.
 */
#ifndef WD_ERRORS_H
#define WD_ERRORS_H

#define WD_PROG "ethoswd" /* the program, as its lines name it */

int wd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *wd_last_error(void);

#endif
