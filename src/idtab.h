/* SPDX-License-Identifier: GPL-2.0 */
/*
 * idtab.h - a hash table from a 64-bit ID (cgroup ID, PID, budget ID; any
 * value, 0 included) to a pointer: open addressing, linear probing,
 * deletion by backward shift.  For the caches of cgname.c and metrics.c,
 * which may hold as many entries as the probe's map.
 */
#ifndef ETHOSWD_IDTAB_H
#define ETHOSWD_IDTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct wd_idslot {
	__u64 key;
	void *val;
	bool used;
};

struct wd_idtab { /* start from { 0 } */
	struct wd_idslot *v;
	size_t cap, n;
};

/* The slot of key, or NULL. */
struct wd_idslot *wd_idtab_find(struct wd_idtab *t, __u64 key);
void wd_idtab_put(struct wd_idtab *t, __u64 key, void *val);
/* Remove key; its value (NULL if absent). */
void *wd_idtab_del(struct wd_idtab *t, __u64 key);
void wd_idtab_free(struct wd_idtab *t); /* the table only, not the values */

#endif /* ETHOSWD_IDTAB_H */
