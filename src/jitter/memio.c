// SPDX-License-Identifier: GPL-2.0
/*
 * memio.c - a tracee's memory, read and written in one call each
 * (process_vm_readv/writev): 0, or -EFAULT as the kernel would say it.
 */
#include <errno.h>
#include <sys/uio.h>

#include "memio.h"

int mem_read(pid_t tid, __u64 addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };

	return process_vm_readv(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

int mem_write(pid_t tid, __u64 addr, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len }, r = { (void *)addr, len };

	return process_vm_writev(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}
