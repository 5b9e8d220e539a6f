/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel_read.h - read the few kernel structures the probe needs, by byte
 * offsets taken from the running kernel's BTF.
 *
 * Under BCC the probe includes no kernel header (BCC's compile time is
 * most of the start-up), so it does not know struct layouts: watchdog.py
 * reads the offsets of the members below from /sys/kernel/btf/vmlinux and
 * passes them in as -DWD_OFF_<STRUCT>_<MEMBER>=N.  Under libbpf the same
 * names are CO-RE field offsets, relocated at load (compat.h).  Two ways
 * to read:
 *
 * - wd_btf(): a plain load through a pointer the verifier knows by its BTF
 *   type (bpf_get_current_task_btf() and the struct pointers loaded from
 *   it).  The verifier checks each offset against the kernel's BTF, gives
 *   the loaded pointer its member's type, and turns the load into an
 *   exception-handled one (a NULL or stale pointer reads as 0).  Several
 *   times cheaper than a helper call.
 * - wd_peek(): bpf_probe_read_kernel(), for pointers the verifier cannot
 *   type: an element of the fd array (a pointer to pointers is a scalar to
 *   it) and, on kernels without bpf_rdonly_cast, everything reached from
 *   one.  Where the kernel has it (WD_TYPED_FILE), the element is cast to
 *   a struct file pointer and its members are typed loads too: one helper
 *   call per class check instead of four.
 *
 * An accessor only appears in code a run's settings keep, so a kernel
 * without BTF can still run the plain per-process rule.
 */
#ifndef WD_KERNEL_READ_H
#define WD_KERNEL_READ_H

#include "compat.h"

/* Read one kernel word at base + off; 0 if the read faults. */
static __always_inline __u64 wd_peek(const void *base, __u64 off)
{
	__u64 val = 0;

	/* probe_read_kernel validates the address, so any pointer value
	 * (even NULL or a freed one) is safe to pass to it. */
	bpf_probe_read_kernel(&val, sizeof(val), (const char *)base + off);
	return val;
}

/* A load of `type` at byte `off` of a BTF-typed kernel pointer (see above). */
#define wd_btf(type, base, off) (*(type *)((const char *)(base) + (off)))

/* bpf_rdonly_cast(obj, btf_id), called by the number WD_CAST_MARK that
 * the front end rewrites into the kfunc call before the load (see
 * watchdog_map.h).  Only reached when WD_TYPED_FILE, a constant of the
 * load (a -D switch under BCC, read-only data under libbpf): otherwise the
 * verifier drops the call as dead code and never looks up its number. */
static void *(*wd_rdonly_cast)(const void *obj, __u32 btf_id) = (void *)WD_CAST_MARK;

/* A struct file address as the verifier's typed pointer: its members and
 * what they point to are then plain (exception-handled) loads.  The
 * result is untrusted and read-only: a stale pointer reads as zeros. */
static __always_inline const char *wd_typed_file(const void *file)
{
	return wd_rdonly_cast(file, WD_FILE_BTF_ID);
}

/* file->f_inode by typed loads (WD_TYPED_FILE only). */
static __always_inline const char *wd_typed_inode(const void *file)
{
	return wd_btf(const char *, wd_typed_file(file), WD_OFF_FILE_F_INODE);
}

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
	const void *inode;

	if (WD_TYPED_FILE) {
		const char *in = wd_typed_inode(file);

		out->dev =
			wd_btf(__u32, wd_btf(const char *, in, WD_OFF_INODE_I_SB), WD_OFF_SB_S_DEV);
		out->ino = wd_btf(__u64, in, WD_OFF_INODE_I_INO);
		return;
	}
	inode = wd_file_inode(file);
	/* s_dev is a 32-bit dev_t; the word read also holds its neighbour. */
	out->dev = (__u32)wd_peek(wd_inode_sb(inode), WD_OFF_SB_S_DEV);
	out->ino = wd_peek(inode, WD_OFF_INODE_I_INO);
}

/*
 * The open file behind descriptor `fd` of the current task, or NULL:
 * task->files->fdt->fd[fd], bounded by fdt->max_fds.  The fd table is
 * RCU-protected; a tracepoint or kprobe at syscall entry runs in the
 * caller's own context, where the table cannot be freed under it, and a
 * racing close() at worst makes us read a file the call will not use.
 */
static __always_inline const void *wd_fd_file(__u64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	/* task->files and files->fdt are struct pointers: typed loads. */
	const char *files = wd_btf(const char *, task, WD_OFF_TASK_FILES);
	const char *fdt = wd_btf(const char *, files, WD_OFF_FILES_FDT);

	if (fd >= wd_btf(unsigned int, fdt, WD_OFF_FDT_MAX_FDS))
		return NULL; /* not open: the call fails with EBADF */
	/* fdt->fd is a `struct file **`: the verifier treats it as a number,
	 * so the element is read with the helper. */
	__u64 fds = wd_btf(__u64, fdt, WD_OFF_FDT_FD);

	return (const void *)wd_peek((const void *)fds, fd * sizeof(__u64));
}

/* The magic number of the filesystem a file is on (PROC_SUPER_MAGIC...). */
static __always_inline __u64 wd_file_magic(const void *file)
{
	if (WD_TYPED_FILE) {
		const char *inode = wd_typed_inode(file);

		return wd_btf(__u64, wd_btf(const char *, inode, WD_OFF_INODE_I_SB),
			      WD_OFF_SB_S_MAGIC);
	}
	return wd_peek(wd_inode_sb(wd_file_inode(file)), WD_OFF_SB_S_MAGIC);
}

/* The (device, inode) of the current process's executable:
 * task->mm->exe_file->f_inode, and its i_sb: all struct pointers, so all
 * typed loads.  0 if it has no mm (a kernel thread) or no exe_file. */
static __always_inline int wd_exe_id(struct wd_file *out)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const char *mm = wd_btf(const char *, task, WD_OFF_TASK_MM);
	const char *exe, *inode;

	if (!mm)
		return 0;
	exe = wd_btf(const char *, mm, WD_OFF_MM_EXE_FILE);
	if (!exe)
		return 0;
	inode = wd_btf(const char *, exe, WD_OFF_FILE_F_INODE);
	out->dev = wd_btf(__u32, wd_btf(const char *, inode, WD_OFF_INODE_I_SB), WD_OFF_SB_S_DEV);
	out->ino = wd_btf(__u64, inode, WD_OFF_INODE_I_INO);
	return 1;
}

#endif /* WD_KERNEL_READ_H */
