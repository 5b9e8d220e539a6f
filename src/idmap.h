/* SPDX-License-Identifier: GPL-2.0 */
/*
 * idmap.h - maps from a struct wd_key for the session: a budget by its
 * whole key (id, uid, kind: budgets of two users or two kinds may share an
 * id), a process as wd_pid_key(tgid).  struct idmap, key -> u64 value with
 * O(1) find, set and delete, and struct wd_keep, the newest items by
 * insertion (ethoswd/exited.py's OrderedDicts): the rows of exited
 * processes the session keeps.
 */
#ifndef ETHOSWD_IDMAP_H
#define ETHOSWD_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "../probe/watchdog_map.h" /* struct wd_key */

/* A process (its TGID) as a key. */
static inline struct wd_key wd_pid_key(__u64 tgid)
{
	return (struct wd_key){ .id = tgid };
}

static inline bool wd_key_eq(const struct wd_key *a, const struct wd_key *b)
{
	return a->id == b->id && a->uid == b->uid && a->kind == b->kind;
}

/* The entries sit in v[0..n) (iterate them directly; idmap_del() moves
 * the last entry into the hole, so a loop that deletes v[i] steps back
 * with i--), with an open-addressing index over them.  Zero-initialised
 * is empty. */
struct idval {
	struct wd_key id;
	__u64 val;
};
struct idmap {
	struct idval *v;
	int n, cap;
	int *slot; /* index: position + 1 of an entry, 0 = free */
	int nslot; /* a power of two, at least 2 * cap; 0 before the first set */
};

struct idval *idmap_find(const struct idmap *m, struct wd_key id);
void idmap_set(struct idmap *m, struct wd_key id, __u64 val);
bool idmap_del(struct idmap *m, struct wd_key id);
void idmap_clear(struct idmap *m); /* empty, memory kept */
void idmap_free(struct idmap *m);

/* Items of `size` bytes by key, oldest first: wd_keep_put() adds (or
 * renews) an item as the newest, and when more than `limit` are held,
 * drops the oldest.  Zero-initialised with wd_keep_init(). */
struct wd_keep {
	struct idmap index; /* key -> slot */
	size_t size;
	char *items;
	struct wd_key *ids;
	int *prev, *next; /* -1 ends; a list of the slots in use, oldest first */
	int head, tail, n, alloc, free_slot;
};

void wd_keep_init(struct wd_keep *k, size_t size);
void *wd_keep_get(const struct wd_keep *k, struct wd_key id);
/* Store a copy of item under id as the newest.  Returns how many items it
 * displaced (0 or 1: the older item of the same key, or the oldest when
 * more than limit are held), copied to *old when old is not NULL. */
int wd_keep_put(struct wd_keep *k, struct wd_key id, const void *item, int limit, void *old);
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
