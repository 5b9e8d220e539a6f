// SPDX-License-Identifier: GPL-2.0
/*
 * test_minbtf.c - checks minbtf.c on the running kernel (root): libbpf
 * relocates every program of the probe object to the same instructions
 * against the cut BTF as against the whole kernel BTF.
 *
 * Each way, the skeleton opens with that BTF as btf_custom_path and every
 * program set to load, then loads: libbpf makes the maps and relocates
 * every program before it loads any, so a program this kernel refuses
 * (an LSM program on a host that forbids them) is still compared.
 * Map references (ld_imm64 of a map fd) differ between the two objects
 * and are left out of the comparison.
 *
 *   test_minbtf           one line of counts; exit 0 if all the same
 *
 * Output: "cut|<relocations>|<fields>|<types>|<bytes>" and
 * "same|<programs>|<instructions>", or a "differs|..." line per program
 * that differs (exit 1); setup failures exit 2.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "labels.h"
#include "kbtf.h"
#include "minbtf.h"
#include "watchdog.skel.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* The object opened against `btf` and loaded as far as it goes. */
static struct watchdog_bpf *relocated(const void *btf, size_t len)
{
	char path[64];
	int fd = wd_bytes_memfd("btf", btf, len, path, sizeof(path));
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = path);
	struct watchdog_bpf *s;

	if (fd < 0)
		return NULL;
	s = watchdog_bpf__open_opts(&opts);
	if (s)
		(void)watchdog_bpf__load(s); /* refused programs are compared too */
	close(fd);
	return s;
}

static int same_insn(const struct bpf_insn *a, const struct bpf_insn *b)
{
	struct bpf_insn x = *a, y = *b;

	/* The first half of an ld_imm64 of a map: its imm is a map fd. */
	if (x.code == (BPF_LD | BPF_IMM | BPF_DW) && x.src_reg)
		x.imm = y.imm = 0;
	return !memcmp(&x, &y, sizeof(x));
}

int main(void)
{
	struct wd_kbtf k;
	struct wd_minbtf m;
	struct watchdog_bpf *whole, *cut;
	struct bpf_program *p;
	size_t obj_len, insns = 0;
	const void *obj = watchdog_bpf__elf_bytes(&obj_len);
	int progs = 0, differ = 0;

	libbpf_set_print(quiet);
	if (wd_kbtf_load(&k, "/sys/kernel/btf/vmlinux")) {
		fprintf(stderr, "test_minbtf: cannot read /sys/kernel/btf/vmlinux\n");
		return 2;
	}
	if (wd_minbtf_build(&m, &k, obj, obj_len)) {
		fprintf(stderr, "test_minbtf: no cut BTF: %s\n", m.why);
		return 2;
	}
	printf("cut|%d|%d|%d|%zu\n", m.nrelos, m.npaths, m.ntypes, m.len);
	whole = relocated(k.data, k.len);
	cut = relocated(m.data, m.len);
	if (!whole || !cut) {
		fprintf(stderr, "test_minbtf: the object does not open\n");
		return 2;
	}
	bpf_object__for_each_program(p, whole->obj)
	{
		const char *name = bpf_program__name(p);
		struct bpf_program *q = bpf_object__find_program_by_name(cut->obj, name);
		size_t n = bpf_program__insn_cnt(p);
		const struct bpf_insn *a = bpf_program__insns(p), *b;
		size_t i = 0;

		progs++;
		insns += n;
		if (!q || bpf_program__insn_cnt(q) != n) {
			printf("differs|%s|instruction count %zu vs %zu\n", name, n,
			       q ? bpf_program__insn_cnt(q) : 0);
			differ++;
			continue;
		}
		b = bpf_program__insns(q);
		while (i < n && same_insn(&a[i], &b[i]))
			i++;
		if (i < n) {
			printf("differs|%s|instruction %zu: code %02x off %d imm %d vs off %d "
			       "imm %d\n",
			       name, i, a[i].code, a[i].off, a[i].imm, b[i].off, b[i].imm);
			differ++;
		}
	}
	if (!differ)
		printf("same|%d|%zu\n", progs, insns);
	watchdog_bpf__destroy(whole);
	watchdog_bpf__destroy(cut);
	free(m.data);
	wd_kbtf_free(&k);
	return differ ? 1 : 0;
}
