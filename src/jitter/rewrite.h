/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rewrite.h - system calls fixed at their exit (rewrite.c).
 */
#ifndef WD_CLOCKD_REWRITE_H
#define WD_CLOCKD_REWRITE_H

#include "state.h"

void rewrite_exit(struct task *t, long long ret);

#endif
