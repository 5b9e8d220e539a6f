// SPDX-License-Identifier: GPL-2.0
/*
 * kbtf.c - a light reader of the kernel's BTF (/sys/kernel/btf/vmlinux)
 * for the feature checks and minbtf.c: find types by name and kind, index
 * a type by id, name a string offset.
 *
 * Why not libbpf's btf__load_vmlinux_btf(): that builds full indexes and
 * costs 13-19 ms on the host and 0.1-0.2 s under TCG, the largest part of
 * ethoswd's start-up.  The checks need a handful of lookups, so this gets
 * the bytes once, the cheapest way the kernel offers, and keeps one array
 * of type offsets:
 *   1. mmap of the file (kernels from 6.16): no copy at all;
 *   2. bpf(BPF_OBJ_GET_INFO_BY_FD) on the kernel's "vmlinux" BTF object:
 *      one copy in one syscall;
 *   3. read() of the file, which sysfs hands out 4 KiB per call: about
 *      1 300 calls for 5 MB (10 ms on the host, far more under TCG).
 * minbtf.c cuts from these bytes the small BTF that libbpf relocates
 * the probe against, so libbpf never reads or parses the file itself
 * (loader.c; should the cut fail, libbpf gets these same bytes).  The
 * same reader also reads the probe object's own BTF (wd_kbtf_parse).
 * The answers are libbpf's: find returns the lowest id with the name and
 * kind, as btf__find_by_name_kind() does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/btf.h>
#include <bpf/bpf.h>

#include "kbtf.h"

/* Bytes that follow a type's common header, by kind (linux/btf.h). */
static size_t trailer(const struct btf_type *t)
{
	__u16 vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
		return sizeof(__u32);
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return sizeof(struct btf_decl_tag);
	case 19: /* BTF_KIND_ENUM64 (6.0): name_off, val_lo32, val_hi32 */
		return vlen * 3 * sizeof(__u32);
	default: /* PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC,
			 * FLOAT, TYPE_TAG: nothing follows */
		return 0;
	}
}

static int read_all(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 8 << 20, n = 0;
	char *buf = NULL;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got;

		if (n == cap || !buf) {
			char *nb = realloc(buf, cap = buf ? 2 * cap : cap);

			if (!nb)
				break;
			buf = nb;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int err = got < 0 ? -errno : 0;

			close(fd);
			if (err) {
				free(buf);
				return err;
			}
			*out = buf;
			*len = n;
			return 0;
		}
		n += got;
	}
	close(fd);
	free(buf);
	return -ENOMEM;
}

/* Index every type: off[id] is its offset in the type section. */
static int index_types(struct wd_kbtf *b)
{
	size_t pos = 0, cap = 1 << 17;

	b->off = malloc(cap * sizeof(*b->off));
	if (!b->off)
		return -ENOMEM;
	b->ntypes = 1; /* id 0 is void */
	while (pos + sizeof(struct btf_type) <= b->types_len) {
		const struct btf_type *t = (const void *)(b->types + pos);

		if (b->ntypes == cap) {
			__u32 *no = realloc(b->off, (cap *= 2) * sizeof(*no));

			if (!no)
				return -ENOMEM;
			b->off = no;
		}
		b->off[b->ntypes++] = pos;
		pos += sizeof(*t) + trailer(t);
	}
	return pos == b->types_len ? 0 : -EINVAL;
}

/* The file mapped read-only: no copy at all, where the kernel allows it. */
static int map_all(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	*len = st.st_size;
	return 0;
}

/* The bytes of the kernel BTF object named "vmlinux", through bpf(2). */
static int fetch_vmlinux(char **out, size_t *len)
{
	__u32 id = 0;

	while (!bpf_btf_get_next_id(id, &id)) {
		char name[16] = "";
		struct bpf_btf_info info = { .name = (__u64)(unsigned long)name,
					     .name_len = sizeof(name) };
		__u32 ilen = sizeof(info);
		int fd = bpf_btf_get_fd_by_id(id), err = -ENOENT;

		if (fd < 0)
			return -errno;
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.kernel_btf &&
		    !strcmp(name, "vmlinux")) {
			__u32 size = info.btf_size;
			char *buf = malloc(size);

			memset(&info, 0, sizeof(info));
			info.btf = (__u64)(unsigned long)buf;
			info.btf_size = size;
			ilen = sizeof(info);
			err = !buf				       ? -ENOMEM :
			      bpf_obj_get_info_by_fd(fd, &info, &ilen) ? -errno :
									 0;
			if (err)
				free(buf);
			else
				*out = buf, *len = size;
		}
		close(fd);
		if (err != -ENOENT)
			return err;
	}
	return -ENOENT;
}

/* Check the header and index the types of b->data. */
static int setup(struct wd_kbtf *b)
{
	const struct btf_header *h = (const void *)b->data;
	int err;

	if (b->len < sizeof(*h) || h->magic != BTF_MAGIC || h->hdr_len > b->len ||
	    (size_t)h->hdr_len + h->type_off + h->type_len > b->len ||
	    (size_t)h->hdr_len + h->str_off + h->str_len > b->len) {
		wd_kbtf_free(b);
		return -EINVAL;
	}
	b->types = b->data + h->hdr_len + h->type_off;
	b->types_len = h->type_len;
	b->strs = b->data + h->hdr_len + h->str_off;
	b->strs_len = h->str_len;
	err = index_types(b);
	if (err)
		wd_kbtf_free(b);
	return err;
}

int wd_kbtf_load(struct wd_kbtf *b, const char *path)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->mapped = map_all(path, &b->data, &b->len) == 0;
	err = b->mapped ? 0 : fetch_vmlinux(&b->data, &b->len);
	if (!b->mapped && err)
		err = read_all(path, &b->data, &b->len);
	return err ? err : setup(b);
}

int wd_kbtf_parse(struct wd_kbtf *b, char *data, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->data = data;
	b->len = len;
	return setup(b);
}

void wd_kbtf_free(struct wd_kbtf *b)
{
	if (b->mapped)
		munmap(b->data, b->len);
	else
		free(b->data);
	free(b->off);
	memset(b, 0, sizeof(*b));
}

const struct btf_type *wd_kbtf_type(const struct wd_kbtf *b, __u32 id)
{
	if (id == 0 || id >= b->ntypes)
		return NULL;
	return (const void *)(b->types + b->off[id]);
}

const char *wd_kbtf_name(const struct wd_kbtf *b, __u32 off)
{
	return off < b->strs_len ? b->strs + off : NULL;
}

const struct btf_type *wd_kbtf_resolve(const struct wd_kbtf *b, __u32 *id)
{
	const struct btf_type *t;

	while ((t = wd_kbtf_type(b, *id))) {
		__u16 kind = BTF_INFO_KIND(t->info);

		if (kind != BTF_KIND_TYPEDEF && kind != BTF_KIND_VOLATILE &&
		    kind != BTF_KIND_CONST && kind != BTF_KIND_RESTRICT &&
		    kind != BTF_KIND_TYPE_TAG)
			return t;
		*id = t->type;
	}
	return NULL;
}

int wd_kbtf_each_named(const struct wd_kbtf *b, unsigned int kinds, const char *const *names, int n,
		       wd_kbtf_fn fn, void *arg)
{
	for (__u32 id = 1; id < b->ntypes; id++) {
		const struct btf_type *t = wd_kbtf_type(b, id);
		const char *name;

		if (!(kinds & (1u << BTF_INFO_KIND(t->info))) || !t->name_off)
			continue;
		name = wd_kbtf_name(b, t->name_off);
		for (int i = 0; name && i < n; i++) {
			int err;

			/* The first byte first: most names differ there. */
			if (name[0] != names[i][0] || strcmp(name, names[i]))
				continue;
			err = fn(arg, i, id, t);
			if (err)
				return err;
		}
	}
	return 0;
}

/* The first id seen (each_named goes in id order): stops the pass. */
static int first_id(void *arg, int i, __u32 id, const struct btf_type *t)
{
	(void)i, (void)t;
	*(__u32 *)arg = id;
	return 1;
}

int wd_kbtf_find(const struct wd_kbtf *b, const char *name, int kind)
{
	__u32 id = 0;

	wd_kbtf_each_named(b, 1u << kind, &name, 1, first_id, &id);
	return id ? (int)id : -ENOENT;
}

int wd_kbtf_member(const struct wd_kbtf *b, __u32 id, const char *name, wd_kbtf_visit visit,
		   void *arg, __u32 *type)
{
	const struct btf_type *t = wd_kbtf_resolve(b, &id);
	const struct btf_member *m;

	if (!t)
		return -EINVAL;
	if (BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT && BTF_INFO_KIND(t->info) != BTF_KIND_UNION)
		return 0;
	m = (const void *)(t + 1);
	for (__u16 i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		const char *mname = wd_kbtf_name(b, m[i].name_off);
		int found;

		if (!mname || !*mname)
			found = wd_kbtf_member(b, m[i].type, name, visit, arg, type);
		else if (!strcmp(mname, name))
			found = (*type = m[i].type, 1);
		else
			continue;
		if (found > 0)
			found = visit(arg, id, i) ?: 1;
		if (found)
			return found;
	}
	return 0;
}

/* Bytes in a memory file, for libbpf's btf_custom_path: its path
 * (/proc/self/fd/N) in buf; the fd, or -errno. */
int wd_bytes_memfd(const char *name, const void *data, size_t size, char *buf, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < size) {
		ssize_t n = write(fd, (const char *)data + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;

			close(fd);
			return err;
		}
		done += n;
	}
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return fd;
}
