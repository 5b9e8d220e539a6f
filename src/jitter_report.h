/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jitter_report.h - where ethos-clockd is, and its coverage table (jitter_report.c).
 */
#ifndef ETHOSWD_JITTER_REPORT_H
#define ETHOSWD_JITTER_REPORT_H

#include <stddef.h>

const char *wd_clockd_path(char *buf, size_t len); /* next to this program */
/* One line of `ethos-clockd --coverage` (jitter_report.c). */
struct wd_jrow {
	char source[160], status[24], how[160];
};
#define WD_JROWS_MAX 32
/* The supervisor's table: the number of rows, -1 if it is missing. */
int wd_clockd_coverage(struct wd_jrow *rows, int max);

#endif /* ETHOSWD_JITTER_REPORT_H */
