// SPDX-License-Identifier: GPL-2.0
/*
 * features.c - probe what this kernel can do, and choose the backend and
 * action: ethoswd/features.py (and main.py's --probe-features output).
 *
 * Every feature is tested for real: tiny hand-assembled programs go
 * through bpf(2) (libbpf's thin wrappers, no object files), and tracefs,
 * debugfs, securityfs and the kernel's BTF are read.  A detail string is
 * the Python's word for word, so both front ends can be compared line by
 * line (tests/host/test_cfront_features.py).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "ethoswd.h"
#include "wdfeatures.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const feature_names[WD_NFEATURES] = {
	[WD_F_X86_64] = "x86-64",
	[WD_F_BPF] = "bpf() program load",
	[WD_F_CMPXCHG] = "BPF atomic cmpxchg",
	[WD_F_RINGBUF] = "BPF ring buffer",
	[WD_F_TRACEPOINTS] = "syscall tracepoints",
	[WD_F_URING] = "io_uring submit tracepoint",
	[WD_F_CGROUP2] = "cgroup v2 (--key cgroup)",
	[WD_F_SEND_SIGNAL] = "bpf_send_signal",
	[WD_F_SEND_SIGNAL_THREAD] = "bpf_send_signal_thread",
	[WD_F_KPROBES] = "kprobes",
	[WD_F_OVERRIDE] = "bpf_override_return",
	[WD_F_ERROR_INJECTION] = "error injection on read syscalls",
	[WD_F_OVERRIDE_PATH] = "override takes effect",
	[WD_F_BTF] = "kernel BTF",
	[WD_F_LSM_ACTIVE] = "BPF-LSM active",
	[WD_F_LSM_LOAD] = "BPF-LSM program load",
	[WD_F_FILE_LOOKUP] = "file and executable via BTF",
};

/* Read-family syscalls, then the copy syscalls (features.py READ_SYSCALLS
 * + COPY_SYSCALLS): every one needs its tracepoint or injection point. */
static const char *const read_syscalls[] = {
	"read", "pread64", "readv", "preadv", "preadv2",
	"sendfile64", "splice", "copy_file_range",
};

static const char *const tracefs_roots[] = {
	"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
};

/* The tracepoint of each submitted io_uring request: renamed in 6.4. */
static const char *const uring_tps[] = {
	"io_uring/io_uring_submit_req", "io_uring/io_uring_submit_sqe",
};

#define LSM_HOOK "bpf_lsm_file_permission"
#define ERRINJ_LIST "/sys/kernel/debug/error_injection/list"
#define KPROBE_OPT "/proc/sys/debug/kprobes-optimization"

/* auto's order of preference is the enum's: lsm, kprobe, tracepoint. */
static const int action_order[] = {
	WD_ACT_DENY, WD_ACT_THROTTLE, WD_ACT_KILL, WD_ACT_MONITOR,
};

/* ---- small helpers --------------------------------------------------- */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool dir_under(const char *root, const char *sub)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	return is_dir(path);
}

static void set(struct wd_feature *ft, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set(struct wd_feature *ft, bool ok, const char *fmt, ...)
{
	va_list ap;

	ft->ok = ok;
	va_start(ap, fmt);
	vsnprintf(ft->detail, sizeof(ft->detail), fmt, ap);
	va_end(ap);
}

/* Append to a NUL-terminated buffer, cutting at its end. */
static void cat(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* snprintf() through cat(): for texts that fit in practice, where a cut
 * is acceptable and gcc's truncation warning is not. */
static void put(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Python's str.isspace() and str.splitlines() breaks, for ASCII. */
static bool py_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static bool py_break(char c)
{
	return c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
	       (c >= 0x1c && c <= 0x1e);
}

/* The first whitespace-separated word of a line (line.split()[0]), cut
 * in place; NULL for a blank line. */
static char *first_word(char *line)
{
	char *w = line, *e;

	while (*w && py_space(*w))
		w++;
	if (!*w)
		return NULL;
	for (e = w; *e && !py_space(*e); e++)
		;
	*e = '\0';
	return w;
}

/* A small file's text, stripped as Python's str.strip(); -1 if unreadable. */
static int read_stripped(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n;
	char *s, *e;

	if (!fp)
		return -1;
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	for (s = buf; *s && py_space(*s); s++)
		;
	for (e = s + strlen(s); e > s && py_space(e[-1]); e--)
		;
	*e = '\0';
	memmove(buf, s, e - s + 1);
	return 0;
}

/* The mounted tracefs, or NULL (features.tracefs_root). */
static const char *tracefs_root(void)
{
	for (size_t i = 0; i < NELEMS(tracefs_roots); i++)
		if (dir_under(tracefs_roots[i], "events"))
			return tracefs_roots[i];
	return NULL;
}

/* ---- bpf(2) probes ---------------------------------------------------- */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV64_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define CALL(fn) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * errno's name as Python 3's errno.errorcode gives it: glibc's name,
 * except where the two pick different aliases or Python has none.
 */
static const char *err_name(int err, char *buf, size_t len)
{
	const char *name = NULL;

	if (err == EDEADLK)
		return "EDEADLOCK";
	if (err == EOPNOTSUPP)
		return "ENOTSUP";
	if (err != 0 && err != EHWPOISON)
		name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, len, "%d", err);
	return buf;
}

/* "EPERM (Operation not permitted)", as bpfsys.prog_load/map_create. */
static void err_text(struct wd_feature *ft, int err)
{
	char num[16];

	set(ft, false, "%s (%s)", err_name(err, num, sizeof(num)), strerror(err));
}

/*
 * The verifier's reason (bpfsys.prog_load): the last line of the log,
 * or the one before it when the last is the "processed N insns" tally.
 * Lines as Python's strip().splitlines() makes them.
 */
static void log_reason(const char *log, char *out, size_t len)
{
	const char *s = log, *e = log + strlen(log), *p = NULL;
	const char *ls[2] = { NULL, NULL }, *le[2] = { NULL, NULL };
	int n = 0, pick;

	out[0] = '\0';
	while (s < e && py_space(*s))
		s++;
	while (e > s && py_space(e[-1]))
		e--;
	for (p = s; p < e; n++) {
		const char *q = p;

		while (q < e && !py_break(*q))
			q++;
		ls[0] = ls[1], le[0] = le[1];
		ls[1] = p, le[1] = q;
		p = q + (q + 1 < e && q[0] == '\r' && q[1] == '\n' ? 2 : 1);
	}
	if (!n)
		return;
	pick = n >= 2 && memmem(ls[1], le[1] - ls[1], "processed", 9) ? 0 : 1;
	snprintf(out, len, "%.*s", (int)(le[pick] - ls[pick]), ls[pick]);
}

/*
 * Load a program of `type` and close it at once: yes, or the errno and
 * the verifier's reason.  One attempt, a verbose log: exactly the bpf()
 * call bpfsys.prog_load makes.
 */
static void probe_load(struct wd_feature *ft, enum bpf_prog_type type,
		       const struct bpf_insn *insns, size_t n,
		       enum bpf_attach_type attach, __u32 btf_id)
{
	char log[8192] = "", reason[400];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .attempts = 1,
		    .expected_attach_type = attach, .attach_btf_id = btf_id,
		    .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load(type, NULL, "GPL", insns, n, &o);

	if (fd >= 0) {
		close(fd);
		set(ft, true, "%s", "");
		return;
	}
	err_text(ft, -fd);
	log[sizeof(log) - 1] = '\0';
	log_reason(log, reason, sizeof(reason));
	if (reason[0])
		cat(ft->detail, sizeof(ft->detail), ": %s", reason);
}

static void probe_ret0(struct wd_feature *ft)
{
	const struct bpf_insn code[] = { MOV64_IMM(0, 0), EXIT() };

	probe_load(ft, BPF_PROG_TYPE_TRACEPOINT, code, NELEMS(code), 0, 0);
}

/* The limiter's compare-and-swap on a stack slot. */
static void probe_cmpxchg(struct wd_feature *ft)
{
	const struct bpf_insn code[] = {
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0),
		MOV64_IMM(0, 0),
		MOV64_IMM(1, 1),
		INSN(BPF_STX | BPF_DW | BPF_ATOMIC, BPF_REG_10, 1, -8, BPF_CMPXCHG),
		MOV64_IMM(0, 0),
		EXIT(),
	};

	probe_load(ft, BPF_PROG_TYPE_TRACEPOINT, code, NELEMS(code), 0, 0);
}

static void probe_ringbuf(struct wd_feature *ft)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 4096, NULL);

	if (fd < 0) {
		err_text(ft, -fd);
		return;
	}
	close(fd);
	set(ft, true, "%s", "");
}

/* Can a tracepoint program call this signal helper (signal 0: none)?
 * throttle/kill signal the process once per limited window and the
 * calling thread on every over-limit call (probe/limiter.h). */
static void probe_signal(struct wd_feature *ft, int helper)
{
	const struct bpf_insn code[] = {
		MOV64_IMM(1, 0), CALL(helper), MOV64_IMM(0, 0), EXIT(),
	};

	probe_load(ft, BPF_PROG_TYPE_TRACEPOINT, code, NELEMS(code), 0, 0);
}

/* A kprobe program calling bpf_override_return(ctx, -1): refused unless
 * the kernel has CONFIG_BPF_KPROBE_OVERRIDE. */
static void probe_override(struct wd_feature *ft)
{
	const struct bpf_insn code[] = {
		MOV64_IMM(2, -1), CALL(BPF_FUNC_override_return),
		MOV64_IMM(0, 0), EXIT(),
	};

	probe_load(ft, BPF_PROG_TYPE_KPROBE, code, NELEMS(code), 0, 0);
}

/* ---- BTF -------------------------------------------------------------- */

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* Skip typedef/const/volatile/restrict/type-tag wrappers. */
static const struct btf_type *btf_resolve(const struct btf *btf, __u32 *tid)
{
	const struct btf_type *t;

	while ((t = btf__type_by_id(btf, *tid))) {
		if (!btf_is_typedef(t) && !btf_is_mod(t))
			return t;
		*tid = t->type;
	}
	return NULL;
}

/* Byte offset and type of member `name` of struct/union `tid`, looking
 * into anonymous struct/union members as C does; -1 if absent. */
static int btf_member_of(const struct btf *btf, __u32 tid, const char *name,
			 long long *off, __u32 *mtid)
{
	const struct btf_type *t = btf_resolve(btf, &tid);
	const struct btf_member *m;

	if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
		return -1;
	m = btf_members(t);
	for (__u16 i = 0; i < btf_vlen(t); i++) {
		const char *mname = btf__name_by_offset(btf, m[i].name_off);
		long long bytes = btf_member_bit_offset(t, i) / 8;

		if (mname && !strcmp(mname, name)) {
			*off = bytes, *mtid = m[i].type;
			return 0;
		}
		if ((!mname || !*mname) &&
		    !btf_member_of(btf, m[i].type, name, off, mtid)) {
			*off += bytes;
			return 0;
		}
	}
	return -1;
}

long long wd_btf_offset(const struct wd_features *f, const char *type,
			const char *path, char *err, size_t len)
{
	char part[128];
	const char *p = path;
	long long total = 0, off;
	__u32 tid;
	int id;

	if (!f->btf) {
		snprintf(err, len, "kernel BTF: %s", f->feat[WD_F_BTF].detail);
		return -1;
	}
	id = btf__find_by_name_kind(f->btf, type, BTF_KIND_STRUCT);
	if (id <= 0) {
		snprintf(err, len, "struct %s not in kernel BTF", type);
		return -1;
	}
	/* A dotted path: each part is a member of the one before it. */
	for (tid = id; *p; p += *p == '.') {
		size_t n = strcspn(p, ".");

		if (n >= sizeof(part))
			n = sizeof(part) - 1;
		memcpy(part, p, n);
		part[n] = '\0';
		p += strcspn(p, ".");
		if (btf_member_of(f->btf, tid, part, &off, &tid)) {
			snprintf(err, len, "%s.%s not in kernel BTF", type, path);
			return -1;
		}
		total += off;
	}
	return total;
}

static void probe_btf(struct wd_features *f)
{
	struct wd_feature *ft = &f->feat[WD_F_BTF];

	f->btf = NULL;
	if (!exists("/sys/kernel/btf/vmlinux")) {
		set(ft, false, "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)");
		return;
	}
	errno = 0;
	f->btf = btf__load_vmlinux_btf();
	if (!f->btf) {
		/* str(OSError(errno, ...)) in the Python */
		set(ft, false, "[Errno %d] cannot load kernel BTF", errno);
		return;
	}
	set(ft, true, "/sys/kernel/btf/vmlinux");
}

/* ---- files of the kernel ---------------------------------------------- */

/* --key cgroup needs the cgroup v2 hierarchy (bpf_get_current_cgroup_id). */
static void probe_cgroup2(struct wd_feature *ft)
{
	FILE *fp = fopen("/proc/filesystems", "r");
	char line[256], *last, *w;
	bool have = false;

	while (fp && fgets(line, sizeof(line), fp)) {
		/* line.split()[-1] == "cgroup2" */
		for (last = NULL, w = strtok(line, " \t\n\v\f\r"); w;
		     w = strtok(NULL, " \t\n\v\f\r"))
			last = w;
		if (last && !strcmp(last, "cgroup2"))
			have = true;
	}
	if (fp)
		fclose(fp);
	if (have)
		set(ft, true, "cgroup2 in /proc/filesystems");
	else
		set(ft, false, "no cgroup2 filesystem (kernel built without CONFIG_CGROUPS)");
}

static void probe_tracepoints(struct wd_feature *ft)
{
	static const char *const events[] = {
		"sched/sched_process_exit", "task/task_newtask",
	};
	const char *root = tracefs_root();
	char sub[128];

	if (!root) {
		set(ft, false, "tracefs not mounted (mount -t tracefs tracefs /sys/kernel/tracing)");
		return;
	}
	for (size_t i = 0; i < NELEMS(read_syscalls); i++) {
		snprintf(sub, sizeof(sub), "events/syscalls/sys_enter_%s", read_syscalls[i]);
		if (!dir_under(root, sub)) {
			set(ft, false, "no syscalls:sys_enter_%s (CONFIG_FTRACE_SYSCALLS)",
			    read_syscalls[i]);
			return;
		}
	}
	for (size_t i = 0; i < NELEMS(events); i++) {
		snprintf(sub, sizeof(sub), "events/%s", events[i]);
		if (!dir_under(root, sub)) {
			set(ft, false, "no tracepoint %s", events[i]);
			return;
		}
	}
	set(ft, true, "%s", root);
}

/* The io_uring submit tracepoint, or why there is none. */
static void probe_uring(struct wd_features *f)
{
	struct wd_feature *ft = &f->feat[WD_F_URING];
	const char *root = tracefs_root();
	char sub[128];

	f->uring_tp[0] = '\0';
	for (size_t i = 0; root && i < NELEMS(uring_tps); i++) {
		snprintf(sub, sizeof(sub), "events/%s", uring_tps[i]);
		if (dir_under(root, sub)) {
			snprintf(f->uring_tp, sizeof(f->uring_tp), "%s", uring_tps[i]);
			*strchr(f->uring_tp, '/') = ':';
			set(ft, true, "%s", f->uring_tp);
			return;
		}
	}
	if (root && exists("/proc/sys/kernel/io_uring_disabled"))
		set(ft, false, "io_uring without its tracepoints (CONFIG_TRACEPOINTS?)");
	else if (root && !dir_under(root, "events/syscalls/sys_enter_io_uring_setup"))
		set(ft, false, "no io_uring in this kernel (CONFIG_IO_URING off)");
	else
		set(ft, false, "no io_uring:io_uring_submit_req or io_uring:io_uring_submit_sqe");
}

static void probe_kprobes(struct wd_feature *ft)
{
	const char *root = tracefs_root();
	char path[128];

	if (exists("/sys/bus/event_source/devices/kprobe/type")) {
		set(ft, true, "perf kprobe PMU");
		return;
	}
	snprintf(path, sizeof(path), "%s/kprobe_events", root ? root : "");
	if (root && exists(path))
		set(ft, true, "kprobe_events");
	else
		set(ft, false, "kernel built without CONFIG_KPROBES/CONFIG_KPROBE_EVENTS");
}

/*
 * Which of the read syscalls' __x64_sys_ entries `path` lists as the
 * first word of a line (only lines starting with `prefix_only` if set):
 * a bit per read_syscalls[] entry; -1 if the file cannot be read.
 */
static int listed_syscalls(const char *path, bool prefix_only)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *w;
	size_t cap = 0;
	int found = 0;

	if (!fp)
		return -1;
	while (getline(&line, &cap, fp) > 0) {
		if (prefix_only && strncmp(line, "__x64_sys_", 10))
			continue;
		w = first_word(line);
		if (!w || strncmp(w, "__x64_sys_", 10))
			continue;
		for (size_t i = 0; i < NELEMS(read_syscalls); i++)
			if (!strcmp(w + 10, read_syscalls[i]))
				found |= 1 << i;
	}
	free(line);
	fclose(fp);
	return found;
}

static void probe_error_injection(struct wd_feature *ft)
{
	int found;

	if (!exists(ERRINJ_LIST)) {
		set(ft, false, "no %s (CONFIG_FUNCTION_ERROR_INJECTION off, or "
		    "debugfs not mounted)", ERRINJ_LIST);
		return;
	}
	found = listed_syscalls(ERRINJ_LIST, false);
	for (size_t i = 0; i < NELEMS(read_syscalls); i++) {
		if (!(found > 0 && (found & (1 << i)))) {
			set(ft, false, "__x64_sys_%s not in %s", read_syscalls[i], ERRINJ_LIST);
			return;
		}
	}
	set(ft, true, "%s", ERRINJ_LIST);
}

/*
 * bpf_override_return() changes the saved instruction pointer; an
 * ftrace-based or int3 kprobe honours that, but a jump-optimized kprobe
 * (CONFIG_OPTPROBES, used when the entry is not an ftrace site) ignores
 * it and the call runs anyway.  So the read syscalls must be ftrace
 * sites, or kprobe optimization must be off.
 */
static void probe_override_path(struct wd_feature *ft)
{
	const int all = (1 << NELEMS(read_syscalls)) - 1;
	const char *root = tracefs_root();
	char funcs[128], knob[16];

	snprintf(funcs, sizeof(funcs), "%s/available_filter_functions",
		 root ? root : "/sys/kernel/tracing");
	if (exists(funcs) && listed_syscalls(funcs, true) == all) {
		set(ft, true, "ftrace-based kprobes on the read syscalls");
		return;
	}
	if (!exists(KPROBE_OPT)) {
		set(ft, true, "no jump-optimized kprobes (CONFIG_OPTPROBES off)");
		return;
	}
	if (!read_stripped(KPROBE_OPT, knob, sizeof(knob)) && !strcmp(knob, "0")) {
		set(ft, true, "kprobe optimization off (%s = 0)", KPROBE_OPT);
		return;
	}
	set(ft, false, "read syscalls are not ftrace sites (CONFIG_FUNCTION_TRACER off), "
	    "so their kprobes get jump-optimized and ignore bpf_override_return; "
	    "fix: sysctl debug.kprobes-optimization=0");
}

static void probe_active_lsm(struct wd_feature *ft)
{
	const char *path = "/sys/kernel/security/lsm";
	char active[480], copy[480], *tok, *save;

	if (read_stripped(path, active, sizeof(active))) {
		set(ft, false, "cannot read %s (securityfs not mounted?)", path);
		return;
	}
	snprintf(copy, sizeof(copy), "%s", active);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, "bpf")) {
			set(ft, true, "%s", active);
			return;
		}
	set(ft, false, "'bpf' not in active LSMs (%s); boot with lsm=...,bpf", active);
}

/* What the LSM shim needs: the BTF task, its saved registers, exit 0;
 * attached to bpf_lsm_file_permission as a BPF_LSM_MAC program. */
static void probe_lsm_load(struct wd_features *f)
{
	struct wd_feature *ft = &f->feat[WD_F_LSM_LOAD];
	const struct bpf_insn code[] = {
		CALL(BPF_FUNC_get_current_task_btf), MOV64_REG(1, 0),
		CALL(BPF_FUNC_task_pt_regs), MOV64_IMM(0, 0), EXIT(),
	};
	int hook;

	if (!f->btf) {
		set(ft, false, "no kernel BTF");
		return;
	}
	hook = btf__find_by_name_kind(f->btf, LSM_HOOK, BTF_KIND_FUNC);
	if (hook <= 0) {
		set(ft, false, "%s not in BTF (CONFIG_BPF_LSM off)", LSM_HOOK);
		return;
	}
	probe_load(ft, BPF_PROG_TYPE_LSM, code, NELEMS(code), BPF_LSM_MAC, hook);
	if (!ft->ok && !strncmp(ft->detail, "EPERM", 5) && geteuid() == 0)
		cat(ft->detail, sizeof(ft->detail),
		    " as root: the kernel's policy forbids BPF-LSM programs");
}

/* ---- struct members the probe reads (features.py *_OFFSETS) ----------- */

struct member {
	const char *define, *type, *path;
};

static const struct member lsm_offsets[] = {
	{ "WD_OFF_FILE_F_INODE", "file", "f_inode" },
	{ "WD_OFF_FILE_F_PATH_DENTRY", "file", "f_path.dentry" },
	{ "WD_OFF_DENTRY_D_INODE", "dentry", "d_inode" },
	{ "WD_OFF_TASK_FLAGS", "task_struct", "flags" },
	{ "WD_OFF_REGS_ORIG_AX", "pt_regs", "orig_ax" },
};

static const struct member class_offsets[] = {
	{ "WD_OFF_FILE_F_INODE", "file", "f_inode" },
	{ "WD_OFF_INODE_I_SB", "inode", "i_sb" },
	{ "WD_OFF_INODE_I_INO", "inode", "i_ino" },
	{ "WD_OFF_SB_S_DEV", "super_block", "s_dev" },
	{ "WD_OFF_TASK_FILES", "task_struct", "files" },
	{ "WD_OFF_FILES_FDT", "files_struct", "fdt" },
	{ "WD_OFF_FDT_MAX_FDS", "fdtable", "max_fds" },
	{ "WD_OFF_FDT_FD", "fdtable", "fd" },
	{ "WD_OFF_SB_S_MAGIC", "super_block", "s_magic" },
	{ "WD_OFF_REGS_DI", "pt_regs", "di" },
	{ "WD_OFF_REGS_SI", "pt_regs", "si" },
};

/* With a read class, the io_uring shim finds a request's fd (and whether
 * it is a registered-file index) in the request itself. */
static const struct member uring_class_offsets[] = {
	{ "WD_OFF_IO_KIOCB_FLAGS", "io_kiocb", "flags" },
	{ "WD_OFF_IO_KIOCB_CQE_FD", "io_kiocb", "cqe.fd" },
};

static const struct member exe_offsets[] = {
	{ "WD_OFF_FILE_F_INODE", "file", "f_inode" },
	{ "WD_OFF_INODE_I_SB", "inode", "i_sb" },
	{ "WD_OFF_INODE_I_INO", "inode", "i_ino" },
	{ "WD_OFF_SB_S_DEV", "super_block", "s_dev" },
	{ "WD_OFF_TASK_MM", "task_struct", "mm" },
	{ "WD_OFF_MM_EXE_FILE", "mm_struct", "exe_file" },
};

/* Features.file_offsets_problem: can a call's file and a process's
 * executable be found from BTF?  Into buf; false if they can. */
static bool file_offsets_problem(const struct wd_features *f, char *buf, size_t len)
{
	char err[256];

	if (!f->btf) {
		put(buf, len, "kernel BTF: %s", f->feat[WD_F_BTF].detail);
		return true;
	}
	for (size_t i = 0; i < NELEMS(class_offsets); i++)
		if (wd_btf_offset(f, class_offsets[i].type, class_offsets[i].path,
				  err, sizeof(err)) < 0)
			goto missing;
	for (size_t i = 0; i < NELEMS(exe_offsets); i++)
		if (wd_btf_offset(f, exe_offsets[i].type, exe_offsets[i].path,
				  err, sizeof(err)) < 0)
			goto missing;
	return false;
missing:
	snprintf(buf, len, "%s", err);
	return true;
}

/* Add members to a want-list as dict.update() does: a define already
 * there keeps its place. */
static int want_add(struct wd_offset *out, int n, const struct member *m, size_t nm)
{
	for (size_t i = 0; i < nm; i++) {
		int j;

		for (j = 0; j < n && strcmp(out[j].define, m[i].define); j++)
			;
		if (j == n && n < WD_MAX_OFFSETS)
			out[n++] = (struct wd_offset){ m[i].define, m[i].type, m[i].path, 0 };
	}
	return n;
}

int wd_features_offsets(const struct wd_features *f, int backend,
			const struct wd_policy *p, struct wd_offset out[WD_MAX_OFFSETS])
{
	bool btf_policy = p && wd_policy_needs_btf(p);
	bool classes = btf_policy && !p->counts_all;
	char err[256];
	int n = 0;

	if (backend == WD_BACKEND_LSM)
		n = want_add(out, n, lsm_offsets, NELEMS(lsm_offsets));
	if (classes)
		n = want_add(out, n, class_offsets, NELEMS(class_offsets));
	if (btf_policy && p->nexe)
		n = want_add(out, n, exe_offsets, NELEMS(exe_offsets));
	if (!n)
		return 0;
	if (!f->btf)
		return wd_fail("%s need the kernel's BTF to find a call's file or executable "
			       "(%s); use --count all without --file/--exclude-exe, or a "
			       "kernel with CONFIG_DEBUG_INFO_BTF=y",
			       p && !p->counts_all ? "read classes" : "--exclude-exe",
			       f->feat[WD_F_BTF].detail);
	if (classes && backend != WD_BACKEND_LSM && f->feat[WD_F_URING].ok)
		n = want_add(out, n, uring_class_offsets, NELEMS(uring_class_offsets));
	for (int i = 0; i < n; i++) {
		out[i].off = wd_btf_offset(f, out[i].type, out[i].path, err, sizeof(err));
		if (out[i].off < 0)
			return wd_fail("this kernel's BTF lacks a member the probe reads: %s",
				       err);
	}
	return n;
}

/* ---- probing ---------------------------------------------------------- */

static void probe_bpf(struct wd_features *f)
{
	probe_ret0(&f->feat[WD_F_BPF]);
	probe_cmpxchg(&f->feat[WD_F_CMPXCHG]);
	probe_ringbuf(&f->feat[WD_F_RINGBUF]);
	probe_signal(&f->feat[WD_F_SEND_SIGNAL], BPF_FUNC_send_signal);
	probe_signal(&f->feat[WD_F_SEND_SIGNAL_THREAD], BPF_FUNC_send_signal_thread);
	probe_override(&f->feat[WD_F_OVERRIDE]);
}

int wd_features_probe(struct wd_features *f)
{
	/* Failures come back as details; keep libbpf from printing them. */
	libbpf_print_fn_t old = libbpf_set_print(silent_print);
	struct wd_feature *ft = f->feat;
	struct utsname u;
	char problem[512];

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < WD_NFEATURES; i++)
		ft[i].name = feature_names[i];
	uname(&u);
	put(f->kernel, sizeof(f->kernel), "%s (%s)", u.release, u.machine);
	set(&ft[WD_F_X86_64], !strcmp(u.machine, "x86_64"), "%s", u.machine);
	probe_bpf(f);
	probe_tracepoints(&ft[WD_F_TRACEPOINTS]);
	probe_uring(f);
	probe_cgroup2(&ft[WD_F_CGROUP2]);
	probe_kprobes(&ft[WD_F_KPROBES]);
	probe_error_injection(&ft[WD_F_ERROR_INJECTION]);
	if (ft[WD_F_KPROBES].ok)
		probe_override_path(&ft[WD_F_OVERRIDE_PATH]);
	else
		set(&ft[WD_F_OVERRIDE_PATH], false, "no kprobes");
	probe_btf(f);
	probe_active_lsm(&ft[WD_F_LSM_ACTIVE]);
	probe_lsm_load(f);
	if (file_offsets_problem(f, problem, sizeof(problem)))
		set(&ft[WD_F_FILE_LOOKUP], false, "%s", problem);
	else
		set(&ft[WD_F_FILE_LOOKUP], true,
		    "read classes, --file, --exclude-exe on every backend");
	libbpf_set_print(old);
	return 0;
}

void wd_features_free(struct wd_features *f)
{
	btf__free(f->btf);
	f->btf = NULL;
}

/* ---- choices ---------------------------------------------------------- */

/* "name: detail" of the first feature missing of `ids`, or NULL. */
static const char *first_missing(const struct wd_features *f, const int *ids, int n,
				 char *buf, size_t len)
{
	for (int i = 0; i < n; i++) {
		const struct wd_feature *ft = &f->feat[ids[i]];

		if (!ft->ok) {
			snprintf(buf, len, "%s: %s", ft->name, ft->detail);
			return buf;
		}
	}
	return NULL;
}

/* Every backend needs the limiter's map, atomics, events and the exit
 * tracepoint that removes dead processes; then its own attach points. */
const char *wd_backend_problem(const struct wd_features *f, int backend)
{
	static const int need[WD_NBACKENDS][9] = {
		[WD_BACKEND_LSM] = { WD_F_X86_64, WD_F_BPF, WD_F_CMPXCHG, WD_F_RINGBUF,
				     WD_F_TRACEPOINTS, WD_F_BTF, WD_F_LSM_ACTIVE,
				     WD_F_LSM_LOAD, -1 },
		[WD_BACKEND_KPROBE] = { WD_F_X86_64, WD_F_BPF, WD_F_CMPXCHG, WD_F_RINGBUF,
					WD_F_TRACEPOINTS, WD_F_KPROBES, WD_F_OVERRIDE,
					WD_F_ERROR_INJECTION, WD_F_OVERRIDE_PATH },
		[WD_BACKEND_TRACEPOINT] = { WD_F_X86_64, WD_F_BPF, WD_F_CMPXCHG,
					    WD_F_RINGBUF, WD_F_TRACEPOINTS, -1 },
	};
	static char buf[WD_NBACKENDS][640];
	int n = 0;

	if (backend < 0 || backend >= WD_NBACKENDS)
		return "unknown backend";
	while (n < 9 && need[backend][n] >= 0)
		n++;
	return first_missing(f, need[backend], n, buf[backend], sizeof(buf[0]));
}

const char *wd_action_problem(const struct wd_features *f, int backend, int action)
{
	static const int signals[] = { WD_F_SEND_SIGNAL, WD_F_SEND_SIGNAL_THREAD };
	static char buf[2][640];

	if (action == WD_ACT_DENY && backend == WD_BACKEND_TRACEPOINT)
		return "deny needs a backend that can fail a call (kprobe or lsm); "
		       "a tracepoint can only count and signal";
	if (action == WD_ACT_THROTTLE || action == WD_ACT_KILL)
		return first_missing(f, signals, 2, buf[action == WD_ACT_KILL],
				     sizeof(buf[0]));
	return NULL;
}

const char *wd_key_problem(const struct wd_features *f, int key)
{
	static char buf[640];
	const struct wd_feature *cg = &f->feat[WD_F_CGROUP2];

	if (key != WD_KEY_CGROUP || cg->ok)
		return NULL;
	snprintf(buf, sizeof(buf), "--key cgroup needs cgroup v2: %s; use --key uid or "
		 "--key tree", cg->detail);
	return buf;
}

/* The SetupError of features.choose: in wd_fail() and in `why`. */
static int choose_fail(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return wd_fail("%s", msg);
}

/* The backend: the one asked for, or auto's strongest; -1 on failure. */
static int choose_backend(const struct wd_features *f, int backend, int action,
			  char *why, size_t len)
{
	char msg[2048];
	int chosen = -1;

	if (backend != WD_BACKEND_AUTO) {
		const char *problem = wd_backend_problem(f, backend);

		if (problem) {
			snprintf(msg, sizeof(msg), "backend %s is not available on this "
				 "kernel: %s", wd_backend_name(backend), problem);
			return choose_fail(why, len, msg);
		}
		snprintf(why, len, "backend requested");
		return backend;
	}
	for (int b = 0; b < WD_NBACKENDS && chosen < 0; b++)
		if (!wd_backend_problem(f, b) &&
		    !(action == WD_ACT_DENY && b == WD_BACKEND_TRACEPOINT))
			chosen = b;
	if (chosen < 0 && wd_backend_problem(f, WD_BACKEND_TRACEPOINT)) {
		snprintf(msg, sizeof(msg), "no backend works on this kernel: tracepoint: %s",
			 wd_backend_problem(f, WD_BACKEND_TRACEPOINT));
		return choose_fail(why, len, msg);
	}
	if (chosen < 0) {
		const char *lsm = wd_backend_problem(f, WD_BACKEND_LSM);
		const char *kp = wd_backend_problem(f, WD_BACKEND_KPROBE);

		snprintf(msg, sizeof(msg), "--action deny is not possible on this kernel: "
			 "lsm: %s; kprobe: %s", lsm ? lsm : "None", kp ? kp : "None");
		return choose_fail(why, len, msg);
	}
	snprintf(why, len, "backend: strongest available");
	for (int b = 0; b < chosen; b++)
		cat(why, len, "%s%s (%s)", b ? "; " : "; unavailable: ",
		    wd_backend_name(b), wd_backend_problem(f, b));
	return chosen;
}

int wd_choose(const struct wd_features *f, int backend, int action,
	      int *out_backend, int *out_action, char *why, size_t len)
{
	char msg[2048];
	const char *problem;
	int chosen = choose_backend(f, backend, action, why, len);

	if (chosen < 0)
		return -1;
	if (action != WD_ACT_AUTO) {
		problem = wd_action_problem(f, chosen, action);
		if (problem) {
			snprintf(msg, sizeof(msg), "action %s is not available with "
				 "backend %s: %s", wd_action_name(action),
				 wd_backend_name(chosen), problem);
			return choose_fail(why, len, msg);
		}
		cat(why, len, "; action requested");
		*out_backend = chosen, *out_action = action;
		return 0;
	}
	for (size_t i = 0; i < NELEMS(action_order); i++) {
		action = action_order[i];
		problem = wd_action_problem(f, chosen, action);
		if (!problem)
			break;
		if (action != WD_ACT_KILL)	/* never auto's choice over throttle */
			cat(why, len, "; %s impossible: %s", wd_action_name(action), problem);
	}
	*out_backend = chosen, *out_action = action;
	return 0;
}

/* features.routes: what the backend does with each route that moves a
 * file's bytes into a process. */
int wd_routes(const struct wd_features *f, int backend, int action,
	      struct wd_route out[4])
{
	static const char *const how_read[WD_NBACKENDS] = {
		[WD_BACKEND_LSM] = "file_permission, by syscall number",
		[WD_BACKEND_KPROBE] = "syscall entry",
		[WD_BACKEND_TRACEPOINT] = "syscall entry",
	};
	static const char *const how_copy[WD_NBACKENDS] = {
		[WD_BACKEND_LSM] = "file_permission of the source file, once per call",
		[WD_BACKEND_KPROBE] = "syscall entry (source fd: sendfile's 2nd argument)",
		[WD_BACKEND_TRACEPOINT] = "syscall entry (source fd: sendfile's 2nd argument)",
	};
	const struct wd_feature *uring = &f->feat[WD_F_URING];
	bool deny = action == WD_ACT_DENY;
	struct wd_route *u = &out[2];

	if (backend < 0 || backend >= WD_NBACKENDS)
		return -1;
	out[0] = (struct wd_route){ "read, pread64, readv, preadv, preadv2", "counted", "" };
	snprintf(out[0].how, sizeof(out[0].how), "%s", how_read[backend]);
	out[1] = (struct wd_route){ "sendfile, splice, copy_file_range", "counted", "" };
	snprintf(out[1].how, sizeof(out[1].how), "%s", how_copy[backend]);
	*u = (struct wd_route){ "io_uring READ, READV, READ_FIXED", "counted", "" };
	if (backend == WD_BACKEND_LSM) {
		snprintf(u->how, sizeof(u->how), "file_permission, inline or in an io-wq "
			 "worker; a denied request completes with -EPERM");
	} else if (!uring->ok) {
		snprintf(u->status, sizeof(u->status), "out of reach");
		put(u->how, sizeof(u->how), "%s", uring->detail);
	} else if (backend == WD_BACKEND_KPROBE && deny) {
		snprintf(u->status, sizeof(u->status), "refused");
		put(u->how, sizeof(u->how), "io_uring_setup fails with EPERM for targets "
			 "(no error-injection point on an io_uring read); rings made before "
			 "the start are counted at %s, not failed", uring->detail);
	} else {
		if (deny)
			snprintf(u->status, sizeof(u->status), "counted, not failed");
		put(u->how, sizeof(u->how), "each submitted request at %s, charged "
			 "to its submitter", uring->detail);
	}
	out[3] = (struct wd_route){ "mmap'ed file pages", "out of reach",
				    "page faults and plain loads: no call, no hook per read" };
	return 4;
}

void wd_summary_line(const struct wd_features *f, char *buf, size_t len)
{
	snprintf(buf, len, "kernel %s; backends: ", f->kernel);
	for (int b = 0; b < WD_NBACKENDS; b++) {
		const char *problem = wd_backend_problem(f, b);

		cat(buf, len, "%s%s ", b ? "; " : "", wd_backend_name(b));
		if (problem)
			cat(buf, len, "no (%s)", problem);
		else
			cat(buf, len, "yes");
	}
}

/* ---- --probe-features (main.print_features) ---------------------------- */

/* Policy.as_dict() of the policy module, as JSON text (malloc'ed). */
static char *fileids_json(const struct wd_fileid *ids, int n)
{
	struct wd_jarr *a = wja_new();

	for (int i = 0; i < n; i++) {
		struct wd_json *j = wj_new();

		wj_str(j, "path", ids[i].path);
		wj_u64(j, "dev", ids[i].dev);
		wj_u64(j, "ino", ids[i].ino);
		wja_take(a, wj_end(j));
	}
	return wja_end(a);
}

char *wd_policy_json(const struct wd_policy *p)
{
	struct wd_json *j = wj_new(), *fs = wj_new();

	wj_str(j, "profile", p->profile);
	wj_str(j, "count", p->count);
	for (int i = 0; i < p->nfs; i++)
		wj_u64(fs, p->fs[i].name, p->fs[i].magic);
	wj_take(j, "filesystems", wj_end(fs));
	wj_take(j, "files", fileids_json(p->files, p->nfiles));
	wj_str(j, "key", wd_key_name(p->key));
	wj_take(j, "exclude_exe", fileids_json(p->exclude_exe, p->nexe));
	wj_u64(j, "max_calls", p->max_calls);
	wj_u64(j, "window_ms", p->window_ms);
	return wj_end(j);
}

/* One backend's line of the table: available, and its actions. */
struct backend_info {
	char missing[640];		/* "" when available */
	int nact;
	int act[4];
};

static void backend_info(const struct wd_features *f, int b, struct backend_info *bi)
{
	const char *problem = wd_backend_problem(f, b);

	snprintf(bi->missing, sizeof(bi->missing), "%s", problem ? problem : "");
	bi->nact = 0;
	for (size_t i = 0; !problem && i < NELEMS(action_order); i++)
		if (!wd_action_problem(f, b, action_order[i]))
			bi->act[bi->nact++] = action_order[i];
}

/* A growing list of text lines (malloc'ed each). */
struct lines {
	char *l[96];
	int n;
};

static void add(struct lines *ls, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct lines *ls, const char *fmt, ...)
{
	va_list ap;

	if (ls->n >= (int)NELEMS(ls->l))
		return;
	va_start(ap, fmt);
	if (vasprintf(&ls->l[ls->n], fmt, ap) >= 0)
		ls->n++;
	va_end(ap);
}

static void text_backends(const struct wd_features *f, struct lines *ls,
			  const struct backend_info *bi)
{
	struct wd_route rt[4];

	add(ls, "%s", "");
	add(ls, "%-11s %-24s %s", "BACKEND", "ACTIONS", "STATUS");
	for (int b = 0; b < WD_NBACKENDS; b++) {
		char acts[64] = "";

		for (int i = 0; i < bi[b].nact; i++)
			cat(acts, sizeof(acts), "%s%s", i ? "," : "",
			    wd_action_name(bi[b].act[i]));
		add(ls, "%-11s %-24s %s%s", wd_backend_name(b), acts[0] ? acts : "-",
		    bi[b].missing[0] ? "missing " : "available", bi[b].missing);
	}
	for (int b = 0; b < WD_NBACKENDS; b++) {
		if (!bi[b].nact)
			continue;
		add(ls, "%s", "");
		add(ls, "ROUTES with %s, %s:", wd_backend_name(b),
		    wd_action_name(bi[b].act[0]));
		wd_routes(f, b, bi[b].act[0], rt);
		for (int i = 0; i < 4; i++)
			add(ls, "  %-38s %-20s %s", rt[i].route, rt[i].status, rt[i].how);
	}
}

static void print_text(const struct wd_features *f, const struct wd_policy *p,
		       struct wd_report *r, const struct backend_info *bi,
		       bool chose, int cb, int ca, const char *why)
{
	struct lines ls = { .n = 0 };
	char count[1024];

	add(&ls, "Kernel %s", f->kernel);
	add(&ls, "%s", "");
	add(&ls, "%-34s %-4s %s", "FEATURE", "OK", "DETAIL");
	for (int i = 0; i < WD_NFEATURES; i++)
		add(&ls, "%-34s %-4s %s", f->feat[i].name, f->feat[i].ok ? "yes" : "no",
		    f->feat[i].detail);
	text_backends(f, &ls, bi);
	add(&ls, "%s", "");
	if (chose)
		add(&ls, "auto: backend %s, action %s (%s)", wd_backend_name(cb),
		    wd_action_name(ca), why);
	else
		add(&ls, "auto: %s", why);
	wd_policy_describe_count(p, count, sizeof(count));
	add(&ls, "policy %s: %llu calls / %llu ms %s; counting %s", p->profile,
	    (unsigned long long)p->max_calls, (unsigned long long)p->window_ms,
	    wd_policy_describe_key(p), count);
	wd_emit(r, NULL, (const char *const *)ls.l, ls.n);
	for (int i = 0; i < ls.n; i++)
		free(ls.l[i]);
}

static char *routes_json(const struct wd_features *f, const struct backend_info *bi)
{
	struct wd_json *all = wj_new();
	struct wd_route rt[4];

	for (int b = 0; b < WD_NBACKENDS; b++) {
		struct wd_jarr *a;

		if (!bi[b].nact)
			continue;
		a = wja_new();
		wd_routes(f, b, bi[b].act[0], rt);
		for (int i = 0; i < 4; i++) {
			struct wd_json *j = wj_new();

			wj_str(j, "route", rt[i].route);
			wj_str(j, "status", rt[i].status);
			wj_str(j, "how", rt[i].how);
			wja_take(a, wj_end(j));
		}
		wj_take(all, wd_backend_name(b), wja_end(a));
	}
	return wj_end(all);
}

static char *backends_json(const struct backend_info *bi)
{
	struct wd_json *all = wj_new();

	for (int b = 0; b < WD_NBACKENDS; b++) {
		struct wd_json *j = wj_new();
		struct wd_jarr *a = wja_new();

		for (int i = 0; i < bi[b].nact; i++)
			wja_str(a, wd_action_name(bi[b].act[i]));
		wj_bool(j, "available", !bi[b].missing[0]);
		wj_take(j, "actions", wja_end(a));
		if (bi[b].missing[0])
			wj_str(j, "missing", bi[b].missing);
		else
			wj_null(j, "missing");
		wj_take(all, wd_backend_name(b), wj_end(j));
	}
	return wj_end(all);
}

static void print_json(const struct wd_features *f, const struct wd_policy *p,
		       struct wd_report *r, const struct backend_info *bi,
		       bool chose, int cb, int ca, const char *why)
{
	struct wd_json *rec = wj_new(), *feats = wj_new(), *aut = wj_new();

	wj_str(rec, "event", "features");
	wj_str(rec, "kernel", f->kernel);
	for (int i = 0; i < WD_NFEATURES; i++) {
		struct wd_json *j = wj_new();

		wj_bool(j, "ok", f->feat[i].ok);
		wj_str(j, "detail", f->feat[i].detail);
		wj_take(feats, f->feat[i].name, wj_end(j));
	}
	wj_take(rec, "features", wj_end(feats));
	wj_take(rec, "backends", backends_json(bi));
	wj_take(rec, "routes", routes_json(f, bi));
	if (chose) {
		wj_str(aut, "backend", wd_backend_name(cb));
		wj_str(aut, "action", wd_action_name(ca));
	} else {
		wj_null(aut, "backend");
		wj_null(aut, "action");
	}
	wj_str(aut, "reason", why);
	wj_take(rec, "auto", wj_end(aut));
	wj_take(rec, "policy", wd_policy_json(p));
	wd_emit(r, rec, NULL, 0);
}

/* --probe-features: every feature, then every backend and action, and
 * the policy the other flags given would run. */
int wd_print_features(const struct wd_features *f, const struct wd_opts *o,
		      struct wd_report *r)
{
	struct backend_info bi[WD_NBACKENDS];
	char why[2048];
	int cb = -1, ca = -1;
	bool chose;

	for (int b = 0; b < WD_NBACKENDS; b++)
		backend_info(f, b, &bi[b]);
	chose = !wd_choose(f, WD_BACKEND_AUTO, WD_ACT_AUTO, &cb, &ca, why, sizeof(why));
	if (r->json)
		print_json(f, &o->policy, r, bi, chose, cb, ca, why);
	else
		print_text(f, &o->policy, r, bi, chose, cb, ca, why);
	return 0;
}
