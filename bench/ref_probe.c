/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ref_probe.c - the reference probe the watchdog's overhead is compared
 * with (BCC C dialect, compiled by bench/configs.py for every bench).
 *
 * The least a per-process read counter can do: one hash lookup-or-init
 * keyed by the TGID and one atomic add, nothing else.  Each function is
 * one attach point; a bench attaches exactly one of them at a time, to
 * the same hooks the watchdog backend it is compared with uses:
 *
 *   ref_empty     syscalls:sys_enter_<read family>, returns at once: the
 *                 cost of enabling the tracepoint alone
 *   ref_tp        syscalls:sys_enter_<read family>  (tracepoint backend)
 *   ref_rawtp     raw tracepoint sys_enter, read family picked by syscall
 *                 number (what a tp_btf/sys_enter program costs as well)
 *   ref_kprobe    kprobe on __x64_sys_<read family>  (kprobe backend)
 *   lsm__file_permission  BPF-LSM file_permission     (lsm backend)
 *
 * No kernel header is included (as in probe/), so it compiles wherever
 * the watchdog does; the kprobe and LSM functions are compiled only with
 * -DREF_KPROBE / -DREF_LSM, on kernels where those backends work.
 */

/* x86-64 syscall numbers of the read family. */
#define REF_NR_READ    0
#define REF_NR_PREAD64 17
#define REF_NR_READV   19
#define REF_NR_PREADV  295
#define REF_NR_PREADV2 327

BPF_HASH(ref_counts, u32, u64, 65536);

static __always_inline void ref_count(void)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u64 zero = 0;
	u64 *v = ref_counts.lookup_or_try_init(&tgid, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

int ref_empty(void *ctx)
{
	return 0;
}

int ref_tp(void *ctx)
{
	ref_count();
	return 0;
}

/* Raw tracepoint sys_enter(struct pt_regs *regs, long id): ctx[1] = id. */
int ref_rawtp(unsigned long long *ctx)
{
	long id = ctx[1];

	if (id == REF_NR_READ || id == REF_NR_PREAD64 || id == REF_NR_READV ||
	    id == REF_NR_PREADV || id == REF_NR_PREADV2)
		ref_count();
	return 0;
}

#ifdef REF_KPROBE
int ref_kprobe(struct pt_regs *ctx)
{
	ref_count();
	return 0;
}
#endif

#ifdef REF_LSM
/* file_permission(file, mask, ret): count, keep an earlier refusal. */
int lsm__file_permission(unsigned long long *ctx)
{
	int ret = (int)ctx[2];

	if (ret)
		return ret;
	ref_count();
	return 0;
}
#endif
