// SPDX-License-Identifier: GPL-2.0
/*
 * policy.c - the policy the checked options resolve to (mirrors
 * ethoswd/policy.py): the profiles, the read class (--count), the
 * --file and --exclude-exe entries as the probe matches them (device and
 * inode), the budget key, and the wd_policy_* descriptions.
 *
 * opts.c parses and checks the command line, then calls
 * wd_policy_resolve() as cli.parse() calls policy.resolve().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "errors.h"
#include "labels.h"
#include "policy.h"
#include "strutil.h"
#include "text.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	__u64 magic;
} fs_magic[] = {
	{ "proc", 0x9FA0 },	      { "sysfs", 0x62656572 },	  { "debugfs", 0x64626720 },
	{ "securityfs", 0x73636673 }, { "tracefs", 0x74726163 },  { "cgroup", 0x27E0EB },
	{ "cgroup2", 0x63677270 },    { "configfs", 0x62656570 }, { "efivarfs", 0xDE5E81E4 },
	{ "bpf", 0xCAFE4A11 },	      { "pstore", 0x6165676C },	  { "devpts", 0x1CD1 },
	{ "tmpfs", 0x01021994 },      { "ramfs", 0x858458F6 },	  { "ext4", 0xEF53 },
	{ "xfs", 0x58465342 },	      { "btrfs", 0x9123683E },	  { "overlay", 0x794C7630 },
	{ "9p", 0x01021997 },	      { "nfs", 0x6969 },	  { "fuse", 0x65735546 },
	{ "squashfs", 0x73717368 },   { "vfat", 0x4D44 },	  { "iso9660", 0x9660 },
	{ "pipefs", 0x50495045 },     { "sockfs", 0x534F434B },	  { "anon_inode", 0x09041934 },
};
#define NFS_MAGIC NELEMS(fs_magic)

/* Kernel information filesystems: what `--count sysinfo` counts. */
static const char *const sysinfo[] = {
	"proc",	  "sysfs",   "debugfs",	 "securityfs", "tracefs",
	"cgroup", "cgroup2", "configfs", "efivarfs",
};
#define NSYSINFO NELEMS(sysinfo)

/* Files naming the machine or its OS; the fingerprint profile adds those
 * that exist.  /etc/hostname is left out as in policy.py: shell scripts
 * read it in loops, and the host name is one uname() away anyway. */
static const char *const identity_files[] = {
	"/etc/machine-id",  "/var/lib/dbus/machine-id", "/etc/os-release", "/usr/lib/os-release",
	"/etc/lsb-release", "/etc/debian_version",	"/etc/issue",	   "/etc/product_uuid",
};
#define NIDENTITY NELEMS(identity_files)

struct profile {
	const char *name, *count;
	int key; /* WD_KEY_UNSET: tree with targets, else cgroup */
	bool identity;
	__u64 max_calls, window_ms;
};

static const struct profile profile_defs[] = {
	{ "seed", "all", WD_KEY_PROCESS, false, WD_DEFAULT_MAX_CALLS, WD_DEFAULT_WINDOW_MS },
	{ "fingerprint", "sysinfo", WD_KEY_UNSET, true, WD_FINGERPRINT_MAX_CALLS,
	  WD_FINGERPRINT_WINDOW_MS },
};

/* Add (or keep) a filesystem of the read class, as a dict update. */
static int add_fs(struct wd_policy *p, const char *name, __u64 magic)
{
	int i;

	for (i = 0; i < p->nfs; i++)
		if (!strcmp(p->fs[i].name, name))
			return p->fs[i].magic = magic, 0;
	if (p->nfs == WD_LIST_MAX || strlen(name) >= sizeof(p->fs[0].name))
		return wd_fail("--count: too many filesystems (at most %d)", WD_LIST_MAX);
	snprintf(p->fs[p->nfs].name, sizeof(p->fs[0].name), "%s", name);
	p->fs[p->nfs++].magic = magic;
	return 0;
}

/* A magic number: 0x and 1 to 8 hex digits (32 bits), as policy.py
 * MAGIC_RE; false if tok is not one. */
static bool hex_magic(const char *tok, __u64 *out)
{
	size_t n = strlen(tok + 2);

	if (n < 1 || n > 8 || strspn(tok + 2, "0123456789abcdefABCDEF") != n)
		return false;
	*out = strtoull(tok + 2, NULL, 16);
	return true;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "9p, anon_inode, bpf, ...": the known names, sorted */
static char *known_fs(void)
{
	const char *names[NFS_MAGIC];
	struct wd_buf b = { 0 };
	size_t i;

	for (i = 0; i < NFS_MAGIC; i++)
		names[i] = fs_magic[i].name;
	qsort(names, NFS_MAGIC, sizeof(names[0]), str_cmp);
	for (i = 0; i < NFS_MAGIC; i++)
		wb_printf(&b, "%s%s", i ? ", " : "", names[i]);
	return wb_take(&b);
}

static int fs_token(struct wd_policy *p, const char *tok)
{
	char lower[16], *r, *known;
	__u64 magic;
	size_t i;

	for (i = 0; i < NFS_MAGIC; i++)
		if (!strcmp(fs_magic[i].name, tok))
			return add_fs(p, tok, fs_magic[i].magic);
	r = wd_repr_dup(tok);
	if (tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
		if (hex_magic(tok, &magic)) {
			for (i = 0; tok[i]; i++) /* at most 10 */
				lower[i] = tolower((unsigned char)tok[i]);
			lower[i] = '\0';
			free(r);
			return add_fs(p, lower, magic);
		}
		wd_fail("--count: bad magic number %s: expected 0x and 1 to 8 hex digits "
			"(a 32-bit magic)",
			r);
	} else {
		known = known_fs();
		wd_fail("--count: unknown filesystem %s (known: %s, or a 0x magic number)", r,
			known);
		free(known);
	}
	free(r);
	return -1;
}

static int fs_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wd_fs *)a)->name, ((const struct wd_fs *)b)->name);
}

/* policy.parse_count(): the label and the filesystems; *all if "all". */
static int parse_count(struct wd_policy *p, const char *text, bool *all)
{
	char *s = wd_strip_dup(text), *save = NULL, *tok, *t, *r;
	char *copy = wd_xstrdup(s);
	bool in_fs = false;
	int rc = 0;

	snprintf(p->count, sizeof(p->count), "%s", s);
	*all = !strcmp(s, "all");
	/* strsep, not strtok: empty tokens count (",proc" is an error) */
	for (save = copy; !*all && (tok = strsep(&save, ",")) && !rc;) {
		t = wd_strip_dup(tok);
		if (!in_fs && (!strcmp(t, "sysinfo") || !strcmp(t, "files"))) {
			for (size_t i = 0; !strcmp(t, "sysinfo") && i < NSYSINFO && !rc; i++)
				rc = fs_token(p, sysinfo[i]);
		} else {
			char *name = t;

			if (!strncmp(name, "fs:", 3))
				in_fs = true, name += 3;
			if (!in_fs || !*name) {
				r = wd_repr_dup(s);
				rc = wd_fail("--count %s: expected all, sysinfo, files or "
					     "fs:NAME[,NAME...]",
					     r);
				free(r);
			} else {
				rc = fs_token(p, name);
			}
		}
		free(t);
	}
	if (p->nfs)
		qsort(p->fs, p->nfs, sizeof(p->fs[0]), fs_name_cmp);
	free(copy);
	free(s);
	return rc;
}

/* policy.file_id(): a --file / --exclude-exe path as the probe matches it. */
static int file_id(const char *flag, const char *path, bool executable, struct wd_fileid *f)
{
	struct stat st;
	char *real;

	if (stat(path, &st))
		return wd_fail("%s %s: %s", flag, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return wd_fail("%s %s is not a regular file", flag, path);
	if (executable && access(path, X_OK))
		return wd_fail("%s %s is not executable", flag, path);
	real = realpath(path, NULL);
	snprintf(f->path, sizeof(f->path), "%s", real ? real : path);
	free(real);
	/* the kernel's dev_t is MAJOR << 20 | MINOR, not glibc's encoding */
	f->dev = (__u64)major(st.st_dev) << 20 | minor(st.st_dev);
	f->ino = st.st_ino;
	return 0;
}

static bool is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* The paths once each, in their first order (dict.fromkeys); the count. */
static int dedupe(const char **v, int n)
{
	int i, j, kept = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < kept && strcmp(v[j], v[i]); j++)
			;
		if (j == kept)
			v[kept++] = v[i];
	}
	return kept;
}

/* Filesystems whose stat() device may not be the superblock's s_dev. */
static const char *unsure_dev(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf))
		return NULL;
	switch ((__u32)sf.f_type) {
	case 0x9123683E:
		return "btrfs";
	case 0x794C7630:
		return "overlayfs";
	}
	return NULL;
}

/* A note for a --file on a filesystem where the device may not match. */
static void note_unsure(struct wd_policy *p, const char *path)
{
	const char *fs = unsure_dev(path);

	if (fs && p->nnotes < 8)
		snprintf(p->notes[p->nnotes++], sizeof(p->notes[0]),
			 "--file %s is on %s, where stat() may show another "
			 "device than the probe reads: check that its reads "
			 "count (--action monitor)",
			 path, fs);
}

/* The --file entries: the given paths, and the identity files for a
 * profile that wants them when --count was not given; notes for files
 * on filesystems where the device may not match. */
static int resolve_files(struct wd_policy *p, const struct profile *prof,
			 const struct wd_policy_args *a)
{
	const char **paths = wd_xmalloc((a->nfiles + NIDENTITY) * sizeof(*paths));
	size_t i;
	int k, n = 0, rc = 0;

	for (k = 0; k < a->nfiles; k++)
		paths[n++] = a->files[k];
	for (i = 0; prof->identity && !a->count && i < NIDENTITY; i++)
		if (is_file(identity_files[i]))
			paths[n++] = identity_files[i];
	n = dedupe(paths, n);
	if (n > WD_FILES_MAX) {
		free(paths);
		return wd_fail("--file: at most %d files", WD_FILES_MAX);
	}
	p->files = wd_xmalloc(n * sizeof(*p->files));
	for (k = 0; k < n && !rc; k++) {
		rc = file_id("--file", paths[k], false, &p->files[k]);
		if (rc)
			break;
		p->nfiles++;
		note_unsure(p, paths[k]);
	}
	free(paths);
	return rc;
}

static int resolve_exe(struct wd_policy *p, const struct wd_policy_args *a)
{
	const char **paths = wd_xmalloc(a->nexe * sizeof(*paths));
	int k, n, rc = 0;

	for (k = 0; k < a->nexe; k++)
		paths[k] = a->exe[k];
	n = dedupe(paths, a->nexe);
	if (n > WD_LIST_MAX) {
		free(paths);
		return wd_fail("--exclude-exe: at most %d executables", WD_LIST_MAX);
	}
	p->exclude_exe = wd_xmalloc(n * sizeof(*p->exclude_exe));
	for (k = 0; k < n; k++) {
		rc = file_id("--exclude-exe", paths[k], true, &p->exclude_exe[k]);
		if (rc)
			break;
		p->nexe++;
	}
	free(paths);
	return rc;
}

int wd_policy_resolve(struct wd_policy *p, const struct wd_policy_args *a)
{
	const struct profile *prof = &profile_defs[!strcmp(p->profile, "fingerprint")];
	bool all;

	if (parse_count(p, a->count ?: prof->count, &all) || resolve_files(p, prof, a))
		return -1;
	if (all && a->nfiles)
		return wd_fail("--file adds files to a read class, but --count all "
			       "counts every read already: use --count files (only "
			       "the listed files) or --count sysinfo");
	if (!strcmp(p->count, "files") && !p->nfiles)
		return wd_fail("--count files needs at least one --file PATH");
	p->counts_all = all && !p->nfiles;
	if (a->key != WD_KEY_UNSET)
		p->key = a->key;
	else if (prof->key != WD_KEY_UNSET)
		p->key = prof->key;
	else
		p->key = a->targets ? WD_KEY_TREE : WD_KEY_CGROUP;
	if (p->key == WD_KEY_TREE && !a->targets)
		return wd_fail("--key tree needs target roots: give -- CMD or -p PID "
			       "(a tree is a target and all its descendants)");
	if (resolve_exe(p, a))
		return -1;
	if (!p->max_calls)
		p->max_calls = prof->max_calls;
	if (!p->window_ms)
		p->window_ms = prof->window_ms;
	return 0;
}

/* ---- Policy's descriptions ---------------------------------------------- */

/* Whose budget a call is charged to (policy.py KEY_TEXT): a shared budget
 * never spans users, and where it would group unrelated processes the
 * caller gets a budget of its own (probe/limiter.h wd_budget_key). */
const char *wd_policy_describe_key(const struct wd_policy *p)
{
	switch (p->key) {
	case WD_KEY_TREE:
		return "per process tree and user (each target and all its descendants; a "
		       "member running as another user is charged to that user's budget of "
		       "the tree)";
	case WD_KEY_UID:
		return "per user (UID 0, the system's daemons: per process)";
	case WD_KEY_CGROUP:
		return "per cgroup v2 and user (the root cgroup: per process)";
	}
	return "per process";
}

/* Which callers fall back to a budget of their own (policy.py FALLBACK),
 * or NULL. */
const char *wd_policy_fallback(const struct wd_policy *p)
{
#define STR2(x) #x
#define STR(x)	STR2(x)
	switch (p->key) {
	case WD_KEY_UID:
		return "the caller's real UID is 0";
	case WD_KEY_CGROUP:
		return "the caller is in the root cgroup (cgroup ID " STR(WD_ROOT_CGROUP_ID) ")";
	}
	return NULL;
#undef STR
#undef STR2
}

void wd_policy_describe_count(const struct wd_policy *p, char *buf, size_t len)
{
	struct wd_buf b = { 0 };
	int i;

	if (p->counts_all) {
		snprintf(buf, len, "every read-family call");
		return;
	}
	if (p->nfs) {
		wb_puts(&b, "reads of files on ");
		for (i = 0; i < p->nfs; i++)
			wb_printf(&b, "%s%s", i ? "," : "", p->fs[i].name);
	}
	if (p->nfiles)
		wb_printf(&b, "%sreads of %d listed file%s", p->nfs ? " or " : "", p->nfiles,
			  p->nfiles == 1 ? "" : "s");
	snprintf(buf, len, "%s", b.p ? b.p : "");
	free(b.p);
}

bool wd_policy_needs_btf(const struct wd_policy *p)
{
	/* read classes and exe exclusions read kernel structs by BTF offsets */
	return !p->counts_all || p->nexe > 0;
}
