/* SPDX-License-Identifier: GPL-2.0 */
/*
 * names.h - readable names of shared budgets (ethoswd/budgets.py Names).
 */
#ifndef ETHOSWD_NAMES_H
#define ETHOSWD_NAMES_H

#include "ethoswd.h"
#include "idmap.h"

struct wd_names {
	int key;	      /* WD_KEY_*: only uid and cgroup ids have names */
	struct wd_keep cache; /* budget id -> char * (NULL: does not resolve) */
};

void wd_names_init(struct wd_names *nm, int key);
/* "alice" for a UID, "/system.slice/x.service" for a cgroup ID; NULL for
 * the other keys or when the id does not resolve.  The pointer stays
 * valid until the next wd_names_trim(). */
const char *wd_names_get(struct wd_names *nm, __u64 id);
/* Forget the oldest lookups beyond limit. */
void wd_names_trim(struct wd_names *nm, int limit);
void wd_names_free(struct wd_names *nm);

#endif /* ETHOSWD_NAMES_H */
