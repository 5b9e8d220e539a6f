// SPDX-License-Identifier: GPL-2.0
/*
 * vdso.c - find the vDSO the way a hostile program does: through the
 * auxiliary vector (AT_SYSINFO_EHDR) and, when a defence hides that entry,
 * through /proc/self/maps ("[vdso]", "[vvar]"), then look a function up in
 * the vDSO's ELF dynamic symbol table (the vDSO image is mapped whole,
 * section headers included).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "jt.h"

uintptr_t jt_vdso_base_auxv(void)
{
	return (uintptr_t)getauxval(AT_SYSINFO_EHDR);
}

uintptr_t jt_map_base(const char *tag)
{
	char line[512];
	size_t len = strlen(tag);
	uintptr_t base = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (!base && fgets(line, sizeof(line), f)) {
		char *end = line + strcspn(line, "\n");
		unsigned long lo;
		/* The tag ends the line: "[vvar]" must not match "[vvar_vclock]". */
		if ((size_t)(end - line) >= len && !memcmp(end - len, tag, len) &&
		    sscanf(line, "%lx-", &lo) == 1)
			base = lo;
	}
	fclose(f);
	return base;
}

void *jt_vdso_sym(uintptr_t base, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Shdr *sh;
	intptr_t load = -1;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return NULL;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			load = (intptr_t)base + (intptr_t)ph[i].p_offset - (intptr_t)ph[i].p_vaddr;
			break;
		}
	if (load == -1 || !eh->e_shoff)
		return NULL;
	sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
			continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		size_t n = sh[i].sh_size / sizeof(*sym);
		for (size_t j = 0; j < n; j++)
			if (sym[j].st_shndx != SHN_UNDEF && !strcmp(str + sym[j].st_name, name))
				return (void *)(load + sym[j].st_value);
	}
	return NULL;
}
