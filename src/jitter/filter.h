/* SPDX-License-Identifier: GPL-2.0 */
/*
 * filter.h - the seccomp program (filter.c).
 */
#ifndef WD_CLOCKD_FILTER_H
#define WD_CLOCKD_FILTER_H

#include <linux/filter.h>

/* The seccomp program the command's process installs, and its length in
 * instructions. */
const struct sock_filter *clockd_filter(unsigned short *len);

#endif
