/* SPDX-License-Identifier: GPL-2.0 */
/*
 * offsets.h - the struct members the probe reads, at their offsets in
 * this kernel's BTF (offsets.c; features.py *_OFFSETS).
 */
#ifndef WD_OFFSETS_H
#define WD_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>

struct wd_features;
struct wd_policy;

/* A struct member the probe reads, at its byte offset in this kernel. */
struct wd_offset {
	const char *define; /* "WD_OFF_FILE_F_INODE" */
	const char *type;   /* "file" */
	const char *path;   /* "f_inode", or dotted "f_path.dentry" */
	long long off;
};
#define WD_MAX_OFFSETS 32

/* Byte offset of a dotted member path of struct `type` in the kernel's
 * BTF; -1 with the Python's LookupError text in err. */
long long wd_btf_offset(const struct wd_features *f, const char *type, const char *path, char *err,
			size_t len);

/* Features.file_offsets_problem(): can a call's file and a process's
 * executable be found from BTF?  The problem into buf; false if they can. */
bool wd_file_offsets_problem(const struct wd_features *f, char *buf, size_t len);
/* Features.offsets(): the offsets the probe reads for this backend and
 * policy (p may be NULL); the count, or -1 with wd_fail(). */
int wd_features_offsets(const struct wd_features *f, int backend, const struct wd_policy *p,
			struct wd_offset out[WD_MAX_OFFSETS]);

#endif
