/* SPDX-License-Identifier: GPL-2.0 */
/*
 * notify.h - system calls answered in full through seccomp notifications (notify.c).
 */
#ifndef WD_CLOCKD_NOTIFY_H
#define WD_CLOCKD_NOTIFY_H

void notify_handle(int fd);

#endif
