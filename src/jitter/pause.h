/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pause.h - pause on the wall-clock timelines (pause.c; t may be NULL).
 */
#ifndef WD_CLOCKD_PAUSE_H
#define WD_CLOCKD_PAUSE_H

#include "jitter_clamp.h"
#include "state.h"

enum { LINE_MONO, LINE_RAW, LINE_TSC, NLINES };
__u64 pause_mono(struct task *t, __u64 *due);
__u64 pause_raw(struct task *t, __u64 *due);
__u64 pause_tsc(struct task *t, const struct wd_jclamp *c, __u64 tsc, __u64 *due);
void pause_released(struct task *t); /* a held reader goes on now */

#endif
