/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libbpf_maps.h - the libbpf build's map definitions and map calls, shared
 * by both probe objects (compat.h: the read limiter, jitter_compat.h: the
 * --jitter programs).  Included under WD_LIBBPF only: under BCC the map
 * calls are BCC's, turned into its method form by ethoswd/probe.py.
 */
#ifndef WD_LIBBPF_MAPS_H
#define WD_LIBBPF_MAPS_H

/* A BTF-defined map (libbpf reads the layout from the struct's types). */
#define WD_MAP_F(kind, flags, name, k, v, n) \
	struct {                             \
		__uint(type, kind);          \
		__uint(max_entries, n);      \
		__uint(map_flags, flags);    \
		__type(key, k);              \
		__type(value, v);            \
	} name SEC(".maps")
#define WD_MAP(kind, name, k, v, n) WD_MAP_F(kind, 0, name, k, v, n)
/* A ring buffer sized in pages, as BCC sizes it. */
#define WD_RINGBUF_PAGES(name, pages)               \
	struct {                                    \
		__uint(type, BPF_MAP_TYPE_RINGBUF); \
		__uint(max_entries, (pages)*4096);  \
	} name SEC(".maps")

#define wd_lookup(m, k)	      bpf_map_lookup_elem(&(m), k)
#define wd_update(m, k, v)    bpf_map_update_elem(&(m), k, v, BPF_ANY)
#define wd_insert(m, k, v)    bpf_map_update_elem(&(m), k, v, BPF_NOEXIST)
#define wd_delete(m, k)	      bpf_map_delete_elem(&(m), k)
#define wd_rb_reserve(m, n)   bpf_ringbuf_reserve(&(m), n, 0)
#define wd_rb_submit(m, p, f) bpf_ringbuf_submit(p, f)

#endif /* WD_LIBBPF_MAPS_H */
