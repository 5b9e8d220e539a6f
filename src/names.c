// SPDX-License-Identifier: GPL-2.0
/*
 * names.c - readable names of shared budgets (ethoswd/budgets.py Names):
 * the user of a UID (a uid budget's, or any budget's callers'), cached
 * here, and the path of a cgroup ID, which is cgname.c's record (one
 * cache of cgroups, shared with the rows' cgroup members and the
 * metrics; resolved once per new ID through its file handle, no walk of
 * the tree).  The session trims the oldest lookups of both after each
 * table, so a host whose cgroups come and go for months keeps a bounded
 * cache.
 */
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

void wd_names_init(struct wd_names *nm)
{
	wd_keep_init(&nm->cache, sizeof(char *));
	nm->cg = wd_cgnames_new();
}

const char *wd_names_get(struct wd_names *nm, int kind, __u64 id)
{
	/* A user's name, whether of a uid budget or of a budget's callers,
	 * is one lookup. */
	struct wd_key k = { .id = id, .kind = WD_KEY_UID };
	struct passwd *pw;
	char **known, *name;

	if (kind == WD_KEY_CGROUP) {
		const struct wd_cgroup *cg = wd_cgroup_by_id(nm->cg, id);

		return cg ? cg->path : NULL;
	}
	if (kind != WD_KEY_UID && kind != WD_NAME_USER)
		return NULL;
	known = wd_keep_get(&nm->cache, k);
	if (known)
		return *known;
	pw = getpwuid((uid_t)id);
	name = pw ? strdup(pw->pw_name) : NULL;
	wd_keep_put(&nm->cache, k, &name, INT_MAX, NULL);
	return name;
}

void wd_names_trim(struct wd_names *nm, int limit)
{
	char *name;

	while (nm->cache.n > limit && wd_keep_pop(&nm->cache, &name))
		free(name);
	wd_cgnames_trim(nm->cg, limit);
}

void wd_names_free(struct wd_names *nm)
{
	wd_names_trim(nm, 0);
	wd_keep_free(&nm->cache);
	wd_cgnames_free(nm->cg);
	nm->cg = NULL;
}
