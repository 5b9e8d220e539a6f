// SPDX-License-Identifier: GPL-2.0
/*
 * cgname.c - cgroups by name (mirrors ethoswd/cgnames.py).
 *
 * The probe keys a cgroup budget by the cgroup v2 ID, the inode number of
 * the cgroup's directory.  An ID is resolved once: open_by_handle_at() on
 * the cgroup2 mount with the ID as a kernfs file handle (FILEID_KERNFS,
 * 8 bytes) opens the directory without a walk, and /proc/self/fd names
 * it.  Where handles are refused (no CAP_DAC_READ_SEARCH), one walk of
 * the tree (directories only) fills the cache, at most once a second.
 * A process's cgroup is the "0::" line of /proc/PID/cgroup, read once
 * while the process is listed.  The tables are idmap.c's (the session's
 * one hash table, keyed by struct wd_key): by ID, oldest first, trimmed
 * by the session after each table (wd_cgnames_trim(), as names.c's users)
 * so that a host whose cgroups come and go for months keeps a bounded
 * cache; by process, an entry dropped when the process exits.  Each entry
 * owns its record; kept rows of exited processes hold copies
 * (wd_cgroup_dup(), exited.c).
 */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgname.h"
#include "text.h"
#include "idmap.h"

#define FILEID_KERNFS 0xfe
#define WALK_EVERY_NS 1000000000ULL

/* ---- container_of(): the path's own words ------------------------------- */

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A pod UID: 8-4-4-4-12 lowercase hex, '-' or '_' between (systemd slices). */
static bool pod_uid(const char *s, size_t n, char out[37])
{
	static const int group[] = { 8, 4, 4, 4, 12 };
	size_t at = 0;

	if (n != 36)
		return false;
	for (int g = 0; g < 5; g++) {
		if (!hex_run(s + at, group[g]))
			return false;
		at += group[g];
		if (g < 4 && s[at] != '-' && s[at] != '_')
			return false;
		at += g < 4;
	}
	for (size_t i = 0; i < 36; i++)
		out[i] = s[i] == '_' ? '-' : s[i];
	out[36] = '\0';
	return true;
}

static bool pod_tail(const char *s, size_t n, char out[37])
{
	return n > 3 && !strncmp(s, "pod", 3) && pod_uid(s + 3, n - 3, out);
}

/* "pod<uid>", "kubepods-pod<uid>.slice", "kubepods-<qos>-pod<uid>.slice"
 * (cgnames.py _POD). */
static bool pod_part(const char *s, size_t n, char out[37])
{
	const char *r, *q;

	if (n > 6 && !strncmp(s + n - 6, ".slice", 6))
		n -= 6;
	if (pod_tail(s, n, out))
		return true;
	if (n < 9 || strncmp(s, "kubepods-", 9))
		return false;
	r = s + 9;
	if (pod_tail(r, n - 9, out))
		return true;
	for (q = r; q < s + n && *q >= 'a' && *q <= 'z'; q++)
		;
	return q > r && q < s + n && *q == '-' && pod_tail(q + 1, s + n - q - 1, out);
}

/* "<prefix><64 hex>" with an optional ".scope". */
static bool scoped(const char *s, size_t n, const char *prefix, char id[65])
{
	size_t k = strlen(prefix);

	if (n > 6 && !strncmp(s + n - 6, ".scope", 6))
		n -= 6;
	if (n != k + 64 || strncmp(s, prefix, k) || !hex_run(s + k, 64))
		return false;
	memcpy(id, s + k, 64);
	id[64] = '\0';
	return true;
}

bool wd_container_of(const char *path, const char **runtime, char id[65], char pod[37])
{
	static const struct {
		const char *name, *prefix;
	} scopes[] = { { "podman", "libpod-" },
		       { "docker", "docker-" },
		       { "containerd", "cri-containerd-" },
		       { "crio", "crio-" } };
	const char *part[256];
	size_t len[256];
	int n = 0;

	pod[0] = '\0';
	for (const char *p = path;; p++) { /* path.split("/") */
		const char *e = strchrnul(p, '/');

		if (n == 256)
			return false;
		part[n] = p;
		len[n++] = e - p;
		if (!*e)
			break;
		p = e;
	}
	for (int i = 0; i < n; i++)
		(void)pod_part(part[i], len[i], pod); /* the last one found */
	for (int i = n - 1; i > 0; i--) {
		for (size_t k = 0; k < sizeof(scopes) / sizeof(scopes[0]); k++) {
			if (scoped(part[i], len[i], scopes[k].prefix, id)) {
				*runtime = scopes[k].name;
				return true;
			}
		}
		if (len[i] != 64 || !hex_run(part[i], 64))
			continue;
		memcpy(id, part[i], 64);
		id[64] = '\0';
		if (len[i - 1] == 6 && !strncmp(part[i - 1], "docker", 6)) {
			*runtime = "docker";
			return true;
		}
		for (int j = 0; j < i && pod[0]; j++) {
			if (len[j] >= 8 && !strncmp(part[j], "kubepods", 8)) {
				*runtime = "cri";
				return true;
			}
		}
	}
	id[0] = pod[0] = '\0';
	return false;
}

/* A "no cgroup" answer, cached like a record (never freed). */
static struct wd_cgroup none;

struct wd_cgnames {
	char *root; /* the cgroup2 mount, or NULL */
	int mount_fd;
	bool handles; /* open_by_handle_at() works here */
	__u64 walked; /* CLOCK_MONOTONIC ns of the last walk, 0: none */
	/* {cgroup ID, 0, WD_KEY_CGROUP} -> struct wd_cgroup * (&none: does
	 * not resolve), oldest first: wd_cgnames_trim() drops the oldest. */
	struct wd_keep by_id;
	struct idmap by_pid; /* wd_pid_key(tgid) -> struct wd_cgroup * (or &none) */
};

static struct wd_key cg_key(__u64 id)
{
	return (struct wd_key){ .id = id, .kind = WD_KEY_CGROUP };
}

/* A new record of a path (its own copy). */
static struct wd_cgroup *make(const char *path)
{
	struct wd_cgroup *cg = wd_xmalloc(sizeof(*cg));

	memset(cg, 0, sizeof(*cg));
	cg->path = wd_xstrdup(path);
	wd_container_of(path, &cg->runtime, cg->container_id, cg->pod_uid);
	if (!cg->runtime)
		cg->container_id[0] = cg->pod_uid[0] = '\0';
	return cg;
}

struct wd_cgroup *wd_cgroup_dup(const struct wd_cgroup *cg)
{
	struct wd_cgroup *copy;

	if (!cg)
		return NULL;
	copy = wd_xmalloc(sizeof(*copy));
	*copy = *cg;
	copy->path = wd_xstrdup(cg->path);
	return copy;
}

void wd_cgroup_free(struct wd_cgroup *cg)
{
	if (!cg || cg == &none)
		return;
	free(cg->path);
	free(cg);
}

static void put_id(struct wd_cgnames *c, __u64 id, struct wd_cgroup *cg)
{
	struct wd_cgroup *old = NULL;

	if (wd_keep_put(&c->by_id, cg_key(id), &cg, INT_MAX, &old))
		wd_cgroup_free(old);
}

static char *cgroup2_root(void)
{
	char line[4096], dev[256], mnt[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	char *out = NULL;

	while (f && !out && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2"))
			out = wd_xstrdup(mnt);
	if (f)
		fclose(f);
	return out;
}

struct wd_cgnames *wd_cgnames_new(void)
{
	struct wd_cgnames *c = wd_xmalloc(sizeof(*c));

	memset(c, 0, sizeof(*c));
	wd_keep_init(&c->by_id, sizeof(struct wd_cgroup *));
	c->root = cgroup2_root();
	c->mount_fd = c->root ? open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	c->handles = c->mount_fd >= 0;
	return c;
}

void wd_cgnames_trim(struct wd_cgnames *c, int limit)
{
	struct wd_cgroup *old;

	while (c->by_id.n > limit && wd_keep_pop(&c->by_id, &old))
		wd_cgroup_free(old);
}

void wd_cgnames_free(struct wd_cgnames *c)
{
	if (!c)
		return;
	wd_cgnames_trim(c, 0);
	wd_keep_free(&c->by_id);
	for (int i = 0; i < c->by_pid.n; i++)
		wd_cgroup_free((struct wd_cgroup *)(uintptr_t)c->by_pid.v[i].val);
	idmap_free(&c->by_pid);
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	free(c->root);
	free(c);
}

/* A path under the mount as the cgroup's own path ("/" for the root). */
static const char *rel(struct wd_cgnames *c, const char *full)
{
	size_t n = strlen(c->root);

	if (strncmp(full, c->root, n))
		return full;
	return full[n] ? full + n : "/";
}

/* 1: *out is the path; 0: no such cgroup; -1: handles refused here. */
static int by_handle(struct wd_cgnames *c, __u64 id, char *out, size_t len)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh = { .handle_bytes = 8, .handle_type = FILEID_KERNFS }, .id = id };
	char link[64];
	ssize_t n;
	int fd;

	fd = open_by_handle_at(c->mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_PATH);
	if (fd < 0) {
		if (errno == ENOENT || errno == ESTALE || errno == ENOTDIR)
			return 0;
		c->handles = false; /* EPERM, EOPNOTSUPP...: walk instead */
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	close(fd);
	if (n < 0)
		return 0;
	out[n] = '\0';
	return 1;
}

static void walk(struct wd_cgnames *c, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *sub;

	while (d && depth < 64 && (e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s/%s", dir, e->d_name) < 0)
			abort();
		if (!wd_keep_get(&c->by_id, cg_key(e->d_ino)))
			put_id(c, e->d_ino, make(rel(c, sub)));
		walk(c, sub, depth + 1);
		free(sub);
	}
	if (d)
		closedir(d);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

const struct wd_cgroup *wd_cgroup_by_id(struct wd_cgnames *c, __u64 id)
{
	struct wd_cgroup **known = wd_keep_get(&c->by_id, cg_key(id));
	char path[4096];
	struct stat st;
	int found;

	if (known)
		return *known == &none ? NULL : *known;
	if (!c->root || !id)
		return NULL;
	found = c->handles ? by_handle(c, id, path, sizeof(path)) : -1;
	if (found < 0) {
		if (!c->walked || mono_ns() - c->walked >= WALK_EVERY_NS) {
			c->walked = mono_ns();
			walk(c, c->root, 0);
			if (!stat(c->root, &st) && !wd_keep_get(&c->by_id, cg_key(st.st_ino)))
				put_id(c, st.st_ino, make("/"));
		}
		known = wd_keep_get(&c->by_id, cg_key(id));
		return known && *known != &none ? *known : NULL;
	}
	put_id(c, id, found ? make(rel(c, path)) : &none);
	known = wd_keep_get(&c->by_id, cg_key(id));
	return *known == &none ? NULL : *known;
}

const struct wd_cgroup *wd_cgroup_of_pid(struct wd_cgnames *c, __u32 pid)
{
	struct idval *known = idmap_find(&c->by_pid, wd_pid_key(pid));
	struct wd_cgroup *cg = &none;
	char name[32], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if (known)
		return (struct wd_cgroup *)(uintptr_t)known->val == &none ?
			       NULL :
			       (struct wd_cgroup *)(uintptr_t)known->val;
	snprintf(name, sizeof(name), "/proc/%u/cgroup", pid);
	f = fopen(name, "re");
	if (!f)
		return NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "0::", 3))
			continue;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		wd_cgroup_free(cg);
		cg = make(line + 3);
	}
	free(line);
	fclose(f);
	idmap_set(&c->by_pid, wd_pid_key(pid), (__u64)(uintptr_t)cg);
	return cg == &none ? NULL : cg;
}

void wd_cgroup_forget_pid(struct wd_cgnames *c, __u32 pid)
{
	struct idval *known = idmap_find(&c->by_pid, wd_pid_key(pid));

	if (!known)
		return;
	wd_cgroup_free((struct wd_cgroup *)(uintptr_t)known->val);
	idmap_del(&c->by_pid, wd_pid_key(pid));
}
