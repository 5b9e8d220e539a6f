// SPDX-License-Identifier: GPL-2.0
/*
 * names.c - readable names of shared budgets (ethoswd/budgets.py Names):
 * the user of a UID (a uid budget's, or any budget's callers'), the path
 * of a cgroup ID (a walk of the cgroup2 mount), looked up once each while
 * in use.  The session trims the
 * oldest lookups after each table, so a host whose cgroups come and go
 * for months keeps a bounded cache.
 */
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"

static __u64 cg_want;
static char cg_found[4096];
static const char *cg_root;

static int cg_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D && (__u64)st->st_ino == cg_want) {
		/* A cgroup's ID is its directory's inode number in cgroup2. */
		snprintf(cg_found, sizeof(cg_found), "/%s",
			 path[strlen(cg_root)] ? path + strlen(cg_root) + 1 : "");
		return 1;
	}
	return 0;
}

static char *cgroup_path(__u64 id)
{
	char line[4096], dev[256], mnt[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	char *out = NULL;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			cg_want = id;
			cg_root = mnt;
			cg_found[0] = 0;
			if (nftw(mnt, cg_visit, 16, FTW_PHYS) == 1)
				out = strdup(cg_found);
			break;
		}
	}
	if (f)
		fclose(f);
	return out;
}

void wd_names_init(struct wd_names *nm)
{
	wd_keep_init(&nm->cache, sizeof(char *));
}

const char *wd_names_get(struct wd_names *nm, int kind, __u64 id)
{
	/* A user's name, whether of a uid budget or of a budget's callers,
	 * is one lookup. */
	struct wd_key k = { .id = id, .kind = kind == WD_NAME_USER ? WD_KEY_UID : (__u32)kind };
	char **known, *name = NULL;

	if (kind != WD_KEY_UID && kind != WD_NAME_USER && kind != WD_KEY_CGROUP)
		return NULL;
	known = wd_keep_get(&nm->cache, k);
	if (known)
		return *known;
	if (kind != WD_KEY_CGROUP) {
		struct passwd *pw = getpwuid((uid_t)id);

		name = pw ? strdup(pw->pw_name) : NULL;
	} else {
		name = cgroup_path(id);
	}
	wd_keep_put(&nm->cache, k, &name, INT_MAX, NULL);
	return name;
}

void wd_names_trim(struct wd_names *nm, int limit)
{
	char *name;

	while (nm->cache.n > limit && wd_keep_pop(&nm->cache, &name))
		free(name);
}

void wd_names_free(struct wd_names *nm)
{
	wd_names_trim(nm, 0);
	wd_keep_free(&nm->cache);
}
