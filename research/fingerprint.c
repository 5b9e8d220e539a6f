// SPDX-License-Identifier: GPL-2.0
/*
 * fingerprint.c - the project's own fingerprinter, for the research corpus.
 *
 *   fingerprint [-n FILES] [-c CHILDREN] [-q]
 *
 * Collects up to FILES readable files under /proc and /sys that describe
 * the machine (CPU, memory, kernel, DMI, block and network devices), then
 * reads each once (up to 4 KiB, one read() call) in a tight burst, the way
 * a fingerprinting tool does.  With -c the files are split over CHILDREN
 * forked processes that read at the same time, so a per-process limit
 * sees only a share while a per-tree limit sees the whole burst.  Prints
 * "fingerprint files=N children=C reads=R us=T" on stdout (unless -q);
 * with -c, R is the number of children that read at least one file.
 * Statically linked: the only read() calls are the burst's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES    4096
#define MAX_CHILDREN 256

static char *paths[MAX_FILES];
static int npaths;

static const char *const fixed[] = {
	"/proc/cpuinfo",
	"/proc/meminfo",
	"/proc/version",
	"/proc/cmdline",
	"/proc/uptime",
	"/proc/loadavg",
	"/proc/stat",
	"/proc/modules",
	"/proc/mounts",
	"/proc/partitions",
	"/proc/swaps",
	"/proc/filesystems",
	"/proc/sys/kernel/hostname",
	"/proc/sys/kernel/osrelease",
	"/proc/sys/kernel/random/boot_id",
	"/proc/1/cgroup",
	"/proc/self/status",
	"/proc/self/cgroup",
	"/proc/self/mountinfo",
	"/proc/net/dev",
	"/sys/class/dmi/id/product_name",
	"/sys/class/dmi/id/sys_vendor",
	"/sys/class/dmi/id/product_uuid",
	"/sys/class/dmi/id/board_vendor",
	"/sys/class/dmi/id/bios_version",
	"/sys/hypervisor/type",
	"/sys/devices/system/cpu/online",
	"/sys/devices/system/cpu/possible",
};

static const char *const walk[] = {
	"/sys/devices/system/cpu",
	"/sys/class/net",
	"/sys/block",
	"/sys/devices/system/node",
	"/sys/kernel/mm/transparent_hugepage",
};

static void add(const char *path)
{
	struct stat st;

	if (npaths >= MAX_FILES || stat(path, &st) || !S_ISREG(st.st_mode) || access(path, R_OK))
		return;
	paths[npaths] = strdup(path);
	if (paths[npaths])
		npaths++;
}

/* Files of a directory and of its subdirectories, depth-limited. */
static void collect(const char *dir, int depth, int want)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (!d)
		return;
	while (npaths < want && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_REG)
			add(path);
		else if ((e->d_type == DT_DIR || e->d_type == DT_LNK) && depth > 0)
			collect(path, depth - 1, want);
	}
	closedir(d);
}

static long read_share(int child, int children)
{
	char buf[4096];
	long reads = 0;

	for (int i = child; i < npaths; i += children) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf)) >= 0)
			reads++;
		close(fd);
	}
	return reads;
}

static long parse(const char *opt, const char *text, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || end == text || v < lo || v > hi) {
		fprintf(stderr, "fingerprint: %s %s: expected %ld..%ld\n", opt, text, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long want = 64, children = 1;
	int quiet = 0, opt;
	struct timespec t0, t1;
	long reads = 0;

	while ((opt = getopt(argc, argv, "n:c:q")) != -1) {
		switch (opt) {
		case 'n':
			want = parse("-n", optarg, 1, MAX_FILES);
			break;
		case 'c':
			children = parse("-c", optarg, 1, MAX_CHILDREN);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr, "usage: fingerprint [-n FILES] [-c CHILDREN] [-q]\n");
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && npaths < want; i++)
		add(fixed[i]);
	for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]) && npaths < want; i++)
		collect(walk[i], 3, (int)want);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (children == 1) {
		reads = read_share(0, 1);
	} else {
		pid_t pids[MAX_CHILDREN];

		for (long c = 0; c < children; c++) {
			pids[c] = fork();
			if (pids[c] == 0)
				_exit(read_share((int)c, (int)children) > 0 ? 0 : 1);
			if (pids[c] < 0) {
				perror("fingerprint: fork");
				return 1;
			}
		}
		/* A child's exit status is 0 if it read at least one file. */
		for (long c = 0; c < children; c++) {
			int st;

			if (waitpid(pids[c], &st, 0) == pids[c] && WIFEXITED(st) &&
			    WEXITSTATUS(st) == 0)
				reads++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!quiet)
		printf("fingerprint files=%d children=%ld reads=%ld us=%ld\n", npaths, children,
		       reads,
		       (long)((t1.tv_sec - t0.tv_sec) * 1000000 +
			      (t1.tv_nsec - t0.tv_nsec) / 1000));
	return 0;
}
