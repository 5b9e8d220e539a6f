/* SPDX-License-Identifier: GPL-2.0 */
/*
 * minbtf.h - the running kernel's BTF cut down to what the probe's CO-RE
 * relocations read (minbtf.c says how and why).
 */
#ifndef ETHOSWD_MINBTF_H
#define ETHOSWD_MINBTF_H

#include <stddef.h>

#include "kbtf.h"

struct wd_minbtf {
	char *data; /* the BTF (malloc'ed) */
	size_t len;
	int nrelos, npaths, ntypes; /* relocations read, distinct paths, types kept */
	char why[160];		    /* why it could not be made */
};

/* From the kernel's BTF and the BPF object's ELF image: 0 and the BTF in
 * m (free(m->data) after use), or -1 and the reason in m->why (the
 * caller then gives libbpf the whole BTF). */
int wd_minbtf_build(struct wd_minbtf *m, const struct wd_kbtf *kernel, const void *obj,
		    size_t obj_len);

#endif /* ETHOSWD_MINBTF_H */
