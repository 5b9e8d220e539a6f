// SPDX-License-Identifier: GPL-2.0
/*
 * procfiles.c - opens of /proc files that carry clocks.
 *
 *   /proc/PID/stat, /proc/PID/task/TID/stat   utime, stime (the CPU-time
 *       timelines of the process or thread), cutime, cstime (clamped)
 *   /proc/PID/schedstat, .../task/TID/schedstat   run time (the thread's
 *       CPU-time timeline), run-queue wait (clamped)
 *   /proc/uptime   uptime (BOOTTIME's family reading), idle (clamped)
 *   /proc/PID/sched, .../task/TID/sched   refused (EACCES): a scheduler
 *       debug file full of ns clocks (exec_start, vruntime, ...)
 *
 * The supervisor resolves the path the caller gave as the caller would
 * (its root, its working directory or its dirfd; "self" and
 * "thread-self" as the caller; symbolic links followed), opens the file
 * itself, writes the contents with the clocks clamped into a memfd and
 * installs that in the caller as the result of its open (ADDFD).  Any
 * other path goes on to the kernel unchanged (CONTINUE).  That last step
 * is racy by nature: a second thread that rewrites the path between the
 * check and the kernel's own lookup opens the real file (docs/jitter.md).
 * Contents are taken at open: a reader that seeks back and reads again
 * sees the same numbers.  They are read with the caller's file-system ids
 * and effective capabilities (as_caller): the kernel hides fields of
 * /proc/PID/stat (code, stack and data addresses, exit code) from a reader
 * that may not ptrace PID, and a tree run as another user (-u USER) must
 * not see through the supervisor what it could not see itself.
 */
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/fsuid.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clocks.h"
#include "memio.h"
#include "procfiles.h"
#include "readings.h"
#include "state.h"

#define PROC_ROOT_INO 1
#define MAX_LINKS     40

enum pfile { PF_NONE, PF_STAT, PF_SCHEDSTAT, PF_SCHED, PF_UPTIME };

static bool on_proc(int fd)
{
	struct statfs s;

	return !fstatfs(fd, &s) && s.f_type == PROC_SUPER_MAGIC;
}

static bool proc_root(int fd)
{
	struct stat st;

	return on_proc(fd) && !fstat(fd, &st) && st.st_ino == PROC_ROOT_INO;
}

/* The caller's path, NUL-terminated, a page at a time (it may end just
 * before an unmapped page).  0 or -1. */
static int read_path(pid_t tid, __u64 addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		size_t chunk = 4096 - ((addr + got) & 4095);

		if (chunk > size - got)
			chunk = size - got;
		if (mem_read(tid, addr + got, buf + got, chunk))
			return -1;
		if (memchr(buf + got, 0, chunk))
			return 0;
		got += chunk;
	}
	return -1; /* longer than PATH_MAX: the kernel says ENAMETOOLONG */
}

static int open_proc_link(pid_t tid, const char *what)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d/%s", tid, what);
	return open(p, O_PATH | O_CLOEXEC);
}

/* Resolve path from base as the caller would; an O_PATH fd, or -1. */
static int walk(int root, int base, const char *path, pid_t tgid, pid_t tid, bool nofollow)
{
	char *rest = strdup(path), *next, link[PATH_MAX];
	int cur = dup(path[0] == '/' ? root : base), links = 0;

	while (rest && cur >= 0) {
		char *c = rest, *slash;
		int nfd;
		struct stat st;

		while (*c == '/')
			c++;
		if (!*c)
			break;
		slash = strchr(c, '/');
		if (slash)
			*slash = 0;
		next = slash ? slash + 1 : c + strlen(c);
		if (!strcmp(c, ".")) {
			memmove(rest, next, strlen(next) + 1);
			continue;
		}
		if (proc_root(cur) && (!strcmp(c, "self") || !strcmp(c, "thread-self"))) {
			/* the caller's own directory, not the supervisor's */
			char *r;
			int got = c[0] == 's' ? asprintf(&r, "%d/%s", tgid, next) :
						asprintf(&r, "%d/task/%d/%s", tgid, tid, next);

			if (got < 0) {
				nfd = -1;
				goto fail;
			}
			free(rest);
			rest = r;
			continue;
		}
		nfd = openat(cur, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 || fstat(nfd, &st))
			goto fail;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			if ((!*next && nofollow) || ++links > MAX_LINKS)
				goto fail;
			if (on_proc(nfd)) { /* a magic link names its object: follow it */
				close(nfd);
				nfd = openat(cur, c, O_PATH | O_CLOEXEC);
				if (nfd < 0)
					goto fail;
			} else {
				n = readlinkat(nfd, "", link, sizeof(link) - 1);
				close(nfd);
				if (n <= 0)
					goto fail;
				link[n] = 0;
				char *r;

				if (asprintf(&r, "%s/%s", link, next) < 0)
					goto fail;
				free(rest);
				rest = r;
				if (link[0] == '/') {
					close(cur);
					cur = dup(root);
				}
				continue;
			}
		}
		close(cur);
		cur = nfd;
		memmove(rest, next, strlen(next) + 1);
		continue;
fail:
		if (nfd >= 0)
			close(nfd);
		close(cur);
		cur = -1;
	}
	free(rest);
	return cur;
}

/* Which mediated file fd is: its name and place under a procfs. */
static enum pfile identify(int fd, pid_t *pid, pid_t *tid)
{
	char self[64], path[PATH_MAX], *comp[5] = { 0 };
	struct stat st;
	ssize_t n;
	int k = 0;

	if (!on_proc(fd) || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return PF_NONE;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, path, sizeof(path) - 1);
	if (n <= 0)
		return PF_NONE;
	path[n] = 0;
	/* the last components, from the end: name, then its directories */
	for (char *p = path + n; p > path && k < 5;) {
		while (p > path && p[-1] != '/')
			p--;
		comp[k++] = p;
		if (p > path)
			*--p = 0;
	}
	if (k >= 2 && !strcmp(comp[0], "uptime"))
		return PF_UPTIME;
	if (k < 3 || !(*pid = atoi(comp[1])))
		return PF_NONE; /* /proc/stat and friends: not here */
	*tid = 0;
	if (k >= 4 && !strcmp(comp[2], "task")) {
		*tid = *pid;
		*pid = atoi(comp[3]);
		if (!*pid)
			return PF_NONE;
	}
	if (!strcmp(comp[0], "stat"))
		return PF_STAT;
	if (!strcmp(comp[0], "schedstat"))
		return PF_SCHEDSTAT;
	if (!strcmp(comp[0], "sched"))
		return PF_SCHED;
	return PF_NONE;
}

/* ---- contents ------------------------------------------------------------ */

/* The supervisor's thread while it reads for a caller: the caller's fs
 * ids and effective capabilities (setfsuid and capset act on this thread
 * only); put back by as_self. */
struct as_caller {
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct saved[2];
	uid_t fsuid;
	gid_t fsgid;
};

static int as_caller(pid_t tid, struct as_caller *s)
{
	char path[64], text[4096], *l;
	unsigned int uid[4], gid[4];
	unsigned long long eff;
	struct __user_cap_data_struct d[2];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_text(path, text, sizeof(text)) <= 0 || !(l = strstr(text, "\nUid:")) ||
	    sscanf(l, "\nUid: %u %u %u %u", &uid[0], &uid[1], &uid[2], &uid[3]) != 4 ||
	    !(l = strstr(text, "\nGid:")) ||
	    sscanf(l, "\nGid: %u %u %u %u", &gid[0], &gid[1], &gid[2], &gid[3]) != 4 ||
	    !(l = strstr(text, "\nCapEff:")) || sscanf(l, "\nCapEff: %llx", &eff) != 1)
		return -1;
	s->h = (struct __user_cap_header_struct){ .version = _LINUX_CAPABILITY_VERSION_3 };
	if (syscall(SYS_capget, &s->h, s->saved))
		return -1;
	/* the ids first: setfsuid needs CAP_SETUID, which the capset drops */
	s->fsgid = (gid_t)setfsgid(gid[3]);
	s->fsuid = (uid_t)setfsuid(uid[3]);
	memcpy(d, s->saved, sizeof(d));
	d[0].effective = (__u32)eff & d[0].permitted;
	d[1].effective = (__u32)(eff >> 32) & d[1].permitted;
	if (syscall(SYS_capset, &s->h, d)) {
		setfsuid(s->fsuid);
		setfsgid(s->fsgid);
		return -1;
	}
	return 0;
}

static void as_self(struct as_caller *s)
{
	syscall(SYS_capset, &s->h, s->saved); /* CAP_SETUID back first */
	setfsuid(s->fsuid);
	setfsgid(s->fsgid);
	syscall(SYS_capset, &s->h, s->saved); /* the fs caps, as they were */
}

static ssize_t read_all(int pathfd, char *buf, size_t size)
{
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", pathfd);
	return read_text(self, buf, size);
}

/* stat: fields 14..17 (tokens 11..14 after "pid (comm) ") replaced. */
static int stat_text(char *buf, size_t size, pid_t pid, pid_t tid)
{
	char *p = strrchr(buf, ')'), *tok[64], out[2048];
	unsigned long long k[4];
	__u64 u, s, tl;
	int n = 0, len;

	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	for (char *save, *t = strtok_r(p, " \n", &save); t && n < 64;
	     t = strtok_r(NULL, " \n", &save))
		tok[n++] = t;
	if (n < 15)
		return -1;
	for (int i = 0; i < 4; i++)
		k[i] = strtoull(tok[11 + i], NULL, 10);
	if (tid) {
		tl = WD_JT_TIMELINE(WD_JT_THREAD | 2ULL << 24, tid);
		cpu_split(tl, cpu_timeline(tl, thread_cpu_ns(task_get(tid), tid, pid)), k[0], k[1],
			  &u, &s);
	} else {
		pid = tgid_of(pid);
		tl = WD_JT_TIMELINE(WD_JT_PROCESS | 2ULL << 24, pid);
		cpu_split(tl, cpu_timeline(tl, process_cpu_ns(pid)), k[0], k[1], &u, &s);
	}
	k[0] = u / TICK_NS;
	k[1] = s / TICK_NS;
	k[2] = clamp_other(WD_JT_TIMELINE(WD_JT_CHILDREN, pid), k[2] * TICK_NS) / TICK_NS;
	k[3] = clamp_other(WD_JT_TIMELINE(WD_JT_CHILDREN | 1ULL << 24, pid), k[3] * TICK_NS) /
	       TICK_NS;
	len = snprintf(out, sizeof(out), "%.*s", (int)(p - buf), buf);
	for (int i = 0; i < n && len < (int)sizeof(out); i++) {
		if (i >= 11 && i <= 14)
			len += snprintf(out + len, sizeof(out) - len, "%s%llu", i ? " " : "",
					k[i - 11]);
		else
			len += snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", tok[i]);
	}
	if (len >= (int)sizeof(out) - 1)
		return -1;
	out[len++] = '\n';
	out[len] = 0;
	if ((size_t)len >= size)
		return -1;
	memcpy(buf, out, len + 1);
	return len;
}

static int schedstat_text(char *buf, size_t size, pid_t pid, pid_t tid)
{
	unsigned long long run, wait, slices;
	pid_t who = tid ? tid : pid;
	__u64 tl = WD_JT_TIMELINE(WD_JT_THREAD | 2ULL << 24, who);

	if (sscanf(buf, "%llu %llu %llu", &run, &wait, &slices) != 3)
		return -1;
	run = cpu_timeline(tl, run);
	wait = clamp_other(WD_JT_TIMELINE(WD_JT_WAIT, who), wait);
	return snprintf(buf, size, "%llu %llu %llu\n", run, wait, slices);
}

static int uptime_text(struct task *t, char *buf, size_t size, __u64 *due)
{
	unsigned long long us, uc, is, ic;
	__u64 up, idle;

	if (sscanf(buf, "%llu.%llu %llu.%llu", &us, &uc, &is, &ic) != 4)
		return -1;
	family_read(t, CLOCK_BOOTTIME, &up, due);
	idle = clamp_other(WD_JT_IDLE, (is * 100 + ic) * TICK_NS) / TICK_NS;
	up /= TICK_NS;
	return snprintf(buf, size, "%llu.%02llu %llu.%02llu\n", (unsigned long long)(up / 100),
			(unsigned long long)(up % 100), (unsigned long long)(idle / 100),
			(unsigned long long)(idle % 100));
}

/* A read-only descriptor of a memfd holding text. */
static int memfd_of(const char *text, int len)
{
	char self[64];
	int m = memfd_create("ethos-clockd", MFD_CLOEXEC), fd;

	if (m < 0)
		return -1;
	if (write(m, text, len) != len) {
		close(m);
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", m);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	close(m);
	return fd;
}

static void answer(int nfd, const struct seccomp_notif *n, int err)
{
	struct seccomp_notif_resp r = { .id = n->id, .error = err };

	ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* Install fd in the caller as its open's result (at `due` under pause). */
static void install(int nfd, const struct seccomp_notif *n, int fd, int flags, __u64 due)
{
	struct seccomp_notif_addfd a = { .id = n->id,
					 .srcfd = (__u32)fd,
					 .newfd_flags = (__u32)(flags & O_CLOEXEC) };
	int got;

	if (!due)
		a.flags = SECCOMP_ADDFD_FLAG_SEND;
	got = ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
	if (got >= 0 && due) {
		struct hold h = {
			.due = due, .notif = true, .id = n->id, .val = got, .tid = (pid_t)n->pid
		};

		hold_add(&h);
	} else if (got < 0 && errno != ENOENT) {
		answer(nfd, n, -errno);
	}
}

bool procfile_open(int nfd, const struct seccomp_notif *n, int dirfd, __u64 addr, int flags)
{
	static char path[PATH_MAX], text[8192];
	pid_t tid = (pid_t)n->pid, tgid = tgid_of(tid), fpid = 0, ftid = 0;
	struct open_how how = { .flags = O_PATH | O_CLOEXEC | (flags & O_NOFOLLOW),
				.resolve = RESOLVE_NO_MAGICLINKS };
	int root, base, fd, len = -1, mfd;
	struct as_caller ids;
	ssize_t got;
	enum pfile kind;
	__u64 due = 0;
	char at[32];

	if (read_path(tid, addr, path, sizeof(path)) || !path[0])
		return false;
	/* an absolute path starts at the caller's root, a relative one at its
	 * working directory or dirfd; the root is needed for the slow walk */
	snprintf(at, sizeof(at), "fd/%d", dirfd);
	base = open_proc_link(tid, path[0] == '/' ? "root" : dirfd == AT_FDCWD ? "cwd" : at);
	if (base < 0)
		return false;
	if (path[0] == '/')
		how.resolve |= RESOLVE_IN_ROOT;
	/* Fast: the kernel resolves it (no magic links, so "self" cannot
	 * lead out of /proc); only a result on procfs needs the slow walk. */
	fd = (int)syscall(SYS_openat2, base, path, &how, sizeof(how));
	if (fd >= 0 && !on_proc(fd)) {
		close(fd);
		fd = -1;
	} else if (fd >= 0 || errno == ELOOP) {
		if (fd >= 0)
			close(fd);
		root = path[0] == '/' ? dup(base) : open_proc_link(tid, "root");
		fd = root >= 0 ? walk(root, base, path, tgid, tid, flags & O_NOFOLLOW) : -1;
		if (root >= 0)
			close(root);
	}
	close(base);
	kind = fd >= 0 ? identify(fd, &fpid, &ftid) : PF_NONE;
	/* the caller may have died and its TID been reused meanwhile */
	if (kind != PF_NONE && ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id))
		kind = PF_NONE;
	if (kind == PF_NONE) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	cd.n.procfile++;
	if (kind == PF_SCHED || (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))) {
		close(fd);
		answer(nfd, n, -EACCES);
		return true;
	}
	if (as_caller(tid, &ids)) {
		close(fd);
		answer(nfd, n, -EACCES); /* never the raw file */
		return true;
	}
	got = read_all(fd, text, sizeof(text));
	as_self(&ids);
	if (got > 0) {
		if (kind == PF_STAT)
			len = stat_text(text, sizeof(text), fpid, ftid);
		else if (kind == PF_SCHEDSTAT)
			len = schedstat_text(text, sizeof(text), fpid, ftid);
		else
			len = uptime_text(task_get(tid), text, sizeof(text), &due);
	}
	close(fd);
	mfd = len > 0 ? memfd_of(text, len) : -1;
	if (mfd < 0) {
		answer(nfd, n, -EACCES); /* never the raw file */
		return true;
	}
	install(nfd, n, mfd, flags, due);
	close(mfd);
	return true;
}
