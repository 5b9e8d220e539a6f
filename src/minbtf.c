// SPDX-License-Identifier: GPL-2.0
/*
 * minbtf.c - the running kernel's BTF cut down to what the probe's CO-RE
 * relocations read, for libbpf's btf_custom_path: the idea of bpftool's
 * `gen min_core_btf`, done at start against the kernel ethoswd runs on.
 *
 * Why: before it relocates, libbpf parses the whole kernel BTF (5.5 MB,
 * about 120 000 types on Debian 12) and looks each relocated struct up by
 * walking every type.  Under TCG that was 0.2-0.3 s of a 0.7 s start.
 *
 * What is kept.  Every relocation of the probe is a field offset
 * (compat.h WD_OFF_*), so it is enough to keep, for every struct a
 * relocation names, the members on its access path:
 *   - the relocations come from the object's own .BTF.ext: each names a
 *     local type and an access string ("0:5": member 5 of the root).
 *     Walked over the object's BTF, that gives the struct's name and the
 *     member names along the path; anonymous members are left out, since
 *     libbpf matches by name only;
 *   - every kernel struct or union of that name is a candidate, as for
 *     libbpf.  Along the path each member is found by name, looking into
 *     anonymous struct/union members in order, as libbpf does; every
 *     member on the way is kept at its offset, and each struct keeps its
 *     size;
 *   - a member's own type keeps what libbpf checks of it: its kind and
 *     size.  An int or float is copied, a pointer points to void, a
 *     struct or union keeps its name, size and kept members, an enum its
 *     name and size.
 * Relocations of another kind, through an array or of a flavoured struct
 * (foo___v2): not handled; the caller then gives libbpf the whole BTF
 * (the same result, only slower).
 * test_minbtf.c checks that libbpf relocates the object to the same
 * instructions with this BTF as with the whole one.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <bpf/btf.h>

#include "text.h"
#include "minbtf.h"

/* A type's info word: kind, kind_flag, vlen (linux/btf.h's layout). */
#define INFO(kind, kflag, vlen) ((__u32)(kflag) << 31 | (__u32)(kind) << 24 | (vlen))

#define MAX_DEPTH 8  /* named members on one path */
#define MAX_PATHS 64 /* distinct (struct, path) pairs */

/* .BTF.ext's header (libbpf's btf_ext_header): offsets count from its end. */
struct ext_header {
	__u16 magic;
	__u8 version, flags;
	__u32 hdr_len;
	__u32 func_info_off, func_info_len;
	__u32 line_info_off, line_info_len;
	__u32 core_relo_off, core_relo_len;
};

/* A relocated field: struct or union `root`, then the named members. */
struct path {
	const char *root;
	int kind; /* BTF_KIND_STRUCT or BTF_KIND_UNION */
	const char *names[MAX_DEPTH];
	int n;
};

/* A kernel type to keep: for a struct or union, the members kept. */
struct node {
	__u32 kid, nid; /* its kernel id, its id in the new BTF */
	__u16 mem[64];	/* kept member indexes, ascending */
	int nmem;
};

struct gen {
	struct wd_minbtf *m;
	const struct wd_kbtf *k, *local;
	struct path paths[MAX_PATHS];
	int npaths;
	const char *roots[MAX_PATHS]; /* the distinct root names */
	int nroots;
	struct node *nodes;
	int nnodes, cap;
};

static int why(struct wd_minbtf *m, const char *fmt, const char *arg)
{
	snprintf(m->why, sizeof(m->why), fmt, arg);
	return -1;
}

/* ---- the object: its .BTF and .BTF.ext sections ------------------------ */

/* A copy of the named section of the ELF image (malloc'ed: the image is a
 * byte string with no alignment), or NULL. */
static char *elf_section(const char *img, size_t len, const char *want, size_t *out_len)
{
	Elf64_Ehdr eh;
	Elf64_Shdr strs, sh;

	if (len < sizeof(eh))
		return NULL;
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_shoff > len || eh.e_shnum > (len - eh.e_shoff) / sizeof(sh) ||
	    eh.e_shstrndx >= eh.e_shnum)
		return NULL;
	memcpy(&strs, img + eh.e_shoff + eh.e_shstrndx * sizeof(sh), sizeof(strs));
	if (strs.sh_offset > len || strs.sh_size > len - strs.sh_offset)
		return NULL;
	for (__u16 i = 0; i < eh.e_shnum; i++) {
		const char *name;
		char *copy;

		memcpy(&sh, img + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_name >= strs.sh_size)
			continue;
		name = img + strs.sh_offset + sh.sh_name;
		if (strnlen(name, strs.sh_size - sh.sh_name) == strs.sh_size - sh.sh_name ||
		    strcmp(name, want))
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > len ||
		    sh.sh_size > len - sh.sh_offset)
			return NULL;
		copy = wd_xmalloc(sh.sh_size ? sh.sh_size : 1);
		memcpy(copy, img + sh.sh_offset, sh.sh_size);
		*out_len = sh.sh_size;
		return copy;
	}
	return NULL;
}

/* The local path of one field relocation: `access` ("0:2:5") walked over
 * the object's BTF from type `id`; 0, or -1 with m->why set. */
static int local_path(struct gen *g, __u32 id, const char *access, struct path *p)
{
	const struct btf_type *t = wd_kbtf_resolve(g->local, &id);
	char *end;
	unsigned long idx = strtoul(access, &end, 10);

	if (!t || (!btf_is_struct(t) && !btf_is_union(t)) || !t->name_off)
		return why(g->m, "relocation of a type that is not a named struct (%s)", access);
	if (idx != 0 || (*end && *end != ':'))
		return why(g->m, "relocation through an array (%s)", access);
	memset(p, 0, sizeof(*p));
	p->root = wd_kbtf_name(g->local, t->name_off);
	p->kind = BTF_INFO_KIND(t->info);
	while (*end == ':') {
		const struct btf_member *mem;
		const char *name;

		idx = strtoul(end + 1, &end, 10);
		if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
			return why(g->m, "relocation through an array (%s)", access);
		if (idx >= btf_vlen(t))
			return why(g->m, "relocation past the members (%s)", access);
		mem = btf_members(t) + idx;
		name = wd_kbtf_name(g->local, mem->name_off);
		if (name && *name) {
			if (p->n == MAX_DEPTH)
				return why(g->m, "relocation path too deep (%s)", access);
			p->names[p->n++] = name;
		}
		id = mem->type;
		t = wd_kbtf_resolve(g->local, &id);
	}
	if (!p->root || !p->n)
		return why(g->m, "relocation of no field (%s)", access);
	/* A flavour (struct foo___v2) matches foo: not needed here. */
	if (strstr(p->root, "___"))
		return why(g->m, "relocation of a flavoured struct (%s)", p->root);
	return 0;
}

static bool same_path(const struct path *a, const struct path *b)
{
	if (a->kind != b->kind || a->n != b->n || strcmp(a->root, b->root))
		return false;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]))
			return false;
	return true;
}

/* Every field relocation of .BTF.ext, as distinct paths. */
static int read_relos(struct gen *g, const char *ext, size_t len)
{
	struct ext_header h = {};
	__u32 rec, pos, end;

	memcpy(&h, ext, len < sizeof(h) ? len : sizeof(h));
	if (len < 8 || h.magic != BTF_MAGIC || h.hdr_len > len)
		return why(g->m, "%s", "the object's .BTF.ext is not readable");
	if (h.hdr_len < sizeof(h) || !h.core_relo_len)
		return 0; /* no CO-RE relocations */
	pos = h.hdr_len + h.core_relo_off;
	end = pos + h.core_relo_len;
	if (end < pos || end > len || h.core_relo_len < 4)
		return why(g->m, "%s", "the object's .BTF.ext is not readable");
	memcpy(&rec, ext + pos, 4);
	if (rec < sizeof(struct bpf_core_relo))
		return why(g->m, "%s", "the object's .BTF.ext is not readable");
	for (pos += 4; pos + 8 <= end;) {
		__u32 sec[2]; /* section name offset, number of records */

		memcpy(sec, ext + pos, sizeof(sec));
		pos += 8;
		if (sec[1] > (end - pos) / rec)
			return why(g->m, "%s", "the object's .BTF.ext is not readable");
		for (__u32 i = 0; i < sec[1]; i++, pos += rec) {
			struct bpf_core_relo r;
			const char *access;
			struct path p;
			int j;

			memcpy(&r, ext + pos, sizeof(r));
			g->m->nrelos++;
			if (r.kind != BPF_CORE_FIELD_BYTE_OFFSET)
				return why(g->m, "%s", "a relocation other than a field offset");
			access = wd_kbtf_name(g->local, r.access_str_off);
			if (!access || local_path(g, r.type_id, access, &p))
				return access ? -1 : why(g->m, "%s", "a relocation with no access");
			for (j = 0; j < g->npaths && !same_path(&g->paths[j], &p); j++)
				;
			if (j < g->npaths)
				continue;
			if (g->npaths == MAX_PATHS)
				return why(g->m, "%s", "too many relocated fields");
			g->paths[g->npaths++] = p;
		}
	}
	return 0;
}

/* ---- the kernel: what to keep ----------------------------------------- */

/* The node of kernel type kid (already resolved), made if new. */
static struct node *node_of(struct gen *g, __u32 kid)
{
	for (int i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kid == kid)
			return &g->nodes[i];
	if (g->nnodes == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 32;
		g->nodes = wd_xrealloc(g->nodes, g->cap * sizeof(*g->nodes));
	}
	memset(&g->nodes[g->nnodes], 0, sizeof(g->nodes[0]));
	g->nodes[g->nnodes].kid = kid;
	return &g->nodes[g->nnodes++];
}

/* Keep member idx of composite kid, and a node for the member's type. */
static int keep_member(struct gen *g, __u32 kid, __u16 idx, __u32 mtype)
{
	struct node *n;
	int i;

	if (!wd_kbtf_resolve(g->k, &mtype))
		return -EINVAL;
	node_of(g, mtype);
	n = node_of(g, kid); /* after: node_of() may move the array */
	for (i = 0; i < n->nmem && n->mem[i] < idx; i++)
		;
	if (i < n->nmem && n->mem[i] == idx)
		return 0;
	if (n->nmem == (int)(sizeof(n->mem) / sizeof(n->mem[0])))
		return -E2BIG;
	memmove(&n->mem[i + 1], &n->mem[i], (n->nmem - i) * sizeof(n->mem[0]));
	n->mem[i] = idx;
	n->nmem++;
	return 0;
}

/* keep_member() for wd_kbtf_member()'s walk: the members on the way to
 * a path's member, the way libbpf's bpf_core_match_member() finds it. */
static int keep_on_path(void *arg, __u32 sid, __u16 i)
{
	struct gen *g = arg;

	return keep_member(g, sid, i, btf_members(wd_kbtf_type(g->k, sid))[i].type);
}

/* A kernel struct or union named roots[i]: a candidate for every path
 * from that name, as libbpf takes each type of the name as one. */
static int add_candidate(void *arg, int i, __u32 id, const struct btf_type *t)
{
	struct gen *g = arg;

	for (int j = 0; j < g->npaths; j++) {
		const struct path *p = &g->paths[j];
		__u32 cur = id;

		if (p->root != g->roots[i] || (int)BTF_INFO_KIND(t->info) != p->kind)
			continue;
		node_of(g, id);
		for (int s = 0; s < p->n; s++) {
			int found = wd_kbtf_member(g->k, cur, p->names[s], keep_on_path, g, &cur);

			if (found < 0)
				return found;
			if (!found)
				break;
		}
	}
	return 0;
}

/* The distinct root names; each path's root then points into roots[]. */
static void collect_roots(struct gen *g)
{
	for (int j = 0; j < g->npaths; j++) {
		int i;

		for (i = 0; i < g->nroots && strcmp(g->roots[i], g->paths[j].root); i++)
			;
		if (i == g->nroots)
			g->roots[g->nroots++] = g->paths[j].root;
		g->paths[j].root = g->roots[i];
	}
}

/* ---- the new BTF -------------------------------------------------------- */

static __u32 add_str(struct wd_buf *strs, const char *s)
{
	__u32 off = strs->len;

	if (!s || !*s)
		return 0;
	wb_putn(strs, s, strlen(s) + 1);
	return off;
}

static __u32 new_id(const struct gen *g, __u32 kid)
{
	for (int i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kid == kid)
			return g->nodes[i].nid;
	return 0;
}

/* One kept type in the new BTF; 0, or -1 with m->why set. */
static int emit(struct gen *g, const struct node *n, struct wd_buf *types, struct wd_buf *strs)
{
	const struct btf_type *t = wd_kbtf_type(g->k, n->kid);
	struct btf_type out = { .info = t->info, .size = t->size };
	__u16 kind = BTF_INFO_KIND(t->info);

	out.name_off = add_str(strs, wd_kbtf_name(g->k, t->name_off));
	switch (kind) {
	case BTF_KIND_INT:
		wb_putn(types, (const char *)&out, sizeof(out));
		wb_putn(types, (const char *)(t + 1), sizeof(__u32));
		return 0;
	case BTF_KIND_FLOAT:
		wb_putn(types, (const char *)&out, sizeof(out));
		return 0;
	case BTF_KIND_PTR: /* to void: libbpf checks only that it is a pointer */
		out.name_off = 0;
		out.type = 0;
		wb_putn(types, (const char *)&out, sizeof(out));
		return 0;
	case BTF_KIND_ENUM:
	case 19: /* BTF_KIND_ENUM64: name and size are what libbpf compares */
		out.info = INFO(kind, BTF_INFO_KFLAG(t->info), 0);
		wb_putn(types, (const char *)&out, sizeof(out));
		return 0;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		out.info = INFO(kind, BTF_INFO_KFLAG(t->info), n->nmem);
		wb_putn(types, (const char *)&out, sizeof(out));
		for (int i = 0; i < n->nmem; i++) {
			struct btf_member m = btf_members(t)[n->mem[i]];
			__u32 mt = m.type;

			wd_kbtf_resolve(g->k, &mt);
			m.name_off = add_str(strs, wd_kbtf_name(g->k, m.name_off));
			m.type = new_id(g, mt);
			wb_putn(types, (const char *)&m, sizeof(m));
		}
		return 0;
	default:
		return why(g->m, "a relocated field of kind %s",
			   btf_is_array(t) ? "array" : "other");
	}
}

static int write_btf(struct gen *g)
{
	struct wd_buf types = {}, strs = {};
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h) };

	wb_putn(&strs, "", 1); /* offset 0: the empty name */
	for (int i = 0; i < g->nnodes; i++)
		g->nodes[i].nid = i + 1;
	for (int i = 0; i < g->nnodes; i++)
		if (emit(g, &g->nodes[i], &types, &strs)) {
			free(types.p), free(strs.p);
			return -1;
		}
	h.type_len = types.len;
	h.str_off = types.len;
	h.str_len = strs.len;
	g->m->len = sizeof(h) + types.len + strs.len;
	g->m->data = wd_xmalloc(g->m->len);
	memcpy(g->m->data, &h, sizeof(h));
	memcpy(g->m->data + sizeof(h), types.p, types.len);
	memcpy(g->m->data + sizeof(h) + types.len, strs.p, strs.len);
	g->m->ntypes = g->nnodes;
	free(types.p), free(strs.p);
	return 0;
}

int wd_minbtf_build(struct wd_minbtf *m, const struct wd_kbtf *kernel, const void *obj,
		    size_t obj_len)
{
	struct wd_kbtf local;
	struct gen g = { .m = m, .k = kernel, .local = &local };
	size_t btf_len = 0, ext_len = 0;
	char *btf = elf_section(obj, obj_len, ".BTF", &btf_len);
	char *ext = elf_section(obj, obj_len, ".BTF.ext", &ext_len);
	int err = -1;

	memset(m, 0, sizeof(*m));
	if (!btf || !ext || wd_kbtf_parse(&local, btf, btf_len)) {
		if (!ext) /* else wd_kbtf_parse() took btf, and freed it */
			free(btf);
		free(ext);
		return why(m, "%s", "the object has no readable .BTF and .BTF.ext");
	}
	if (read_relos(&g, ext, ext_len))
		goto out;
	m->npaths = g.npaths;
	collect_roots(&g);
	err = wd_kbtf_each_named(kernel, 1u << BTF_KIND_STRUCT | 1u << BTF_KIND_UNION, g.roots,
				 g.nroots, add_candidate, &g);
	if (err) {
		err = why(m, "the kernel's BTF does not read as expected (%s)", strerror(-err));
		goto out;
	}
	err = write_btf(&g);
out:
	free(g.nodes);
	free(ext);
	wd_kbtf_free(&local);
	return err;
}
