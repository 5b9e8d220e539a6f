// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_bpf_attach.c - the libc uprobes of --jitter's BPF modes, per
 * target process (ethoswd/jitter_bpf.py attach_pid): which libc a process
 * maps, where clock_gettime and clock_getres are in it (the ELF's dynamic
 * symbols, read once per file), and the attach with the process's pid, so
 * that the kernel places the breakpoint in that process only.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "text.h"
#include "jitter_bpf_run.h"
#include "jitter.skel.h"

/* The file offset of virtual address v: through the PT_LOAD holding it. */
static __u64 file_offset(const unsigned char *base, const Elf64_Ehdr *eh, __u64 v)
{
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(base + eh->e_phoff + i * eh->e_phentsize);

		if (ph->p_type == PT_LOAD && v >= ph->p_vaddr && v < ph->p_vaddr + ph->p_filesz)
			return v - ph->p_vaddr + ph->p_offset;
	}
	return 0;
}

int wd_jb_elf_offsets(const char *path, __u64 *gettime, __u64 *getres)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	const unsigned char *b;
	const Elf64_Ehdr *eh;

	*gettime = *getres = 0;
	if (fd < 0 || fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	b = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (b == MAP_FAILED)
		return -1;
	eh = (const void *)b;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (__u64)eh->e_shnum * sizeof(Elf64_Shdr) > (__u64)st.st_size)
		goto out;
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = (const void *)(b + eh->e_shoff + i * eh->e_shentsize);
		const Elf64_Shdr *strs;

		if (sh->sh_type != SHT_DYNSYM || sh->sh_link >= eh->e_shnum ||
		    sh->sh_offset + sh->sh_size > (__u64)st.st_size)
			continue;
		strs = (const void *)(b + eh->e_shoff + sh->sh_link * eh->e_shentsize);
		for (__u64 off = 0; off + sizeof(Elf64_Sym) <= sh->sh_size;
		     off += sizeof(Elf64_Sym)) {
			const Elf64_Sym *s = (const void *)(b + sh->sh_offset + off);
			const char *name = (const char *)b + strs->sh_offset + s->st_name;
			int type = ELF64_ST_TYPE(s->st_info);

			if (!s->st_value || (type != STT_FUNC && type != STT_GNU_IFUNC) ||
			    strs->sh_offset + s->st_name >= (__u64)st.st_size)
				continue;
			if (!*gettime && !strcmp(name, "clock_gettime"))
				*gettime = file_offset(b, eh, s->st_value);
			else if (!*getres && !strcmp(name, "clock_getres"))
				*getres = file_offset(b, eh, s->st_value);
		}
	}
out:
	munmap((void *)b, st.st_size);
	return *gettime && *getres ? 0 : -1;
}

int wd_jb_libc_of(pid_t pid, char *path, size_t len)
{
	char maps[64], line[4096];
	FILE *f;
	int rc = -1;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return -1;
	while (rc && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/'), *base;
		struct stat root, own;

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		base = strrchr(p, '/') + 1;
		if (strcmp(base, "libc.so.6") &&
		    (strncmp(base, "libc-", 5) || strcmp(base + strlen(base) - 3, ".so")))
			continue;
		snprintf(maps, sizeof(maps), "/proc/%d/root", (int)pid);
		if (!stat(maps, &root) && !stat("/", &own) &&
		    (root.st_dev != own.st_dev || root.st_ino != own.st_ino))
			snprintf(path, len, "%s%s", maps, p);
		else
			snprintf(path, len, "%s", p);
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* The offsets of a libc file, from the cache or the file. */
static int libc_offsets(struct wd_jb *j, const char *path, __u64 *gettime, __u64 *getres)
{
	struct stat st;
	int i;

	if (stat(path, &st))
		return -1;
	for (i = 0; i < j->nlibc; i++)
		if (j->libc[i].dev == st.st_dev && j->libc[i].ino == st.st_ino)
			break;
	if (i == j->nlibc) {
		if (wd_jb_elf_offsets(path, gettime, getres))
			return -1;
		if (j->nlibc == (int)(sizeof(j->libc) / sizeof(j->libc[0])))
			return 0;
		j->libc[j->nlibc].dev = st.st_dev;
		j->libc[j->nlibc].ino = st.st_ino;
		j->libc[j->nlibc].gettime = *gettime;
		j->libc[j->nlibc++].getres = *getres;
		return 0;
	}
	*gettime = j->libc[i].gettime;
	*getres = j->libc[i].getres;
	return 0;
}

static struct wd_jb_proc *proc_of(struct wd_jb *j, __u32 pid)
{
	for (int i = 0; i < j->nprocs; i++)
		if (j->procs[i].pid == pid)
			return &j->procs[i];
	return NULL;
}

int wd_jb_attach_pid(struct wd_jb *j, __u32 pid)
{
	struct jitter_bpf *s = j->skel;
	struct {
		struct bpf_program *prog;
		bool ret, res;
	} pts[] = { { s->progs.jb_u_cg, false, false },
		    { s->progs.jb_ur_cg_w, true, false },
		    { s->progs.jb_u_res, false, true },
		    { s->progs.jb_ur_res_w, true, true } };
	int npts = strcmp(j->run.via, "write") ? 1 : 4;
	char path[4200];
	__u64 gettime, getres;
	struct wd_jb_proc p = { .pid = pid };
	__u8 one = 1;

	if (proc_of(j, pid))
		return 0;
	if ((wd_jb_libc_of(pid, path, sizeof(path)) &&
	     wd_jb_libc_of(getpid(), path, sizeof(path))) ||
	    libc_offsets(j, path, &gettime, &getres))
		goto fail;
	for (int i = 0; i < npts; i++) {
		p.links[i] = bpf_program__attach_uprobe(pts[i].prog, pts[i].ret, (pid_t)pid, path,
							pts[i].res ? getres : gettime);
		if (!p.links[i])
			goto fail;
		p.n++;
	}
	if (j->nprocs == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 16;
		j->procs = wd_xrealloc(j->procs, j->cap * sizeof(*j->procs));
	}
	j->procs[j->nprocs++] = p;
	bpf_map__update_elem(s->maps.jb_attached, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY);
	return 0;
fail:
	for (int i = 0; i < p.n; i++)
		bpf_link__destroy(p.links[i]);
	j->failed++;
	return -1;
}

void wd_jb_detach_pid(struct wd_jb *j, __u32 pid)
{
	struct wd_jb_proc *p = proc_of(j, pid);

	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		bpf_link__destroy(p->links[i]);
	*p = j->procs[--j->nprocs];
}
