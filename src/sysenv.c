// SPDX-License-Identifier: GPL-2.0
/*
 * sysenv.c - check and prepare the environment before anything is
 * loaded (ethoswd/environment.py): the -p targets, the capabilities (the
 * effective set, not the user id), and the pseudo file systems the
 * probes and feature checks read.  The same checks, order and words as
 * environment.py.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "errors.h"
#include "labels.h"
#include "sysenv.h"
#include "text.h"

static const char *const pseudo_fs[][2] = {
	{ "tracefs", "/sys/kernel/tracing" },
	{ "debugfs", "/sys/kernel/debug" },
	{ "securityfs", "/sys/kernel/security" },
};

/* ---- capabilities ---------------------------------------------------- */

/* Capability numbers (linux/capability.h). */
enum {
	CAP_DAC_OVERRIDE_ = 1,
	CAP_DAC_READ_SEARCH_ = 2,
	CAP_KILL_ = 5,
	CAP_SYS_ADMIN_ = 21,
	CAP_SYS_RESOURCE_ = 24,
	CAP_PERFMON_ = 38,
	CAP_BPF_ = 39,
};

static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static bool has(const struct wd_privileges *p, int cap)
{
	return p->caps >> cap & 1;
}

/* One "CAP_X (why)" onto the list. */
static void need(struct wd_buf *b, int *n, const char *cap, const char *why)
{
	wb_printf(b, "%s%s (%s)", (*n)++ ? "; " : "", cap, why);
}

int wd_privilege_problem(const struct wd_privileges *p, int action)
{
	struct wd_buf b = { 0 };
	const char *them;
	char fix[160];
	int n = 0;

	if (p->last_cap < CAP_BPF_) {
		if (!has(p, CAP_SYS_ADMIN_))
			need(&b, &n, "CAP_SYS_ADMIN",
			     "this kernel has no CAP_BPF (before 5.8): BPF needs CAP_SYS_ADMIN");
	} else {
		if (!has(p, CAP_BPF_) && !has(p, CAP_SYS_ADMIN_))
			need(&b, &n, "CAP_BPF", "load BPF programs and maps");
		if (!has(p, CAP_PERFMON_) && !has(p, CAP_SYS_ADMIN_))
			need(&b, &n, "CAP_PERFMON", "attach tracing programs");
	}
	if (p->tracefs[0] && !has(p, CAP_DAC_READ_SEARCH_) && !has(p, CAP_DAC_OVERRIDE_)) {
		char why[128];

		snprintf(why, sizeof(why), "read tracefs: %s is closed to this user", p->tracefs);
		need(&b, &n, "CAP_DAC_READ_SEARCH", why);
	}
	if ((p->kmajor < 5 || (p->kmajor == 5 && p->kminor < 11)) && p->memlock != RLIM_INFINITY &&
	    !has(p, CAP_SYS_RESOURCE_)) {
		char why[192];

		snprintf(why, sizeof(why),
			 "this kernel charges BPF maps to RLIMIT_MEMLOCK, whose hard limit is "
			 "%llu bytes; or run ulimit -l unlimited first",
			 (unsigned long long)p->memlock);
		need(&b, &n, "CAP_SYS_RESOURCE", why);
	}
	if (action == WD_ACT_THROTTLE && !has(p, CAP_KILL_))
		need(&b, &n, "CAP_KILL",
		     "--action throttle resumes stopped processes, other users' too, with "
		     "SIGCONT; or choose another --action");
	if (!n)
		return 0;
	them = n == 1 ? "it" : "them";
	if (p->uid == 0)
		snprintf(fix, sizeof(fix),
			 "this process runs as root without %s (a container or a service that "
			 "drops capabilities): grant %s",
			 them, them);
	else
		snprintf(fix, sizeof(fix),
			 "run it as root (a root shell, or sudo in front), or grant %s", them);
	wd_fail("missing capabilit%s in the effective set (uid %u): %s; %s "
		"(docs/watchdog_guide.md, \"Privileges\")",
		n == 1 ? "y" : "ies", p->uid, b.p, fix);
	free(b.p);
	return -1;
}

/* CapEff of /proc/self/status; false if it cannot be read. */
static bool effective_caps(__u64 *caps)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	while (fp && !found && getline(&line, &cap, fp) > 0)
		found = sscanf(line, "CapEff: %llx", (unsigned long long *)caps) == 1;
	free(line);
	if (fp)
		fclose(fp);
	return found;
}

/* A mounted tracefs this process may not search, or "". */
static void unreadable_tracefs(char *out, size_t len)
{
	char path[64];
	struct stat st;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(tracefs_roots) / sizeof(tracefs_roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events", tracefs_roots[i]);
		if (!stat(path, &st)) {
			out[0] = '\0';
			return;
		}
		if (errno == EACCES && !out[0])
			snprintf(out, len, "%s", tracefs_roots[i]);
	}
}

int wd_privileges_read(struct wd_privileges *p)
{
	struct utsname u;
	struct rlimit rl;
	FILE *fp;

	memset(p, 0, sizeof(*p));
	if (!effective_caps(&p->caps))
		return wd_fail("cannot read the capability set (CapEff in /proc/self/status): "
			       "mount /proc");
	p->last_cap = CAP_BPF_; /* unknown: assume a kernel with CAP_BPF */
	fp = fopen("/proc/sys/kernel/cap_last_cap", "r");
	if (fp) {
		if (fscanf(fp, "%d", &p->last_cap) != 1)
			p->last_cap = CAP_BPF_;
		fclose(fp);
	}
	unreadable_tracefs(p->tracefs, sizeof(p->tracefs));
	p->kmajor = 99;
	if (!uname(&u) && sscanf(u.release, "%d.%d", &p->kmajor, &p->kminor) != 2)
		p->kmajor = 99, p->kminor = 0;
	p->memlock = getrlimit(RLIMIT_MEMLOCK, &rl) ? RLIM_INFINITY : rl.rlim_max;
	p->uid = geteuid();
	return 0;
}

bool wd_bpf_capable(void)
{
	struct wd_privileges p;

	if (wd_privileges_read(&p))
		return false;
	p.tracefs[0] = '\0'; /* only what loading needs */
	p.kmajor = 99;
	return !wd_privilege_problem(&p, WD_ACT_AUTO);
}

int wd_require_privileges(int action)
{
	struct wd_privileges p;

	if (wd_privileges_read(&p))
		return -1;
	return wd_privilege_problem(&p, action);
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

/* The Tgid of /proc/PID/status, or 0. */
static __u32 tgid_of(__u32 pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	unsigned int tgid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	fp = fopen(path, "r");
	while (fp && !tgid && getline(&line, &cap, fp) > 0)
		if (sscanf(line, "Tgid: %u", &tgid) != 1)
			tgid = 0;
	free(line);
	if (fp)
		fclose(fp);
	return tgid;
}

int wd_check_target_pid(__u32 pid)
{
	char path[64], stat[1024], *paren, state = 0;
	unsigned long flags = 0;
	__u32 tgid;
	FILE *fp;
	size_t n;

	if (pid == 1)
		return wd_fail("--pid 1: pid 1 is never limited (init must keep running)");
	if (pid == (__u32)getpid())
		return wd_fail("--pid %u: that is the watchdog's own process; it never limits "
			       "itself",
			       pid);
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return wd_fail("--pid %u: no such process", pid);
	n = fread(stat, 1, sizeof(stat) - 1, fp);
	fclose(fp);
	stat[n] = '\0';
	tgid = tgid_of(pid);
	/* State (field 3) and flags (field 9) follow the parenthesised comm,
	 * which may hold spaces or ')': count fields from the last ')'. */
	paren = strrchr(stat, ')');
	if (!tgid || !paren ||
	    sscanf(paren + 1, " %c %*s %*s %*s %*s %*s %lu", &state, &flags) != 2)
		return wd_fail("--pid %u: no such process", pid);
	if (tgid != pid)
		return wd_fail("--pid %u: %u is a thread of process %u; give the process ID %u",
			       pid, pid, tgid, tgid);
	if (state == 'Z' || state == 'X' || state == 'x')
		return wd_fail("--pid %u: process %u has exited (a zombie its parent has not "
			       "reaped); give a running process",
			       pid, pid);
	if (flags & WD_PF_KTHREAD)
		return wd_fail("--pid %u: pid %u is a kernel thread; kernel threads are "
			       "never limited",
			       pid, pid);
	return 0;
}
