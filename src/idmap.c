// SPDX-License-Identifier: GPL-2.0
/*
 * idmap.c - maps from a struct wd_key (a budget's whole key, or a process
 * as wd_pid_key()): struct idmap (entries in a dense array,
 * found through an open-addressing index: linear probing, deletion by
 * backward shift, so there are no tombstones) and struct wd_keep (the
 * newest items by insertion, as a doubly linked list over slots).  The
 * session keeps its stopped, limited and last-total sets and the rows of
 * exited processes in them, so that each event and each table costs time
 * in proportion to the live processes, never to those that ever existed.
 */
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		abort();
	return p;
}

static unsigned ideal(struct wd_key k, int nslot)
{
	/* The uid and kind mixed into the id, then splitmix64's finaliser:
	 * PIDs, UIDs and cgroup inode numbers are dense. */
	__u64 id = k.id ^ ((((__u64)k.uid << 32) | k.kind) * 0x9e3779b97f4a7c15ULL);

	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (unsigned)id & (unsigned)(nslot - 1);
}

/* The index slot that points at the entry of id, or -1. */
static int find_slot(const struct idmap *m, struct wd_key id)
{
	if (!m->nslot)
		return -1;
	for (unsigned i = ideal(id, m->nslot);; i = (i + 1) & (m->nslot - 1)) {
		int p = m->slot[i];

		if (!p)
			return -1;
		if (wd_key_eq(&m->v[p - 1].id, &id))
			return (int)i;
	}
}

static void index_entry(struct idmap *m, int pos)
{
	unsigned i = ideal(m->v[pos].id, m->nslot);

	while (m->slot[i])
		i = (i + 1) & (m->nslot - 1);
	m->slot[i] = pos + 1;
}

static void reindex(struct idmap *m, int nslot)
{
	free(m->slot);
	m->slot = calloc(nslot, sizeof(*m->slot));
	if (!m->slot)
		abort();
	m->nslot = nslot;
	for (int p = 0; p < m->n; p++)
		index_entry(m, p);
}

struct idval *idmap_find(const struct idmap *m, struct wd_key id)
{
	int i = find_slot(m, id);

	return i < 0 ? NULL : &m->v[m->slot[i] - 1];
}

void idmap_set(struct idmap *m, struct wd_key id, __u64 val)
{
	struct idval *e = idmap_find(m, id);

	if (e) {
		e->val = val;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n++] = (struct idval){ id, val };
	/* At most half full: probe sequences stay short. */
	if (2 * m->n > m->nslot)
		reindex(m, m->nslot ? 2 * m->nslot : 128);
	else
		index_entry(m, m->n - 1);
}

/* Empty index slot i, moving later entries of its probe run back. */
static void unindex(struct idmap *m, unsigned i)
{
	unsigned mask = m->nslot - 1, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!m->slot[j])
			break;
		unsigned k = ideal(m->v[m->slot[j] - 1].id, m->nslot);

		/* The entry at j may move to i if its ideal slot k is not in
		 * the cyclic range (i, j]. */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i] = 0;
}

bool idmap_del(struct idmap *m, struct wd_key id)
{
	int i = find_slot(m, id), pos, last;

	if (i < 0)
		return false;
	pos = m->slot[i] - 1;
	unindex(m, (unsigned)i);
	last = --m->n;
	if (pos != last) {
		/* The last entry fills the hole; its index slot follows it. */
		m->v[pos] = m->v[last];
		m->slot[find_slot(m, m->v[pos].id)] = pos + 1;
	}
	return true;
}

void idmap_clear(struct idmap *m)
{
	m->n = 0;
	if (m->slot)
		memset(m->slot, 0, m->nslot * sizeof(*m->slot));
}

void idmap_free(struct idmap *m)
{
	free(m->v);
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

/* ---- wd_keep -------------------------------------------------------------- */
void wd_keep_init(struct wd_keep *k, size_t size)
{
	memset(k, 0, sizeof(*k));
	k->size = size;
	k->head = k->tail = k->free_slot = -1;
}

void *wd_keep_get(const struct wd_keep *k, struct wd_key id)
{
	struct idval *e = idmap_find(&k->index, id);

	return e ? wd_keep_at(k, (int)e->val) : NULL;
}

static int take_slot(struct wd_keep *k)
{
	int s = k->free_slot;

	if (s < 0) {
		int grown = k->alloc ? 2 * k->alloc : 16;

		k->items = xrealloc(k->items, grown * k->size);
		k->ids = xrealloc(k->ids, grown * sizeof(*k->ids));
		k->prev = xrealloc(k->prev, grown * sizeof(*k->prev));
		k->next = xrealloc(k->next, grown * sizeof(*k->next));
		for (s = grown - 1; s >= k->alloc; s--) {
			k->next[s] = k->free_slot;
			k->free_slot = s;
		}
		k->alloc = grown;
		s = k->free_slot;
	}
	k->free_slot = k->next[s];
	return s;
}

static void unlink_slot(struct wd_keep *k, int s)
{
	if (k->prev[s] >= 0)
		k->next[k->prev[s]] = k->next[s];
	else
		k->head = k->next[s];
	if (k->next[s] >= 0)
		k->prev[k->next[s]] = k->prev[s];
	else
		k->tail = k->prev[s];
	idmap_del(&k->index, k->ids[s]);
	k->n--;
	k->next[s] = k->free_slot;
	k->free_slot = s;
}

int wd_keep_put(struct wd_keep *k, struct wd_key id, const void *item, int limit, void *old)
{
	struct idval *e = idmap_find(&k->index, id);
	int displaced = 0, s;

	if (e) {
		/* The same key again (a reused PID): the older item goes. */
		s = (int)e->val;
		if (old)
			memcpy(old, wd_keep_at(k, s), k->size);
		unlink_slot(k, s);
		displaced = 1;
	}
	s = take_slot(k);
	memcpy(wd_keep_at(k, s), item, k->size);
	k->ids[s] = id;
	k->prev[s] = k->tail;
	k->next[s] = -1;
	if (k->tail >= 0)
		k->next[k->tail] = s;
	else
		k->head = s;
	k->tail = s;
	k->n++;
	idmap_set(&k->index, id, (__u64)s);
	if (!displaced && k->n > limit) {
		if (old)
			memcpy(old, wd_keep_at(k, k->head), k->size);
		unlink_slot(k, k->head);
		displaced = 1;
	}
	return displaced;
}

bool wd_keep_pop(struct wd_keep *k, void *old)
{
	if (!k->n)
		return false;
	if (old)
		memcpy(old, wd_keep_at(k, k->head), k->size);
	unlink_slot(k, k->head);
	return true;
}

void wd_keep_free(struct wd_keep *k)
{
	idmap_free(&k->index);
	free(k->items);
	free(k->ids);
	free(k->prev);
	free(k->next);
	wd_keep_init(k, k->size);
}
