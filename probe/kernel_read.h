/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel_read.h - read the few kernel structures the probe needs, by byte
 * offsets taken from the running kernel's BTF.
 *
 * The probe includes no kernel header (BCC's compile time is most of the
 * start-up), so it does not know struct layouts.  The front end reads the
 * offsets of the members below from /sys/kernel/btf/vmlinux and passes
 * them in as -DWD_OFF_<STRUCT>_<MEMBER>=N; every read goes through
 * bpf_probe_read_kernel(), which checks the address itself, so a stale or
 * NULL pointer yields 0 instead of a fault.  Each accessor is compiled
 * only when the switch that needs it is set, so a kernel without BTF can
 * still run the plain per-process rule.
 */
#ifndef WD_KERNEL_READ_H
#define WD_KERNEL_READ_H

#include "watchdog_map.h"

/* Read one kernel word at base + off; 0 if the read faults. */
static __always_inline __u64 wd_peek(const void *base, __u64 off)
{
	__u64 val = 0;

	/* probe_read_kernel validates the address, so any pointer value
	 * (even NULL or a freed one) is safe to pass to it. */
	bpf_probe_read_kernel(&val, sizeof(val), (const char *)base + off);
	return val;
}

#if defined(WD_COUNT_FS) || defined(WD_COUNT_FILES) || defined(WD_EXCLUDE_EXE)
/* The superblock and inode of a struct file. */
static __always_inline const void *wd_file_inode(const void *file)
{
	return (const void *)wd_peek(file, WD_OFF_FILE_F_INODE);
}

static __always_inline const void *wd_inode_sb(const void *inode)
{
	return (const void *)wd_peek(inode, WD_OFF_INODE_I_SB);
}

/* The (device, inode) pair of a file, numbered as stat() shows it on
 * block and memory filesystems: sb->s_dev and inode->i_ino. */
static __always_inline void wd_file_id(const void *file, struct wd_file *out)
{
	const void *inode = wd_file_inode(file);

	/* s_dev is a 32-bit dev_t; the word read also holds its neighbour. */
	out->dev = (__u32)wd_peek(wd_inode_sb(inode), WD_OFF_SB_S_DEV);
	out->ino = wd_peek(inode, WD_OFF_INODE_I_INO);
}
#endif

#if defined(WD_COUNT_FS) || defined(WD_COUNT_FILES)
/*
 * The open file behind descriptor `fd` of the current task, or NULL:
 * task->files->fdt->fd[fd], bounded by fdt->max_fds.  The fd table is
 * RCU-protected; a tracepoint or kprobe at syscall entry runs in the
 * caller's own context, where the table cannot be freed under it, and a
 * racing close() at worst makes us read a file the call will not use.
 */
static __always_inline const void *wd_fd_file(__u64 fd)
{
	const void *task = (const void *)bpf_get_current_task();
	const void *files = (const void *)wd_peek(task, WD_OFF_TASK_FILES);
	const void *fdt = (const void *)wd_peek(files, WD_OFF_FILES_FDT);

	/* max_fds is an unsigned int: keep the low half of the word. */
	if (fd >= (__u32)wd_peek(fdt, WD_OFF_FDT_MAX_FDS))
		return NULL;	/* not open: the call fails with EBADF */
	const void *fds = (const void *)wd_peek(fdt, WD_OFF_FDT_FD);

	return (const void *)wd_peek(fds, fd * sizeof(__u64));
}

/* The magic number of the filesystem a file is on (PROC_SUPER_MAGIC...). */
static __always_inline __u64 wd_file_magic(const void *file)
{
	return wd_peek(wd_inode_sb(wd_file_inode(file)), WD_OFF_SB_S_MAGIC);
}
#endif

#ifdef WD_EXCLUDE_EXE
/* The (device, inode) of the current process's executable:
 * task->mm->exe_file.  0 if it has no mm (a kernel thread). */
static __always_inline int wd_exe_id(struct wd_file *out)
{
	const void *task = (const void *)bpf_get_current_task();
	const void *mm = (const void *)wd_peek(task, WD_OFF_TASK_MM);
	const void *exe;

	if (!mm)
		return 0;
	exe = (const void *)wd_peek(mm, WD_OFF_MM_EXE_FILE);
	if (!exe)
		return 0;
	wd_file_id(exe, out);
	return 1;
}
#endif

#endif /* WD_KERNEL_READ_H */
