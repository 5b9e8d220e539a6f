// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_bpf_probe.c - does this kernel let --jitter write clock values
 * into a process's memory (bpf_probe_write_user)?  The write mode's
 * feature check: a real load of a two-instruction tracepoint program
 * calling the helper, as features.c loads its probes
 * (ethoswd/jitter_bpf.py probe_write), with the kernel's lockdown level.
 */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>

#include "jitter_bpf_run.h"
#include "wdfeatures.h"

#define BPF_FUNC_PROBE_WRITE_USER 36

static void lockdown_state(char *out, size_t len)
{
	char text[128] = "";
	FILE *f = fopen("/sys/kernel/security/lockdown", "re");
	char *a, *b;

	snprintf(out, len, "unknown");
	if (!f)
		return;
	if (fgets(text, sizeof(text), f)) {
		a = strchr(text, '[');
		b = a ? strchr(a, ']') : NULL;
		if (b)
			snprintf(out, len, "%.*s", (int)(b - a - 1), a + 1);
		else
			snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
	}
	fclose(f);
}

int wd_jb_probe_write(char *detail, size_t len)
{
	/* *(u64 *)(fp - 8) = 0; bpf_probe_write_user(NULL, fp - 8, 8); return 0 */
	const struct bpf_insn code[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X,
		  .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = 8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_PROBE_WRITE_USER },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char why[512], lock[64];
	bool ok = wd_probe_prog(BPF_PROG_TYPE_TRACEPOINT, code, sizeof(code) / sizeof(code[0]), why,
				sizeof(why));

	lockdown_state(lock, sizeof(lock));
	snprintf(detail, len, "%s%slockdown %s", ok ? "" : why, ok ? "" : "; ", lock);
	return ok;
}
