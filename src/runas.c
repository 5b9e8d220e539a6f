// SPDX-License-Identifier: GPL-2.0
/*
 * runas.c - who runs `-- CMD` and which file it is (ethoswd/runas.py):
 * -u USER, the PATH search, and the launched child's last steps before
 * exec.
 *
 * wd_user_lookup() turns -u USER (a name or a numeric UID of the user
 * database) into the user's UID, primary GID and supplementary groups, as
 * initgroups() would set them.  wd_command_resolve() finds the file
 * execvp() would run, searching PATH as the user who will run it, and
 * refuses a file the kernel cannot run (execvp() would hand it to
 * /bin/sh; the watchdog never does).  It runs in the launched child before
 * the gate (launch.c), so a bad command is one line and exit 2 before
 * anything attaches.  wd_pre_exec() is everything the child does between
 * the gate and exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "runas.h"
#include "text.h"

/* glibc's search path when PATH is unset (confstr(_CS_PATH)). */
#define DEFAULT_PATH "/bin:/usr/bin"
#define BINFMT_MISC  "/proc/sys/fs/binfmt_misc"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int wd_user_lookup(const char *text, struct wd_user *u)
{
	struct passwd *pw = NULL;
	int n = 64;
	char *r;

	errno = 0;
	if (all_digits(text)) {
		char *end;
		unsigned long long v = strtoull(text, &end, 10);

		if (!errno && v <= 0xffffffffULL)
			pw = getpwuid((uid_t)v);
	} else {
		pw = getpwnam(text);
	}
	if (!pw) {
		r = wd_repr_dup(text);
		wd_fail("-u/--user %s: no such user (give a user name or UID from the user "
			"database)",
			r);
		free(r);
		return -1;
	}
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	/* getgrouplist() says how many it needs when the list is too short. */
	for (;;) {
		int got = n;

		u->groups = wd_xrealloc(u->groups, n * sizeof(gid_t));
		if (getgrouplist(u->name, u->gid, u->groups, &got) >= 0) {
			u->ngroups = got;
			break;
		}
		n = got > n ? got : 2 * n;
	}
	u->set = true;
	return 0;
}

void wd_user_free(struct wd_user *u)
{
	free(u->groups);
	u->groups = NULL;
	u->ngroups = 0;
	u->set = false;
}

/* ---- the PATH search ------------------------------------------------------ */

/* Why `path` cannot be executed by the current effective ids (0: it can);
 * the errno that decides whether the search goes on, and the words. */
static int problem(const char *path, const struct wd_user *u, char *why, size_t len)
{
	struct stat st;

	if (stat(path, &st)) {
		int err = errno;

		snprintf(why, len, ": %s", strerror(err));
		return err;
	}
	if (S_ISDIR(st.st_mode))
		return snprintf(why, len, " is a directory"), EACCES;
	if (!S_ISREG(st.st_mode))
		return snprintf(why, len, " is not a regular file"), EACCES;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS)) {
		snprintf(why, len, " is not executable%s%s", u ? " by user " : "",
			 u ? u->name : "");
		return EACCES;
	}
	return 0;
}

/* The file to run (in out), or -1 with the refusal in msg: the first
 * candidate that exists but cannot be run (execvp reports EACCES), else
 * not found. */
static int search(const char *file, const struct wd_user *u, char *out, size_t outlen, char *msg,
		  size_t msglen)
{
	const char *env = getenv("PATH"), *p, *end;
	char why[512];
	bool denied = false;
	int err;

	if (!*file) {
		snprintf(msg, msglen, "-- '': an empty command name");
		return -1;
	}
	if (strchr(file, '/')) {
		snprintf(out, outlen, "%s", file);
		err = problem(file, u, why, sizeof(why));
		if (err)
			snprintf(msg, msglen, "-- %s%s", file, why);
		return err ? -1 : 0;
	}
	for (p = env ? env : DEFAULT_PATH;; p = end + 1) {
		end = strchrnul(p, ':');
		/* An empty element is the current directory, as for execvp(). */
		if (end == p)
			snprintf(out, outlen, "%s", file);
		else
			snprintf(out, outlen, "%.*s/%s", (int)(end - p), p, file);
		err = problem(out, u, why, sizeof(why));
		if (!err)
			return 0;
		if (err == EACCES && !denied) {
			snprintf(msg, msglen, "-- %s%s", out, why);
			denied = true;
		}
		if (!*end)
			break;
	}
	if (!denied)
		snprintf(msg, msglen, "-- %s: command not found in PATH", file);
	return -1;
}

/* fn() with the user's effective ids: only the effective ones, so the
 * real and saved ids stay root and the caller gets its own back. */
static int as_user(const struct wd_user *u, const char *file, char *out, size_t outlen, char *msg,
		   size_t msglen)
{
	gid_t *saved;
	int n, rc;

	if (!u || !u->set)
		return search(file, NULL, out, outlen, msg, msglen);
	n = getgroups(0, NULL);
	saved = wd_xmalloc((n > 0 ? n : 1) * sizeof(gid_t));
	n = getgroups(n, saved);
	if (n < 0 || setgroups(u->ngroups, u->groups) || setresgid(-1, u->gid, -1) ||
	    setresuid(-1, u->uid, -1)) {
		snprintf(msg, msglen, "cannot take the ids of user %s to check -- %s: %s", u->name,
			 file, strerror(errno));
		free(saved);
		return -1;
	}
	rc = search(file, u, out, outlen, msg, msglen);
	if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1) || setgroups(n, saved))
		rc = -1, snprintf(msg, msglen, "cannot take back root's ids: %s", strerror(errno));
	free(saved);
	return rc;
}

/* binfmt_misc formats the kernel may run besides ELF and #!. */
static bool handlers_registered(void)
{
	DIR *d = opendir(BINFMT_MISC);
	struct dirent *de;
	bool any = false;

	while (d && !any && (de = readdir(d)))
		any = de->d_name[0] != '.' && strcmp(de->d_name, "register") &&
		      strcmp(de->d_name, "status");
	if (d)
		closedir(d);
	return any;
}

static bool runnable_format(const char *path)
{
	unsigned char head[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return true; /* cannot tell: let exec decide */
	n = read(fd, head, sizeof(head));
	close(fd);
	if ((n >= 2 && head[0] == '#' && head[1] == '!') || (n == 4 && !memcmp(head,
									       "\x7f"
									       "ELF",
									       4)))
		return true;
	return handlers_registered();
}

int wd_command_resolve(const char *file, const struct wd_user *u, char *out, size_t outlen,
		       char *msg, size_t msglen)
{
	if (as_user(u, file, out, outlen, msg, msglen))
		return -1;
	if (!runnable_format(out)) {
		snprintf(msg, msglen,
			 "-- %s is neither an ELF executable nor a #! script: the kernel cannot "
			 "run it, and the watchdog does not run it through /bin/sh",
			 out);
		return -1;
	}
	return 0;
}

/* ---- between the gate and exec -------------------------------------------- */

/* A watchdog run by a user with ambient capabilities (CAP_BPF, ...) must
 * not hand them to the command it limits: clear the ambient set, and the
 * inheritable one that a file's inheritable capabilities would match. */
static void drop_inheritable_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capget, &h, d) == 0) {
		d[0].inheritable = d[1].inheritable = 0;
		syscall(SYS_capset, &h, d);
	}
}

int wd_pre_exec(const struct wd_user *u)
{
	struct sigaction sa;
	sigset_t none;

	/* The command gets a clean slate: default dispositions (ethoswd's
	 * handlers and ignored signals, SIGINT and SIGTERM above all, must not
	 * carry over) and no blocked signals. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	drop_inheritable_caps();
	if (!u || !u->set)
		return 0;
	/* -u: the groups, then the GID (it cannot change once the UID has),
	 * then the UID: real, effective and saved, so there is no way back. */
	if (setgroups(u->ngroups, u->groups) || setresgid(u->gid, u->gid, u->gid) ||
	    setresuid(u->uid, u->uid, u->uid))
		return -1;
	return 0;
}
