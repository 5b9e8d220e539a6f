/* SPDX-License-Identifier: GPL-2.0 */
/*
 * labels.h - the backends, actions and budget keys, and the words that
 * name them in output (labels.c).
 */
#ifndef WD_LABELS_H
#define WD_LABELS_H

#include <linux/types.h>

#include "../probe/watchdog_map.h"

enum wd_backend {
	WD_BACKEND_AUTO = -1,
	WD_BACKEND_LSM = 0,
	WD_BACKEND_KPROBE = 1,
	WD_BACKEND_TRACEPOINT = 2,
	WD_NBACKENDS = 3
};
/* Actions use WD_ACT_* of watchdog_map.h; -1 is auto. */
#define WD_ACT_AUTO  (-1)
/* Budget keys use WD_KEY_* of watchdog_map.h; -1 is "from the profile". */
#define WD_KEY_UNSET (-1)

const char *wd_backend_name(int backend); /* "lsm", "kprobe", ... */
const char *wd_action_name(int action);	  /* "deny", "throttle", ... */
const char *wd_key_name(int key);	  /* "process", "tree", ... */

#endif
