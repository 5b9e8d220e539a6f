/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memio.h - a tracee's memory (memio.c): 0, or -EFAULT.
 */
#ifndef WD_CLOCKD_MEMIO_H
#define WD_CLOCKD_MEMIO_H

#include <linux/types.h>
#include <stddef.h>
#include <sys/types.h>

int mem_read(pid_t tid, __u64 addr, void *buf, size_t len);
int mem_write(pid_t tid, __u64 addr, const void *buf, size_t len);

#endif
