/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgname.h - cgroups by name (ethoswd/cgnames.py): a cgroup v2 ID or a
 * process's cgroup as its path and, for a container's cgroup, the
 * runtime, the container ID and the pod UID.  Each ID and process is
 * looked up once while in use; a record returned stays valid until the
 * next wd_cgnames_trim() (an ID's) or wd_cgroup_forget_pid() (a
 * process's), or wd_cgnames_free().
 */
#ifndef ETHOSWD_CGNAME_H
#define ETHOSWD_CGNAME_H

#include <stdbool.h>
#include <linux/types.h>

struct wd_cgroup {
	char *path;	       /* "/libpod_parent/libpod-<id>", untrusted bytes */
	const char *runtime;   /* "podman", "docker", "containerd", "crio", "cri" or NULL */
	char container_id[65]; /* 64 hex, or "" */
	char pod_uid[37];      /* kubepods: the pod's UID, or "" */
};

/* container_of(): the runtime, container ID and pod UID a cgroup path
 * names; false when it names no container. */
bool wd_container_of(const char *path, const char **runtime, char id[65], char pod[37]);

struct wd_cgnames;
struct wd_cgnames *wd_cgnames_new(void); /* never NULL (abort on no memory) */
void wd_cgnames_free(struct wd_cgnames *c);
/* The cgroup of a cgroup v2 ID, or NULL when it does not resolve. */
const struct wd_cgroup *wd_cgroup_by_id(struct wd_cgnames *c, __u64 id);
/* The cgroup of a process (/proc/PID/cgroup's "0::" line, read once while
 * the process is listed), or NULL. */
const struct wd_cgroup *wd_cgroup_of_pid(struct wd_cgnames *c, __u32 pid);
void wd_cgroup_forget_pid(struct wd_cgnames *c, __u32 pid); /* it exited */
/* Forget the oldest IDs beyond limit (a later lookup resolves it again). */
void wd_cgnames_trim(struct wd_cgnames *c, int limit);
/* A record of one's own (kept rows of exited processes), and its free;
 * both safe on NULL. */
struct wd_cgroup *wd_cgroup_dup(const struct wd_cgroup *cg);
void wd_cgroup_free(struct wd_cgroup *cg);

#endif /* ETHOSWD_CGNAME_H */
