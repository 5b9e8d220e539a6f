/* SPDX-License-Identifier: GPL-2.0 */
/*
 * runas.h - -u USER, the command's file, the child's pre-exec steps (runas.c;
 * ethoswd/runas.py).
 */
#ifndef ETHOSWD_RUNAS_H
#define ETHOSWD_RUNAS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

/* -u USER: whom `-- CMD` runs as (runas.c). */
struct wd_user {
	bool set;
	char name[256];
	__u32 uid, gid;
	int ngroups;
	unsigned int *groups; /* gid_t, malloc'ed: the supplementary groups */
};

/* -u USER (a name or numeric UID of the user database): 0, or -1 with
 * wd_fail() ("no such user").  Fills u, groups malloc'ed. */
int wd_user_lookup(const char *text, struct wd_user *u);
void wd_user_free(struct wd_user *u);
/* The file `-- file` runs, found as execvp() finds it but as user u (NULL
 * or unset: as the caller), into out; -1 with the one-line refusal in msg
 * if it cannot run: not found, a directory, not executable (by u), or
 * neither ELF nor #! (execvp would run that through /bin/sh).  Switches
 * only the effective ids, and back: call it as root. */
int wd_command_resolve(const char *file, const struct wd_user *u, char *out, size_t outlen,
		       char *msg, size_t msglen);
/* The launched child's steps between the gate and exec: default signal
 * dispositions, nothing blocked, then u's groups, GID and UID (all three
 * of each, no way back).  0, or -1 with errno. */
int wd_pre_exec(const struct wd_user *u);

#endif /* ETHOSWD_RUNAS_H */
