/* SPDX-License-Identifier: GPL-2.0 */
/*
 * idmap.h - maps from a 64-bit id (a PID or a budget id) for the session:
 * struct idmap, id -> u64 value with O(1) find, set and delete, and
 * struct wd_keep, the newest items by insertion (ethoswd/exited.py's
 * OrderedDicts): the rows of exited processes the session keeps.
 */
#ifndef ETHOSWD_IDMAP_H
#define ETHOSWD_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* The entries sit in v[0..n) (iterate them directly; idmap_del() moves
 * the last entry into the hole, so a loop that deletes v[i] steps back
 * with i--), with an open-addressing index over them.  Zero-initialised
 * is empty. */
struct idval {
	__u64 id, val;
};
struct idmap {
	struct idval *v;
	int n, cap;
	int *slot; /* index: position + 1 of an entry, 0 = free */
	int nslot; /* a power of two, at least 2 * cap; 0 before the first set */
};

struct idval *idmap_find(const struct idmap *m, __u64 id);
void idmap_set(struct idmap *m, __u64 id, __u64 val);
bool idmap_del(struct idmap *m, __u64 id);
void idmap_clear(struct idmap *m); /* empty, memory kept */
void idmap_free(struct idmap *m);

/* Items of `size` bytes by id, oldest first: wd_keep_put() adds (or
 * renews) an item as the newest, and when more than `limit` are held,
 * drops the oldest.  Zero-initialised with wd_keep_init(). */
struct wd_keep {
	struct idmap index; /* id -> slot */
	size_t size;
	char *items;
	__u64 *ids;
	int *prev, *next; /* -1 ends; a list of the slots in use, oldest first */
	int head, tail, n, alloc, free_slot;
};

void wd_keep_init(struct wd_keep *k, size_t size);
void *wd_keep_get(const struct wd_keep *k, __u64 id);
/* Store a copy of item under id as the newest.  Returns how many items it
 * displaced (0 or 1: the older item of the same id, or the oldest when
 * more than limit are held), copied to *old when old is not NULL. */
int wd_keep_put(struct wd_keep *k, __u64 id, const void *item, int limit, void *old);
/* Remove the oldest item (copied to *old when old is not NULL); false
 * when empty. */
bool wd_keep_pop(struct wd_keep *k, void *old);
/* The oldest item's slot, the next newer one's, -1 at the end. */
static inline int wd_keep_first(const struct wd_keep *k)
{
	return k->n ? k->head : -1;
}
static inline int wd_keep_next(const struct wd_keep *k, int slot)
{
	return k->next[slot];
}
static inline void *wd_keep_at(const struct wd_keep *k, int slot)
{
	return k->items + (size_t)slot * k->size;
}
void wd_keep_free(struct wd_keep *k);

#endif /* ETHOSWD_IDMAP_H */
