// SPDX-License-Identifier: GPL-2.0
/*
 * offsets.c - the struct members the probe reads (features.py *_OFFSETS),
 * at their byte offsets in this kernel's BTF: Features.offsets(),
 * file_offsets_problem() and the BTF walk behind them.  features.c
 * asks it whether files can be found; main.c takes the offsets.
 */
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "errors.h"
#include "labels.h"
#include "policy.h"
#include "strutil.h"
#include "kbtf.h"
#include "offsets.h"
#include "wdfeatures.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct member {
	const char *define, *type, *path;
};

static const struct member lsm_offsets[] = {
	{ "WD_OFF_FILE_F_INODE", "file", "f_inode" },
	{ "WD_OFF_FILE_F_PATH_DENTRY", "file", "f_path.dentry" },
	{ "WD_OFF_DENTRY_D_INODE", "dentry", "d_inode" },
	{ "WD_OFF_TASK_FLAGS", "task_struct", "flags" },
	{ "WD_OFF_REGS_ORIG_AX", "pt_regs", "orig_ax" },
};

static const struct member class_offsets[] = {
	{ "WD_OFF_FILE_F_INODE", "file", "f_inode" },
	{ "WD_OFF_INODE_I_SB", "inode", "i_sb" },
	{ "WD_OFF_INODE_I_INO", "inode", "i_ino" },
	{ "WD_OFF_SB_S_DEV", "super_block", "s_dev" },
	{ "WD_OFF_TASK_FILES", "task_struct", "files" },
	{ "WD_OFF_FILES_FDT", "files_struct", "fdt" },
	{ "WD_OFF_FDT_MAX_FDS", "fdtable", "max_fds" },
	{ "WD_OFF_FDT_FD", "fdtable", "fd" },
	{ "WD_OFF_SB_S_MAGIC", "super_block", "s_magic" },
	{ "WD_OFF_REGS_DI", "pt_regs", "di" },
	{ "WD_OFF_REGS_SI", "pt_regs", "si" },
};

/* With a read class, the io_uring shim finds a request's fd (and whether
 * it is a registered-file index) in the request itself: a splice's source
 * in its command area (struct io_splice). */
static const struct member uring_class_offsets[] = {
	{ "WD_OFF_IO_KIOCB_FLAGS", "io_kiocb", "flags" },
	{ "WD_OFF_IO_KIOCB_CQE_FD", "io_kiocb", "cqe.fd" },
	{ "WD_OFF_IO_KIOCB_CMD", "io_kiocb", "cmd" },
	{ "WD_OFF_IO_SPLICE_FD_IN", "io_splice", "splice_fd_in" },
	{ "WD_OFF_IO_SPLICE_FLAGS", "io_splice", "flags" },
};

static const struct member exe_offsets[] = {
	{ "WD_OFF_FILE_F_INODE", "file", "f_inode" },
	{ "WD_OFF_INODE_I_SB", "inode", "i_sb" },
	{ "WD_OFF_INODE_I_INO", "inode", "i_ino" },
	{ "WD_OFF_SB_S_DEV", "super_block", "s_dev" },
	{ "WD_OFF_TASK_MM", "task_struct", "mm" },
	{ "WD_OFF_MM_EXE_FILE", "mm_struct", "exe_file" },
};

bool wd_file_offsets_problem(const struct wd_features *f, char *buf, size_t len)
{
	char err[256];

	if (!f->btf) {
		wd_put(buf, len, "kernel BTF: %s", f->feat[WD_F_BTF].detail);
		return true;
	}
	for (size_t i = 0; i < NELEMS(class_offsets); i++)
		if (wd_btf_offset(f, class_offsets[i].type, class_offsets[i].path, err,
				  sizeof(err)) < 0)
			goto missing;
	for (size_t i = 0; i < NELEMS(exe_offsets); i++)
		if (wd_btf_offset(f, exe_offsets[i].type, exe_offsets[i].path, err, sizeof(err)) <
		    0)
			goto missing;
	return false;
missing:
	snprintf(buf, len, "%s", err);
	return true;
}

/* Adds each member's byte offset on the way to a member. */
struct member_off {
	const struct wd_kbtf *btf;
	long long bytes;
};

static int add_offset(void *arg, __u32 sid, __u16 i)
{
	struct member_off *m = arg;

	m->bytes += btf_member_bit_offset(wd_kbtf_type(m->btf, sid), i) / 8;
	return 0;
}

/* Byte offset and type of member `name` of struct/union `tid`, looking
 * into anonymous struct/union members as C does; -1 if absent. */
static int btf_member_of(const struct wd_kbtf *btf, __u32 tid, const char *name, long long *off,
			 __u32 *mtid)
{
	struct member_off m = { .btf = btf };

	if (wd_kbtf_member(btf, tid, name, add_offset, &m, mtid) <= 0)
		return -1;
	*off = m.bytes;
	return 0;
}

long long wd_btf_offset(const struct wd_features *f, const char *type, const char *path, char *err,
			size_t len)
{
	char part[128];
	const char *p = path;
	long long total = 0, off;
	__u32 tid;
	int id;

	if (!f->btf) {
		snprintf(err, len, "kernel BTF: %s", f->feat[WD_F_BTF].detail);
		return -1;
	}
	id = wd_kbtf_find(f->btf, type, BTF_KIND_STRUCT);
	if (id <= 0) {
		snprintf(err, len, "struct %s not in kernel BTF", type);
		return -1;
	}
	/* A dotted path: each part is a member of the one before it. */
	for (tid = id; *p; p += *p == '.') {
		size_t n = strcspn(p, ".");

		if (n >= sizeof(part))
			n = sizeof(part) - 1;
		memcpy(part, p, n);
		part[n] = '\0';
		p += strcspn(p, ".");
		if (btf_member_of(f->btf, tid, part, &off, &tid)) {
			snprintf(err, len, "%s.%s not in kernel BTF", type, path);
			return -1;
		}
		total += off;
	}
	return total;
}

/* Add members to a want-list as dict.update() does: a define already
 * there keeps its place. */
static int want_add(struct wd_offset *out, int n, const struct member *m, size_t nm)
{
	for (size_t i = 0; i < nm; i++) {
		int j;

		for (j = 0; j < n && strcmp(out[j].define, m[i].define); j++)
			;
		if (j == n && n < WD_MAX_OFFSETS)
			out[n++] = (struct wd_offset){ m[i].define, m[i].type, m[i].path, 0 };
	}
	return n;
}

int wd_features_offsets(const struct wd_features *f, int backend, const struct wd_policy *p,
			struct wd_offset out[WD_MAX_OFFSETS])
{
	bool btf_policy = p && wd_policy_needs_btf(p);
	bool classes = btf_policy && !p->counts_all;
	char err[256];
	int n = 0;

	if (backend == WD_BACKEND_LSM)
		n = want_add(out, n, lsm_offsets, NELEMS(lsm_offsets));
	if (classes)
		n = want_add(out, n, class_offsets, NELEMS(class_offsets));
	if (btf_policy && p->nexe)
		n = want_add(out, n, exe_offsets, NELEMS(exe_offsets));
	if (!n)
		return 0;
	if (!f->btf)
		return wd_fail("%s need the kernel's BTF to find a call's file or executable "
			       "(%s); use --count all without --file/--exclude-exe, or a "
			       "kernel with CONFIG_DEBUG_INFO_BTF=y",
			       p && !p->counts_all ? "read classes" : "--exclude-exe",
			       f->feat[WD_F_BTF].detail);
	if (classes && backend != WD_BACKEND_LSM && f->feat[WD_F_URING].ok)
		n = want_add(out, n, uring_class_offsets, NELEMS(uring_class_offsets));
	for (int i = 0; i < n; i++) {
		out[i].off = wd_btf_offset(f, out[i].type, out[i].path, err, sizeof(err));
		if (out[i].off < 0)
			return wd_fail("this kernel's BTF lacks a member the probe reads: %s", err);
	}
	return n;
}
