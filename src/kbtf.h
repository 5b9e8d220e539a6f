/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kbtf.h - a light reader of the kernel's BTF for the feature checks
 * (kbtf.c says why not libbpf's).  The btf_type pointers it returns work
 * with the inline helpers of <bpf/btf.h> (btf_vlen, btf_members...).
 */
#ifndef ETHOSWD_KBTF_H
#define ETHOSWD_KBTF_H

#include <stddef.h>
#include <linux/types.h>

struct btf_type;

struct wd_kbtf {
	char *data; /* the whole file */
	size_t len;
	int mapped;		  /* data is mmap'ed, else malloc'ed */
	const char *types, *strs; /* its type and string sections */
	size_t types_len, strs_len;
	__u32 *off;   /* off[id]: offset of type id in types */
	__u32 ntypes; /* ids 1 .. ntypes-1 */
};

/* 0, or -errno (the file cannot be read, or is not BTF). */
int wd_kbtf_load(struct wd_kbtf *b, const char *path);
/* The same for BTF bytes in memory (malloc'ed: b owns them from here,
 * also on failure); 0 or -EINVAL. */
int wd_kbtf_parse(struct wd_kbtf *b, char *data, size_t len);
void wd_kbtf_free(struct wd_kbtf *b);
const struct btf_type *wd_kbtf_type(const struct wd_kbtf *b, __u32 id);
const char *wd_kbtf_name(const struct wd_kbtf *b, __u32 off);
/* The lowest id of a type with this name and BTF_KIND_*, or -ENOENT. */
int wd_kbtf_find(const struct wd_kbtf *b, const char *name, int kind);
/* The type behind typedef/const/volatile/restrict/type-tag wrappers, its
 * id in *id; NULL if an id is out of range. */
const struct btf_type *wd_kbtf_resolve(const struct wd_kbtf *b, __u32 *id);
/* One pass over every type, in id order: fn(arg, i, id, t) for each type
 * of a kind in `kinds` (bit 1 << BTF_KIND_*) named names[i].  Stops at
 * the first non-zero return of fn, and returns it; else 0. */
typedef int (*wd_kbtf_fn)(void *arg, int i, __u32 id, const struct btf_type *t);
int wd_kbtf_each_named(const struct wd_kbtf *b, unsigned int kinds, const char *const *names, int n,
		       wd_kbtf_fn fn, void *arg);
/* Member `name` of struct/union `id`, found as C and libbpf's CO-RE
 * find it: the first member so named, or the first anonymous struct or
 * union member that has it.  visit(arg, sid, i) is called for each
 * member on the way (sid: its struct's resolved id, i: its index), the
 * named one first, then the anonymous ones outwards; a non-zero return
 * stops the walk and is returned.  1 and the member's type id in *type
 * if found, 0 if not, -EINVAL for an id out of range. */
typedef int (*wd_kbtf_visit)(void *arg, __u32 sid, __u16 i);
int wd_kbtf_member(const struct wd_kbtf *b, __u32 id, const char *name, wd_kbtf_visit visit,
		   void *arg, __u32 *type);
/* Bytes in a memory file for libbpf (btf_custom_path): the file's fd
 * (path /proc/self/fd/N in buf; close it after the load), or -errno. */
int wd_bytes_memfd(const char *name, const void *data, size_t size, char *buf, size_t len);

#endif /* ETHOSWD_KBTF_H */
