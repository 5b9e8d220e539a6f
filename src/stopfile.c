// SPDX-License-Identifier: GPL-2.0
/*
 * stopfile.c - the state file of the processes throttle keeps stopped
 * (--state-file) and --resume-stopped (ethoswd/stopfile.py, word for word).
 *
 * The guardian resumes stopped processes if the watchdog dies, but a
 * service manager that kills the whole unit kills the guardian with it.
 * So the watchdog also keeps the set in a file, replaced atomically
 * (written aside, then renamed) at each change, and the unit's
 * ExecStopPost runs `ethoswd --resume-stopped FILE`.  Format: a line
 * "ethoswd-stopped 1", then "PID STARTTIME" per process, STARTTIME being
 * field 22 of /proc/PID/stat when it was stopped.  A process is signalled
 * through a pidfd, and only if its start time is the one listed, so a
 * reused PID is never resumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "report.h"
#include "text.h"
#include "stopfile.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define HEADER	"ethoswd-stopped 1"
#define PID_MAX 4194304 /* the kernel's PID_MAX_LIMIT */

/* Field 22 of /proc/PID/stat, read after the command name (which may hold
 * spaces and parentheses); false if there is no such process. */
static bool start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return false;
	p += 2; /* field 3, the state */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	*out = strtoull(p, NULL, 10);
	return true;
}

/* ---- reading ------------------------------------------------------------ */

/* Decimal digits only, at most 20 of them, as stopfile.py accepts. */
static bool number(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!len || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (~0ULL - (s[i] - '0')) / 10)
			return false; /* 2^64 or more */
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* The (PID, start time) pairs of a state file into *v (malloc'ed): the
 * count, 0 if there is no file, -1 with wd_fail() set.  Lines as Python's
 * bytes.split(b"\n") makes them, one trailing empty line dropped. */
static int entries(const char *path, const char *option, struct wd_stopped **v)
{
	struct wd_buf b = { 0 };
	char chunk[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0, lineno = 1, err;
	const char *p, *end, *nl;
	ssize_t got;

	*v = NULL;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return wd_fail("%s %s: cannot read it: %s", option, path, strerror(errno));
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		wb_putn(&b, chunk, (size_t)got);
	err = errno;
	close(fd);
	if (got < 0) {
		free(b.p);
		return wd_fail("%s %s: cannot read it: %s", option, path, strerror(err));
	}
	p = b.p ? b.p : "";
	end = p + b.len;
	nl = memchr(p, '\n', b.len);
	if (!b.len || (size_t)((nl ? nl : end) - p) != strlen(HEADER) ||
	    memcmp(p, HEADER, strlen(HEADER))) {
		free(b.p);
		return wd_fail("%s %s: not a state file of this watchdog (its first line is not "
			       "'%s')",
			       option, path, HEADER);
	}
	for (p = nl ? nl + 1 : end; p < end; p = nl ? nl + 1 : end) {
		unsigned long long pid, start;
		const char *sp, *eol;

		lineno++;
		nl = memchr(p, '\n', end - p);
		eol = nl ? nl : end;
		sp = memchr(p, ' ', eol - p);
		if (!sp || !number(p, sp - p, &pid) || !number(sp + 1, eol - sp - 1, &start) ||
		    pid == 0 || pid > PID_MAX) {
			free(b.p);
			free(*v);
			*v = NULL;
			return wd_fail("%s %s: line %d is not 'PID STARTTIME'", option, path,
				       lineno);
		}
		*v = wd_xrealloc(*v, (n + 1) * sizeof(**v));
		(*v)[n++] = (struct wd_stopped){ (pid_t)pid, start };
	}
	free(b.p);
	return n;
}

/* ---- the file the watchdog keeps ---------------------------------------- */

static int write_file(struct wd_stopfile *f)
{
	struct wd_buf b = { 0 };
	char tmp[4096];
	int fd, err = 0;

	wb_puts(&b, HEADER "\n");
	for (int i = 0; i < f->n; i++)
		wb_printf(&b, "%d %llu\n", (int)f->v[i].pid, f->v[i].start);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.p, b.len) != (ssize_t)b.len)
		err = errno ? errno : EIO;
	if (fd >= 0 && close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, f->path))
		err = errno;
	free(b.p);
	return err;
}

int wd_stopfile_open(struct wd_stopfile *f, const char *path)
{
	struct wd_stopped *old;
	int n, err;

	memset(f, 0, sizeof(*f));
	f->path = path;
	/* Never overwrite another file, or a list an earlier run left. */
	n = entries(path, "--state-file", &old);
	free(old);
	if (n < 0)
		return -1;
	if (n > 0)
		return wd_fail("--state-file %s lists processes an earlier run left stopped: run "
			       "--resume-stopped %s first",
			       path, path);
	err = write_file(f);
	if (err)
		return wd_fail("--state-file %s: cannot write it: %s", path, strerror(err));
	return 0;
}

static int find(const struct wd_stopfile *f, pid_t pid)
{
	for (int i = 0; i < f->n; i++)
		if (f->v[i].pid == pid)
			return i;
	return -1;
}

void wd_stopfile_add(struct wd_stopfile *f, pid_t pid)
{
	unsigned long long start;
	int i = find(f, pid);

	if (!start_time(pid, &start) || (i >= 0 && f->v[i].start == start))
		return;
	if (i < 0) {
		if (f->n == f->cap) {
			f->cap = f->cap ? 2 * f->cap : 16;
			f->v = wd_xrealloc(f->v, f->cap * sizeof(*f->v));
		}
		i = f->n++;
	}
	f->v[i] = (struct wd_stopped){ pid, start };
	f->dirty = true;
}

void wd_stopfile_remove(struct wd_stopfile *f, pid_t pid)
{
	int i = find(f, pid);

	if (i < 0)
		return;
	f->v[i] = f->v[--f->n];
	f->dirty = true;
}

void wd_stopfile_clear(struct wd_stopfile *f)
{
	f->dirty |= f->n > 0;
	f->n = 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct wd_stopped *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

const char *wd_stopfile_flush(struct wd_stopfile *f)
{
	bool first = !f->failed;
	int err;

	if (!f->dirty)
		return NULL;
	/* Sorted by PID, as stopfile.py writes it. */
	qsort(f->v, f->n, sizeof(*f->v), by_pid);
	err = write_file(f);
	if (!err) {
		f->dirty = f->failed = false;
		return NULL;
	}
	f->failed = true;
	if (!first)
		return NULL;
	snprintf(f->warning, sizeof(f->warning),
		 "cannot write the state file %s: %s; processes stopped now are not resumed by "
		 "--resume-stopped if the watchdog is killed",
		 f->path, strerror(err));
	return f->warning;
}

void wd_stopfile_free(struct wd_stopfile *f)
{
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

/* ---- --resume-stopped --------------------------------------------------- */

/* Resume pid if it still starts at `start`: signalled through a pidfd, so
 * a PID reused after the pidfd was opened reads another start time. */
static bool resume_one(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool done = false;

	if (pidfd < 0)
		return false;
	if (start_time(pid, &now) && now == start)
		done = syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0) == 0;
	close(pidfd);
	return done;
}

int wd_resume_stopped(const char *path, struct wd_report *rep)
{
	struct wd_stopped *v;
	struct wd_jarr *resumed = wja_new(), *skipped = wja_new();
	struct wd_json *rec;
	int n = entries(path, "--resume-stopped", &v), nres = 0;

	if (n < 0) {
		free(wja_end(resumed));
		free(wja_end(skipped));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		bool ok = resume_one(v[i].pid, v[i].start);

		wja_u64(ok ? resumed : skipped, v[i].pid);
		nres += ok;
	}
	free(v);
	unlink(path);
	rec = wj_new();
	wj_str(rec, "event", "resume");
	wj_str(rec, "file", path);
	wj_take(rec, "resumed", wja_end(resumed));
	wj_take(rec, "skipped", wja_end(skipped));
	wd_info(rep, rec,
		"resumed %d of %d processes listed in %s; %d skipped (gone, or the PID is "
		"another process's now)",
		nres, n, path, n - nres);
	return 0;
}
