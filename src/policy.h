/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy.h - the policy: profile, read classes, files, key and limits (policy.c;
 * ethoswd/policy.py).
 */
#ifndef ETHOSWD_POLICY_H
#define ETHOSWD_POLICY_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "labels.h"

/* Entries of a repeatable option and filesystems of a read class:
 * WD_LIST_MAX; --file entries: WD_FILES_MAX (the probe's map sizes,
 * watchdog_map.h). */

struct wd_fileid {	 /* a file as the probe matches it */
	char path[4096]; /* realpath() */
	__u64 dev;	 /* kernel dev_t: MAJOR << 20 | MINOR */
	__u64 ino;
};

struct wd_fs {	       /* a filesystem of a read class */
	char name[32]; /* "proc", or "0x1234" as given */
	__u64 magic;
};

struct wd_policy {
	const char *profile; /* "seed" | "fingerprint" */
	__u64 max_calls;
	__u64 window_ms;
	char count[256]; /* the --count label ("all", "sysinfo", ...) */
	bool counts_all; /* no filesystems and no files */
	int nfs;
	struct wd_fs fs[WD_LIST_MAX]; /* sorted by name */
	int nfiles;
	struct wd_fileid *files; /* malloc'ed, nfiles entries */
	int key;		 /* WD_KEY_* */
	int nexe;
	struct wd_fileid *exclude_exe; /* malloc'ed, nexe entries */
	int nnotes;
	char notes[8][512]; /* warnings to print at start */
};

/* What policy.resolve() reads of the command line (strings as given). */
struct wd_policy_args {
	const char *count; /* --count, or NULL: the profile's */
	int key;	   /* --key as WD_KEY_*, or WD_KEY_UNSET */
	bool targets;	   /* -p PID or -- CMD given */
	int nfiles;
	const char **files; /* --file paths */
	int nexe;
	const char **exe; /* --exclude-exe paths */
};
/* policy.resolve(): fill p (profile, max_calls and window_ms already set
 * from the options; 0 there: the profile's); 0, or -1 with wd_fail(). */
int wd_policy_resolve(struct wd_policy *p, const struct wd_policy_args *a);
const char *wd_policy_describe_key(const struct wd_policy *p);
/* Which callers get a budget of their own instead of the shared key's
 * ("the caller is in the root cgroup ..."), or NULL. */
const char *wd_policy_fallback(const struct wd_policy *p);
/* "every read-family call" | "reads of files on proc,sysfs or reads of 2 listed files" */
void wd_policy_describe_count(const struct wd_policy *p, char *buf, size_t len);
bool wd_policy_needs_btf(const struct wd_policy *p);

#endif /* ETHOSWD_POLICY_H */
