/* SPDX-License-Identifier: GPL-2.0 */
/*
 * procfiles.h - opens of /proc files that carry CPU times (procfiles.c).
 */
#ifndef WD_CLOCKD_PROCFILES_H
#define WD_CLOCKD_PROCFILES_H

#include <linux/seccomp.h>
#include <linux/types.h>
#include <stdbool.h>

/* An open/openat/openat2: answers the notification itself (an fd of
 * clamped contents, or an error) and returns true, or false for
 * "continue: not a mediated file". */
bool procfile_open(int fd, const struct seccomp_notif *n, int dirfd, __u64 path, int flags);

#endif
