/* SPDX-License-Identifier: GPL-2.0 */
/*
 * names.h - readable names of shared budgets (ethoswd/budgets.py Names).
 */
#ifndef ETHOSWD_NAMES_H
#define ETHOSWD_NAMES_H

#include "cgname.h"
#include "idmap.h"

/* The kind of wd_names_get() that names a budget's user (its uid). */
#define WD_NAME_USER (-1)

struct wd_names {
	/* {uid, 0, WD_KEY_UID} -> char * (NULL: does not resolve) */
	struct wd_keep cache;
	struct wd_cgnames *cg; /* cgroups: paths and containers (cgname.c) */
};

void wd_names_init(struct wd_names *nm);
/* "alice" for a UID budget (kind WD_KEY_UID) or a budget's user (kind
 * WD_NAME_USER, id its uid), "/system.slice/x.service" for a cgroup ID
 * (WD_KEY_CGROUP); NULL for the other kinds or when the id does not
 * resolve.  The pointer stays valid until the next wd_names_trim(). */
const char *wd_names_get(struct wd_names *nm, int kind, __u64 id);
/* Forget the oldest lookups beyond limit. */
void wd_names_trim(struct wd_names *nm, int limit);
void wd_names_free(struct wd_names *nm);

#endif /* ETHOSWD_NAMES_H */
