// SPDX-License-Identifier: GPL-2.0
/*
 * corebtf.c - what libbpf gets from the kernel's BTF, so that it never
 * reads or parses /sys/kernel/btf/vmlinux itself: the cut BTF its CO-RE
 * relocations read (minbtf.c), and the attach ids of the LSM backend's
 * programs.  Both come from the bytes features.c already read (kbtf.c).
 * Under TCG, libbpf's own reading and parsing of the 5.5 MB file, and its
 * type-by-type search for each relocated struct, took 0.2-0.3 s of a 0.7 s
 * start-up; with these, the load step takes 0.1-0.2 s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "corebtf.h"
#include "errors.h"
#include "kbtf.h"
#include "minbtf.h"

/*
 * The kernel's BTF for libbpf's CO-RE relocations, in a memory file: the
 * cut of it that the relocations of the object `obj` read (minbtf.c),
 * or, should that fail, all of it, from the bytes features.c already
 * read (libbpf would otherwise read /sys/kernel/btf/vmlinux again).
 */
int wd_core_btf_fd(const struct wd_kbtf *btf, const void *obj, size_t obj_len, char *path,
		   size_t len)
{
	struct wd_minbtf m;
	int fd;

	if (wd_minbtf_build(&m, btf, obj, obj_len)) {
		fprintf(stderr, WD_PROG ": note: relocating against the whole kernel BTF: %s\n",
			m.why);
		return wd_bytes_memfd("vmlinux-btf", btf->data, btf->len, path, len);
	}
	if (getenv("ETHOSWD_DEBUG"))
		fprintf(stderr,
			WD_PROG ": CO-RE BTF: %d relocations, %d fields, %d types, %zu bytes\n",
			m.nrelos, m.npaths, m.ntypes, m.len);
	fd = wd_bytes_memfd("core-btf", m.data, m.len, path, len);
	free(m.data);
	return fd;
}

/*
 * The BTF-attached programs of the LSM backend (lsm/, fentry/).  libbpf
 * 1.1 reads and parses the whole kernel BTF (/sys/kernel/btf/vmlinux)
 * whenever an object has such a program, only to find each attach
 * point's BTF id: 0.2-0.3 s of the start-up under TCG.  kbtf.c already
 * has that BTF, so these sections open under a handler of ours: libbpf
 * sees a program it needs no kernel BTF for (a raw tracepoint) until the
 * moment of its load, when prepare_btf_prog() gives it its real type and
 * the attach point's id (what libbpf would pass, found the same way:
 * the lowest id of a FUNC of that name).  Attaching is libbpf's own
 * (bpf_program__attach_lsm/trace, which need only the attach type).
 */
static const struct {
	const char *sec, *func;
	enum bpf_prog_type type;
	enum bpf_attach_type attach;
} btf_progs[] = {
	{ "lsm/file_permission", "bpf_lsm_file_permission", BPF_PROG_TYPE_LSM, BPF_LSM_MAC },
	{ "fentry/__x64_sys_sendfile64", "__x64_sys_sendfile64", BPF_PROG_TYPE_TRACING,
	  BPF_TRACE_FENTRY },
	{ "fentry/__x64_sys_copy_file_range", "__x64_sys_copy_file_range", BPF_PROG_TYPE_TRACING,
	  BPF_TRACE_FENTRY },
};
#define NBTF_PROGS (sizeof(btf_progs) / sizeof(btf_progs[0]))
static __u32 btf_prog_ids[NBTF_PROGS];
static int btf_prog_handlers[NBTF_PROGS];

static int prepare_btf_prog(struct bpf_program *prog, struct bpf_prog_load_opts *opts, long cookie)
{
	opts->attach_btf_id = btf_prog_ids[cookie];
	opts->expected_attach_type = btf_progs[cookie].attach;
	return bpf_program__set_type(prog, btf_progs[cookie].type);
}

static int first_func(void *arg, int i, __u32 id, const struct btf_type *t)
{
	__u32 *ids = arg;

	(void)t;
	if (!ids[i])
		ids[i] = id;
	return 0;
}

int wd_btf_progs_check(struct bpf_program *const *progs, int n)
{
	/* A section renamed in the probe would fall back to libbpf's own
	 * handler: correct, but slow again.  Said at once instead. */
	for (int i = 0; i < n; i++)
		if (bpf_program__type(progs[i]) != BPF_PROG_TYPE_RAW_TRACEPOINT)
			return wd_fail("internal: program %s (section %s) is not under "
				       "ethoswd's handler",
				       bpf_program__name(progs[i]),
				       bpf_program__section_name(progs[i]));
	return 0;
}

void wd_btf_progs_drop(void)
{
	for (size_t i = 0; i < NBTF_PROGS; i++)
		if (btf_prog_handlers[i] > 0)
			libbpf_unregister_prog_handler(btf_prog_handlers[i]);
	memset(btf_prog_handlers, 0, sizeof(btf_prog_handlers));
}

int wd_btf_progs_register(const struct wd_kbtf *btf)
{
	const char *names[NBTF_PROGS];

	memset(btf_prog_ids, 0, sizeof(btf_prog_ids));
	for (size_t i = 0; i < NBTF_PROGS; i++)
		names[i] = btf_progs[i].func;
	wd_kbtf_each_named(btf, 1u << BTF_KIND_FUNC, names, NBTF_PROGS, first_func, btf_prog_ids);
	for (size_t i = 0; i < NBTF_PROGS; i++)
		if (!btf_prog_ids[i])
			return wd_fail("could not build or attach the lsm probe: %s is not in "
				       "the kernel's BTF",
				       btf_progs[i].func);
	for (size_t i = 0; i < NBTF_PROGS; i++) {
		LIBBPF_OPTS(libbpf_prog_handler_opts, h, .cookie = i,
			    .prog_prepare_load_fn = prepare_btf_prog);

		btf_prog_handlers[i] = libbpf_register_prog_handler(
			btf_progs[i].sec, BPF_PROG_TYPE_RAW_TRACEPOINT, btf_progs[i].attach, &h);
		if (btf_prog_handlers[i] < 0) {
			int err = btf_prog_handlers[i];

			wd_btf_progs_drop();
			return wd_fail("could not build or attach the lsm probe: %s",
				       strerror(-err));
		}
	}
	return 0;
}
