/* SPDX-License-Identifier: GPL-2.0 */
/*
 * corebtf.h - what libbpf gets from the kernel's BTF (corebtf.c), for
 * wd_probe_load() and the --jitter object's load.
 */
#ifndef ETHOSWD_COREBTF_H
#define ETHOSWD_COREBTF_H

#include <stddef.h>

struct wd_kbtf;

/* The kernel's BTF for libbpf's CO-RE
 * relocations of the object (its ELF image) in a memory file: the fd
 * (path in buf; close it after the load), or -errno. */
int wd_core_btf_fd(const struct wd_kbtf *btf, const void *obj, size_t obj_len, char *path,
		   size_t len);
/* The handlers that give the LSM backend's programs their attach ids:
 * registered before the object opens (0, or -1 with wd_fail() set),
 * dropped after its load. */
int wd_btf_progs_register(const struct wd_kbtf *btf);
void wd_btf_progs_drop(void);
/* After the open: 0, or -1 (wd_fail) if one of the LSM backend's programs
 * escaped the handlers (its section name changed). */
struct bpf_program;
int wd_btf_progs_check(struct bpf_program *const *progs, int n);

#endif /* ETHOSWD_COREBTF_H */
