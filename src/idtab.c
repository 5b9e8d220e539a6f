// SPDX-License-Identifier: GPL-2.0
/*
 * idtab.c - a hash table from a 64-bit ID to a pointer (idtab.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ethoswd.h"
#include "idtab.h"

static size_t home(const struct wd_idtab *t, __u64 k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k & (t->cap - 1);
}

struct wd_idslot *wd_idtab_find(struct wd_idtab *t, __u64 key)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = home(t, key); t->v[i].used; i = (i + 1) & (t->cap - 1))
		if (t->v[i].key == key)
			return &t->v[i];
	return NULL;
}

void wd_idtab_put(struct wd_idtab *t, __u64 key, void *val)
{
	struct wd_idslot *s = wd_idtab_find(t, key);
	size_t i;

	if (s) {
		s->val = val;
		return;
	}
	if (2 * (t->n + 1) > t->cap) {
		struct wd_idtab bigger = { 0 };

		bigger.cap = t->cap ? 2 * t->cap : 64;
		bigger.v = wd_xmalloc(bigger.cap * sizeof(*bigger.v));
		memset(bigger.v, 0, bigger.cap * sizeof(*bigger.v));
		for (i = 0; i < t->cap; i++)
			if (t->v[i].used)
				wd_idtab_put(&bigger, t->v[i].key, t->v[i].val);
		free(t->v);
		*t = bigger;
	}
	for (i = home(t, key); t->v[i].used; i = (i + 1) & (t->cap - 1))
		;
	t->v[i] = (struct wd_idslot){ key, val, true };
	t->n++;
}

void *wd_idtab_del(struct wd_idtab *t, __u64 key)
{
	struct wd_idslot *s = wd_idtab_find(t, key);
	size_t i, j, h;
	void *val;

	if (!s)
		return NULL;
	val = s->val;
	i = s - t->v;
	for (j = (i + 1) & (t->cap - 1); t->v[j].used; j = (j + 1) & (t->cap - 1)) {
		h = home(t, t->v[j].key);
		/* Move j into the hole at i unless its home lies cyclically in (i, j]. */
		if (i < j ? (h <= i || h > j) : (h <= i && h > j)) {
			t->v[i] = t->v[j];
			i = j;
		}
	}
	t->v[i] = (struct wd_idslot){ 0 };
	t->n--;
	return val;
}

void wd_idtab_free(struct wd_idtab *t)
{
	free(t->v);
	*t = (struct wd_idtab){ 0 };
}
