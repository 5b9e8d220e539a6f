/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stopfile.h - the state file of the processes throttle keeps stopped
 * (--state-file) and --resume-stopped (ethoswd/stopfile.py; the format
 * and the reasons are there and in docs/watchdog_guide.md, section 4).
 */
#ifndef ETHOSWD_STOPFILE_H
#define ETHOSWD_STOPFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "report.h"

struct wd_stopfile {
	const char *path;
	struct wd_stopped {
		pid_t pid;
		unsigned long long start; /* field 22 of /proc/PID/stat */
	} * v;
	int n, cap;
	bool dirty, failed;
	char warning[512];
};

/* Refuse a file that is not ours or still lists processes, then write it
 * empty: 0, or -1 with wd_fail() set. */
int wd_stopfile_open(struct wd_stopfile *f, const char *path);
void wd_stopfile_add(struct wd_stopfile *f, pid_t pid);
void wd_stopfile_remove(struct wd_stopfile *f, pid_t pid);
void wd_stopfile_clear(struct wd_stopfile *f);
/* Write the file if it changed: the warning of the first failed write of
 * a run of failures (valid until the next call), else NULL. */
const char *wd_stopfile_flush(struct wd_stopfile *f);
void wd_stopfile_free(struct wd_stopfile *f);
/* --resume-stopped PATH: resume each listed process whose start time is
 * unchanged, through a pidfd; remove the file; report.  0, or -1 with
 * wd_fail() set. */
int wd_resume_stopped(const char *path, struct wd_report *rep);

#endif /* ETHOSWD_STOPFILE_H */
