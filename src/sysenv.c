// SPDX-License-Identifier: GPL-2.0
/*
 * sysenv.c - check and prepare the environment before anything is
 * loaded (ethoswd/environment.py): root, the pseudo file systems the
 * probes and feature checks read, and the -p targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ethoswd.h"

static const char *const pseudo_fs[][2] = {
	{ "tracefs", "/sys/kernel/tracing" },
	{ "debugfs", "/sys/kernel/debug" },
	{ "securityfs", "/sys/kernel/security" },
};

int wd_require_root(void)
{
	if (geteuid() != 0)
		return wd_fail("must run as root: loading BPF programs needs CAP_BPF and "
			       "CAP_PERFMON; run it in a root shell, or with sudo in front");
	return 0;
}

/* Is `path` a mount point in /proc/mounts (its second field, as is)? */
static bool mounted(const char *path)
{
	FILE *fp = fopen("/proc/mounts", "r");
	char *line = NULL, *save, *dir;
	size_t cap = 0;
	bool found = false;

	while (fp && !found && getline(&line, &cap, fp) > 0) {
		if (strtok_r(line, " \t\n", &save) && (dir = strtok_r(NULL, " \t\n", &save)) &&
		    !strcmp(dir, path))
			found = true;
	}
	free(line);
	if (fp)
		fclose(fp);
	return found;
}

int wd_mount_pseudo(char notes[][128], int max)
{
	struct stat st;
	int n = 0;

	for (size_t i = 0; i < sizeof(pseudo_fs) / sizeof(pseudo_fs[0]); i++) {
		const char *type = pseudo_fs[i][0], *path = pseudo_fs[i][1];

		if (mounted(path) || stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		/* As `mount -t TYPE TYPE PATH`: the source is the type's name. */
		if (mount(type, path, type, 0, NULL) == 0 && n < max)
			snprintf(notes[n++], 128, "mounted %s on %s", type, path);
	}
	return n;
}

int wd_check_target_pid(__u32 pid)
{
	char path[64], stat[1024], *paren;
	unsigned long flags = 0;
	FILE *fp;
	size_t n;

	if (pid == 1)
		return wd_fail("--pid 1: pid 1 is never limited (init must keep running)");
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return wd_fail("--pid %u: no such process", pid);
	n = fread(stat, 1, sizeof(stat) - 1, fp);
	fclose(fp);
	stat[n] = '\0';
	/* Field 9 (flags) follows the parenthesised comm, which may hold
	 * spaces or ')': count fields from the last ')'. */
	paren = strrchr(stat, ')');
	if (!paren || sscanf(paren + 1, " %*s %*s %*s %*s %*s %*s %lu", &flags) != 1)
		return wd_fail("--pid %u: no such process", pid);
	if (flags & WD_PF_KTHREAD)
		return wd_fail("--pid %u: pid %u is a kernel thread; kernel threads are "
			       "never limited",
			       pid, pid);
	return 0;
}
