// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_report.c - what --jitter covers, as both front ends say it
 * (ethoswd/jitter.py coverage() and features_lines()): the supervisor's
 * own table (`ethos-clockd --coverage`, src/jitter/coverage.c), read at
 * run time so that the words live in one place.
 */
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitter_report.h"

const char *wd_clockd_path(char *buf, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		snprintf(buf, len, "ethos-clockd");
		return buf;
	}
	self[n] = 0;
	snprintf(buf, len, "%s/ethos-clockd", dirname(self));
	return buf;
}

/* Split "source TAB status TAB how" into a row; false if malformed. */
static bool parse_row(char *line, struct wd_jrow *r)
{
	char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;

	if (!tab2)
		return false;
	*tab1 = *tab2 = 0;
	line[strcspn(line, "\n")] = 0;
	tab2[1 + strcspn(tab2 + 1, "\n")] = 0;
	snprintf(r->source, sizeof(r->source), "%.*s", (int)sizeof(r->source) - 1, line);
	snprintf(r->status, sizeof(r->status), "%.*s", (int)sizeof(r->status) - 1, tab1 + 1);
	snprintf(r->how, sizeof(r->how), "%.*s", (int)sizeof(r->how) - 1, tab2 + 1);
	return true;
}

int wd_clockd_coverage(struct wd_jrow *rows, int max)
{
	char path[4096], line[512];
	int fds[2], n = 0, st;
	pid_t pid;
	FILE *f;

	wd_clockd_path(path, sizeof(path));
	if (access(path, X_OK) || pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(path, path, "--coverage", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f && fgets(line, sizeof(line), f))
		if (n < max && parse_row(line, &rows[n]))
			n++;
	if (f)
		fclose(f);
	else
		close(fds[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return n;
}
