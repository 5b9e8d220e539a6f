/* SPDX-License-Identifier: GPL-2.0 */
/*
 * coverage.h - what ethos-clockd does with each clock source (coverage.c).
 */
#ifndef WD_CLOCKD_COVERAGE_H
#define WD_CLOCKD_COVERAGE_H

int clockd_coverage(void); /* --coverage: the table on stdout */

#endif
