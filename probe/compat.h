/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - the thin layer that lets one probe source build two ways:
 *
 *   BCC     watchdog.py compiles watchdog.bpf.c at every start; each
 *           setting is a -D switch, so the compiler drops what a run does
 *           not use.
 *   libbpf  `make ethoswd` compiles it once with clang (-DWD_LIBBPF) into a
 *           CO-RE object; the settings are load-time constants in .rodata
 *           (struct wd_settings, set by ethoswd before the load), and the
 *           verifier drops what a run does not use, since it knows the
 *           values of a frozen read-only map.  The limit and the window
 *           (struct wd_config: max_calls, window_ms) stay in the
 *           config map, tunable while running.
 *
 * The policy (limiter.h) and the shims (watchdog.bpf.c) use only what is
 * defined here:
 *
 *   WD_ACTION, WD_KEY, WD_SELF_TGID, WD_GUARD_TGID    numbers
 *   WD_ON_TARGETS, WD_ON_COMM_IN, WD_ON_COMM_OUT,      0 or 1
 *   WD_ON_EXCLUDE_EXE, WD_ON_COUNT_FS, WD_ON_COUNT_FILES
 *   WD_TYPED_FILE, WD_FILE_BTF_ID  0/1 and struct file's BTF id (kernel_read.h)
 *   WD_BUILD(cond)     "compile this program or map in": cond under BCC
 *                      (a preprocessor constant there), 1 under libbpf,
 *                      where ethoswd loads only the programs a run needs
 *   WD_SIZE(on, n)     a map's entries: 1 when unused under BCC; n under
 *                      libbpf (ethoswd resizes unused maps before the load)
 *   WD_SEC(name)       the program's ELF section (libbpf only)
 *   WD_DYN_HASH(...)   a hash map whose entries are allocated as they are
 *                      made (BPF_F_NO_PREALLOC): the budget maps may
 *                      hold 65536 entries, and preallocating them costs
 *                      4 ms at every start on the host and 70-85 ms in a
 *                      TCG guest.  Tracing programs may use such maps
 *                      from Linux 6.1 (bpf_mem_alloc); an insert that
 *                      finds no memory fails like a full map and is
 *                      counted (WD_H_MAP_FULL).
 *   wd_lookup(map, key), wd_update(map, key, val), wd_insert(map, key, val)
 *   wd_delete(map, key), wd_rb_reserve(ring, size), wd_rb_submit(ring, p, 0)
 *
 * BCC only rewrites map calls written as methods (m.lookup(k)), and not
 * inside macros, so under BCC the wd_lookup(...) family is not defined
 * here: ethoswd/probe.py source_text() turns each into its method form
 * (wd_lookup(m, k) -> m.lookup(k)) before compiling.  A call it missed is
 * a compile error, never a silent change.
 */
#ifndef WD_COMPAT_H
#define WD_COMPAT_H

#ifdef WD_LIBBPF
/* vmlinux.h: generated from the build machine's BTF (Makefile). */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#endif
#include "watchdog_map.h"

#ifdef WD_LIBBPF
char LICENSE[] SEC("license") = "GPL";

/* Every backend and route is in the object; ethoswd chooses what loads. */
#define WD_BACKEND_KPROBE
#define WD_BACKEND_LSM
#define WD_BACKEND_TRACEPOINT
#define WD_URING

/* Set by ethoswd in the skeleton's rodata before the load. */
const volatile struct wd_settings wd_set = {};

#define WD_ACTION	  (wd_set.action)
#define WD_KEY		  (wd_set.key)
#define WD_SELF_TGID	  (wd_set.self_tgid)
#define WD_GUARD_TGID	  (wd_set.guard_tgid)
#define WD_ON_TARGETS	  (wd_set.targets)
#define WD_ON_COMM_IN	  (wd_set.comm_in)
#define WD_ON_COMM_OUT	  (wd_set.comm_out)
#define WD_ON_EXCLUDE_EXE (wd_set.exclude_exe)
#define WD_ON_COUNT_FS	  (wd_set.count_fs)
#define WD_ON_COUNT_FILES (wd_set.count_files)
#define WD_TYPED_FILE	  (wd_set.typed_file)
#define WD_FILE_BTF_ID	  (wd_set.file_btf_id)
#define WD_BUILD(cond)	  1
#define WD_SIZE(on, n)	  (n)
#define WD_SEC(name)	  SEC(name)

#include "libbpf_maps.h"
#define BPF_HASH(name, k, v, n)		WD_MAP(BPF_MAP_TYPE_HASH, name, k, v, n)
#define WD_DYN_HASH(name, k, v, n)	WD_MAP_F(BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, name, k, v, n)
#define WD_LRU_HASH(name, k, v, n)	WD_MAP(BPF_MAP_TYPE_LRU_HASH, name, k, v, n)
#define BPF_ARRAY(name, v, n)		WD_MAP(BPF_MAP_TYPE_ARRAY, name, int, v, n)
#define BPF_PERCPU_ARRAY(name, v, n)	WD_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, name, int, v, n)
/* BCC sizes a ring buffer in pages. */
#define BPF_RINGBUF_OUTPUT(name, pages) WD_RINGBUF_PAGES(name, pages)

/* Struct offsets by CO-RE: each is relocated to the running kernel's
 * layout when ethoswd loads the object (kernel_read.h says how they are
 * used).  Under BCC the front end passes the same names as -D numbers. */
#define WD_OFF_TASK_FILES	  bpf_core_field_offset(struct task_struct, files)
#define WD_OFF_TASK_MM		  bpf_core_field_offset(struct task_struct, mm)
#define WD_OFF_TASK_FLAGS	  bpf_core_field_offset(struct task_struct, flags)
#define WD_OFF_FILES_FDT	  bpf_core_field_offset(struct files_struct, fdt)
#define WD_OFF_FDT_MAX_FDS	  bpf_core_field_offset(struct fdtable, max_fds)
#define WD_OFF_FDT_FD		  bpf_core_field_offset(struct fdtable, fd)
#define WD_OFF_FILE_F_INODE	  bpf_core_field_offset(struct file, f_inode)
#define WD_OFF_FILE_F_PATH_DENTRY bpf_core_field_offset(struct file, f_path.dentry)
#define WD_OFF_DENTRY_D_INODE	  bpf_core_field_offset(struct dentry, d_inode)
#define WD_OFF_INODE_I_SB	  bpf_core_field_offset(struct inode, i_sb)
#define WD_OFF_INODE_I_INO	  bpf_core_field_offset(struct inode, i_ino)
#define WD_OFF_SB_S_DEV		  bpf_core_field_offset(struct super_block, s_dev)
#define WD_OFF_SB_S_MAGIC	  bpf_core_field_offset(struct super_block, s_magic)
#define WD_OFF_MM_EXE_FILE	  bpf_core_field_offset(struct mm_struct, exe_file)
#define WD_OFF_REGS_DI		  bpf_core_field_offset(struct pt_regs, di)
#define WD_OFF_REGS_SI		  bpf_core_field_offset(struct pt_regs, si)
#define WD_OFF_REGS_ORIG_AX	  bpf_core_field_offset(struct pt_regs, orig_ax)
#define WD_OFF_IO_KIOCB_FLAGS	  bpf_core_field_offset(struct io_kiocb, flags)
#define WD_OFF_IO_KIOCB_CQE_FD	  bpf_core_field_offset(struct io_kiocb, cqe.fd)
#define WD_OFF_IO_KIOCB_CMD	  bpf_core_field_offset(struct io_kiocb, cmd)
#define WD_OFF_IO_SPLICE_FD_IN	  bpf_core_field_offset(struct io_splice, splice_fd_in)
#define WD_OFF_IO_SPLICE_FLAGS	  bpf_core_field_offset(struct io_splice, flags)
#define WD_OFF_TASK_TGID	  bpf_core_field_offset(struct task_struct, tgid)
#define WD_OFF_TASK_START_TIME	  bpf_core_field_offset(struct task_struct, start_time)
#define WD_OFF_SIGINFO_CODE	  bpf_core_field_offset(struct kernel_siginfo, si_code)
/* A kprobe's own di register: a load from the context must have a fixed
 * offset in the instruction, which a CO-RE field access gives (the
 * verifier refuses a context pointer moved by a register). */
#define wd_ctx_di(ctx)		  (((struct pt_regs *)(ctx))->di)

#else /* BCC */

#ifndef WD_SELF_TGID
#define WD_SELF_TGID 0
#endif
#ifndef WD_GUARD_TGID
#define WD_GUARD_TGID 0 /* no guardian: only throttle starts one */
#endif
#ifndef WD_KEY
#define WD_KEY WD_KEY_PROCESS
#endif
/* Each -DWD_<SWITCH> of probe.py cflags() as 0 or 1. */
#ifdef WD_FILTER_TARGETS
#define WD_ON_TARGETS 1
#else
#define WD_ON_TARGETS 0
#endif
#ifdef WD_FILTER_COMM
#define WD_ON_COMM_IN 1
#else
#define WD_ON_COMM_IN 0
#endif
#ifdef WD_EXCLUDE_COMM
#define WD_ON_COMM_OUT 1
#else
#define WD_ON_COMM_OUT 0
#endif
#ifdef WD_EXCLUDE_EXE
#define WD_ON_EXCLUDE_EXE 1
#else
#define WD_ON_EXCLUDE_EXE 0
#endif
#ifdef WD_COUNT_FS
#define WD_ON_COUNT_FS 1
#else
#define WD_ON_COUNT_FS 0
#endif
#ifdef WD_COUNT_FILES
#define WD_ON_COUNT_FILES 1
#else
#define WD_ON_COUNT_FILES 0
#endif
/* -DWD_FILE_BTF_ID=N: the kernel has bpf_rdonly_cast (features.py). */
#ifdef WD_FILE_BTF_ID
#define WD_TYPED_FILE 1
#else
#define WD_TYPED_FILE  0
#define WD_FILE_BTF_ID 0
#endif
#define WD_BUILD(cond) (cond)
#define WD_SIZE(on, n) ((on) ? (n) : 1)
#define WD_SEC(name)
#define WD_LRU_HASH(name, k, v, n) BPF_TABLE("lru_hash", k, v, name, n)
#define WD_DYN_HASH(name, k, v, n) BPF_F_TABLE("hash", k, v, name, n, BPF_F_NO_PREALLOC)

/* The offsets a run needs come from BTF as -D numbers (features.py
 * offsets()); a switch that needs them without them is a build error.
 * The rest only appear in code this run's switches make dead. */
#if (WD_ON_COUNT_FS || WD_ON_COUNT_FILES) && !defined(WD_OFF_FDT_FD)
#error "read classes need the BTF offsets WD_OFF_* (features.offsets)"
#endif
#if defined(WD_RECORD) && !defined(WD_OFF_FDT_FD)
#error "the recorder needs the BTF offsets WD_OFF_* (features.offsets)"
#endif
#if WD_ON_EXCLUDE_EXE && !defined(WD_OFF_MM_EXE_FILE)
#error "--exclude-exe needs the BTF offsets WD_OFF_* (features.offsets)"
#endif
#if WD_ACTION == WD_ACT_THROTTLE && !defined(WD_OFF_TASK_TGID)
#error "throttle's SIGCONT watch needs the BTF offsets WD_OFF_* (features.offsets)"
#endif
#if defined(WD_BACKEND_LSM) && !defined(WD_OFF_TASK_FLAGS)
#error "the LSM backend needs the BTF offsets WD_OFF_* (features.offsets)"
#endif
#ifndef WD_OFF_TASK_FILES
#define WD_OFF_TASK_FILES 0
#endif
#ifndef WD_OFF_TASK_MM
#define WD_OFF_TASK_MM 0
#endif
#ifndef WD_OFF_TASK_FLAGS
#define WD_OFF_TASK_FLAGS 0
#endif
#ifndef WD_OFF_FILES_FDT
#define WD_OFF_FILES_FDT 0
#endif
#ifndef WD_OFF_FDT_MAX_FDS
#define WD_OFF_FDT_MAX_FDS 0
#endif
#ifndef WD_OFF_FDT_FD
#define WD_OFF_FDT_FD 0
#endif
#ifndef WD_OFF_FILE_F_INODE
#define WD_OFF_FILE_F_INODE 0
#endif
#ifndef WD_OFF_FILE_F_PATH_DENTRY
#define WD_OFF_FILE_F_PATH_DENTRY 0
#endif
#ifndef WD_OFF_DENTRY_D_INODE
#define WD_OFF_DENTRY_D_INODE 0
#endif
#ifndef WD_OFF_INODE_I_SB
#define WD_OFF_INODE_I_SB 0
#endif
#ifndef WD_OFF_INODE_I_INO
#define WD_OFF_INODE_I_INO 0
#endif
#ifndef WD_OFF_SB_S_DEV
#define WD_OFF_SB_S_DEV 0
#endif
#ifndef WD_OFF_SB_S_MAGIC
#define WD_OFF_SB_S_MAGIC 0
#endif
#ifndef WD_OFF_MM_EXE_FILE
#define WD_OFF_MM_EXE_FILE 0
#endif
#ifndef WD_OFF_REGS_DI
#define WD_OFF_REGS_DI 0
#endif
#ifndef WD_OFF_REGS_SI
#define WD_OFF_REGS_SI 0
#endif
#ifndef WD_OFF_REGS_ORIG_AX
#define WD_OFF_REGS_ORIG_AX 0
#endif
#ifndef WD_OFF_IO_KIOCB_FLAGS
#define WD_OFF_IO_KIOCB_FLAGS 0
#endif
#ifndef WD_OFF_IO_KIOCB_CQE_FD
#define WD_OFF_IO_KIOCB_CQE_FD 0
#endif
#ifndef WD_OFF_IO_KIOCB_CMD
#define WD_OFF_IO_KIOCB_CMD 0
#endif
#ifndef WD_OFF_IO_SPLICE_FD_IN
#define WD_OFF_IO_SPLICE_FD_IN 0
#endif
#ifndef WD_OFF_IO_SPLICE_FLAGS
#define WD_OFF_IO_SPLICE_FLAGS 0
#endif
#ifndef WD_OFF_TASK_TGID
#define WD_OFF_TASK_TGID 0
#endif
#ifndef WD_OFF_TASK_START_TIME
#define WD_OFF_TASK_START_TIME 0
#endif
#ifndef WD_OFF_SIGINFO_CODE
#define WD_OFF_SIGINFO_CODE 0
#endif
/* The kprobe's own di register, read at its BTF offset: a constant-offset
 * load from the context, which the verifier bounds-checks (the override
 * kernel's headers only declare struct pt_regs, so no layout is used). */
#define wd_ctx_di(ctx) (*(const __u64 *)((const char *)(ctx) + WD_OFF_REGS_DI))

#endif /* WD_LIBBPF */

/* Derived switches, the same in both builds. */
#define WD_ON_CLASS   (WD_ON_COUNT_FS || WD_ON_COUNT_FILES)
/* A budget shared by several processes: keep per-process shares too. */
#define WD_SHARED     (WD_KEY != WD_KEY_PROCESS)
/* Shared budgets of targets: membership follows the fork (wd_member). */
#define WD_ON_MEMBERS (WD_SHARED && WD_ON_TARGETS)

#endif /* WD_COMPAT_H */
