// SPDX-License-Identifier: GPL-2.0
/*
 * policy_json.c - the resolved policy as JSON (policy.Policy.as_dict):
 * the "policy" member of --probe-features and of the start record, and
 * what the C/Python comparison of src/test_front.c prints.  Apart from
 * policy.c because it needs only the JSON writer, so the test drivers
 * can link it alone.
 */
#include "labels.h"
#include "policy.h"
#include "policy_json.h"
#include "text.h"

/* A list of files as [{path, dev, ino}]. */
static char *fileids_json(const struct wd_fileid *ids, int n)
{
	struct wd_jarr *a = wja_new();

	for (int i = 0; i < n; i++) {
		struct wd_json *j = wj_new();

		wj_str(j, "path", ids[i].path);
		wj_u64(j, "dev", ids[i].dev);
		wj_u64(j, "ino", ids[i].ino);
		wja_take(a, wj_end(j));
	}
	return wja_end(a);
}

char *wd_policy_json(const struct wd_policy *p)
{
	struct wd_json *j = wj_new(), *fs = wj_new();

	wj_str(j, "profile", p->profile);
	wj_str(j, "count", p->count);
	for (int i = 0; i < p->nfs; i++)
		wj_u64(fs, p->fs[i].name, p->fs[i].magic);
	wj_take(j, "filesystems", wj_end(fs));
	wj_take(j, "files", fileids_json(p->files, p->nfiles));
	wj_str(j, "key", wd_key_name(p->key));
	wj_bool(j, "per_user", p->key != WD_KEY_PROCESS);
	if (wd_policy_fallback(p)) {
		struct wd_json *f = wj_new();

		wj_str(f, "key", "process");
		wj_str(f, "when", wd_policy_fallback(p));
		wj_take(j, "fallback", wj_end(f));
	} else {
		wj_null(j, "fallback");
	}
	wj_take(j, "exclude_exe", fileids_json(p->exclude_exe, p->nexe));
	wj_u64(j, "max_calls", p->max_calls);
	wj_u64(j, "window_ms", p->window_ms);
	return wj_end(j);
}
