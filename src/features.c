// SPDX-License-Identifier: GPL-2.0
/*
 * features.c - probe what this kernel can do, one feature at a time
 * (mirrors the probing half of ethoswd/features.py: Features() and its
 * _probe_* functions).  The choice of backend and action, the routes and
 * the BTF offsets the probe reads are choose.c; --probe-features's output
 * is features_report.c.
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

#include "kbtf.h"
#include <bpf/libbpf.h>

#include "strutil.h"
#include "sysenv.h"
#include "offsets.h"
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
	[WD_F_TYPED_FILE] = "typed file reads (bpf_rdonly_cast)",
	[WD_F_SIGCONT] = "throttle escalation (SIGCONT)",
};

/* Read-family syscalls, then the copy syscalls (WD_ROUTES of
 * watchdog_map.h): every one needs its tracepoint or injection point. */
#define WD_ROUTE_NAME(name, fd_arg, copy) #name,
static const char *const read_syscalls[] = { WD_ROUTES(WD_ROUTE_NAME) };
#undef WD_ROUTE_NAME

static const char *const tracefs_roots[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

/* The tracepoint of each submitted io_uring request: renamed in 6.4. */
static const char *const uring_tps[] = {
	"io_uring/io_uring_submit_req",
	"io_uring/io_uring_submit_sqe",
};

#define LSM_HOOK    "bpf_lsm_file_permission"
#define ERRINJ_LIST "/sys/kernel/debug/error_injection/list"
#define KPROBE_OPT  "/proc/sys/debug/kprobes-optimization"

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

/* Python's str.splitlines() breaks, for ASCII. */
static bool py_break(char c)
{
	return c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e);
}

/* The first whitespace-separated word of a line (line.split()[0]), cut
 * in place; NULL for a blank line. */
static char *first_word(char *line)
{
	char *w = line, *e;

	while (*w && wd_py_space(*w))
		w++;
	if (!*w)
		return NULL;
	for (e = w; *e && !wd_py_space(*e); e++)
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
	for (s = buf; *s && wd_py_space(*s); s++)
		;
	for (e = s + strlen(s); e > s && wd_py_space(e[-1]); e--)
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
#define CALL(fn)	INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define EXIT()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

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
	while (s < e && wd_py_space(*s))
		s++;
	while (e > s && wd_py_space(e[-1]))
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
static void probe_load(struct wd_feature *ft, enum bpf_prog_type type, const struct bpf_insn *insns,
		       size_t n, enum bpf_attach_type attach, __u32 btf_id)
{
	char log[8192] = "", reason[400];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .attempts = 1, .expected_attach_type = attach,
		    .attach_btf_id = btf_id, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 1);
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
		wd_cat(ft->detail, sizeof(ft->detail), ": %s", reason);
}

bool wd_probe_prog(int type, const struct bpf_insn *insns, size_t n, char *detail, size_t len)
{
	struct wd_feature ft = { .name = "" };

	probe_load(&ft, (enum bpf_prog_type)type, insns, n, 0, 0);
	snprintf(detail, len, "%s", ft.detail);
	return ft.ok;
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
		MOV64_IMM(1, 0),
		CALL(helper),
		MOV64_IMM(0, 0),
		EXIT(),
	};

	probe_load(ft, BPF_PROG_TYPE_TRACEPOINT, code, NELEMS(code), 0, 0);
}

/* A kprobe program calling bpf_override_return(ctx, -1): refused unless
 * the kernel has CONFIG_BPF_KPROBE_OVERRIDE. */
static void probe_override(struct wd_feature *ft)
{
	const struct bpf_insn code[] = {
		MOV64_IMM(2, -1),
		CALL(BPF_FUNC_override_return),
		MOV64_IMM(0, 0),
		EXIT(),
	};

	probe_load(ft, BPF_PROG_TYPE_KPROBE, code, NELEMS(code), 0, 0);
}

/* ---- BTF -------------------------------------------------------------- */

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

static void probe_btf(struct wd_features *f)
{
	struct wd_feature *ft = &f->feat[WD_F_BTF];

	f->btf = NULL;
	if (!exists("/sys/kernel/btf/vmlinux")) {
		set(ft, false, "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)");
		return;
	}
	f->btf = calloc(1, sizeof(*f->btf));
	int err = f->btf ? wd_kbtf_load(f->btf, "/sys/kernel/btf/vmlinux") : -ENOMEM;

	if (err) {
		/* str(OSError(errno, ...)) in the Python */
		set(ft, false, "[Errno %d] cannot load kernel BTF", -err);
		free(f->btf);
		f->btf = NULL;
		return;
	}
	set(ft, true, "/sys/kernel/btf/vmlinux");
}

/* features.uring_read_ops: the io_uring read opcodes this kernel has, as
 * "READ, READV, ..." in f->uring_ops: the newer ones only if the BTF's
 * enum io_uring_op names them; without BTF, every one the probe counts. */
static void probe_uring_ops(struct wd_features *f)
{
	static const char *const ops[] = { "READ", "READV", "READ_FIXED", "READV_FIXED",
					   "READ_MULTISHOT" };
	static const bool newer[] = { false, false, false, true, true };
	const struct btf_type *t = NULL;
	int id = f->btf ? wd_kbtf_find(f->btf, "io_uring_op", BTF_KIND_ENUM) : -1;

	if (id > 0)
		t = wd_kbtf_type(f->btf, (__u32)id);
	f->uring_ops[0] = '\0';
	for (size_t i = 0; i < NELEMS(ops); i++) {
		bool have = !newer[i] || !f->btf;

		for (__u16 j = 0; t && !have && j < btf_vlen(t); j++) {
			const char *name = wd_kbtf_name(f->btf, btf_enum(t)[j].name_off);

			have = name && !strncmp(name, "IORING_OP_", 10) &&
			       !strcmp(name + 10, ops[i]);
		}
		if (have)
			wd_cat(f->uring_ops, sizeof(f->uring_ops), "%s%s",
			       f->uring_ops[0] ? ", " : "", ops[i]);
	}
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
		"sched/sched_process_exit",
		"task/task_newtask",
	};
	const char *root = tracefs_root();
	char sub[128];

	if (!root) {
		set(ft, false,
		    "tracefs not mounted (mount -t tracefs tracefs /sys/kernel/tracing)");
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
	/* tracefs hands out as much as fits: big reads, few syscalls. */
	setvbuf(fp, NULL, _IOFBF, 1 << 20);
	while (found != (1 << NELEMS(read_syscalls)) - 1 && getline(&line, &cap, fp) > 0) {
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
		set(ft, false,
		    "no %s (CONFIG_FUNCTION_ERROR_INJECTION off, or "
		    "debugfs not mounted)",
		    ERRINJ_LIST);
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
	set(ft, false,
	    "read syscalls are not ftrace sites (CONFIG_FUNCTION_TRACER off), "
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
		CALL(BPF_FUNC_get_current_task_btf),
		MOV64_REG(1, 0),
		CALL(BPF_FUNC_task_pt_regs),
		MOV64_IMM(0, 0),
		EXIT(),
	};
	int hook;

	if (!f->btf) {
		set(ft, false, "no kernel BTF");
		return;
	}
	hook = wd_kbtf_find(f->btf, LSM_HOOK, BTF_KIND_FUNC);
	if (hook <= 0) {
		set(ft, false, "%s not in BTF (CONFIG_BPF_LSM off)", LSM_HOOK);
		return;
	}
	probe_load(ft, BPF_PROG_TYPE_LSM, code, NELEMS(code), BPF_LSM_MAC, hook);
	if (!ft->ok && !strncmp(ft->detail, "EPERM", 5) && wd_bpf_capable())
		wd_cat(ft->detail, sizeof(ft->detail),
		       " with CAP_BPF and CAP_PERFMON: the kernel's policy forbids BPF-LSM "
		       "programs");
}

/*
 * Can a tracepoint program call bpf_rdonly_cast() (a kfunc, Linux 6.2+) to
 * give a struct file address its type?  Keeps the kfunc's and struct
 * file's ids for the loader's rewrite (features.py _probe_typed_file).
 */
static void probe_typed_file(struct wd_features *f)
{
	struct wd_feature *ft = &f->feat[WD_F_TYPED_FILE];
	int func, file;

	if (!f->btf) {
		set(ft, false, "no kernel BTF");
		return;
	}
	func = wd_kbtf_find(f->btf, "bpf_rdonly_cast", BTF_KIND_FUNC);
	file = wd_kbtf_find(f->btf, "file", BTF_KIND_STRUCT);
	if (func <= 0 || file <= 0) {
		set(ft, false,
		    "no bpf_rdonly_cast kfunc (Linux 6.2+): a read class costs four "
		    "bpf_probe_read_kernel calls");
		return;
	}
	const struct bpf_insn code[] = {
		MOV64_IMM(1, 0),
		MOV64_IMM(2, file),
		INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, func),
		MOV64_IMM(0, 0),
		EXIT(),
	};

	probe_load(ft, BPF_PROG_TYPE_TRACEPOINT, code, NELEMS(code), 0, 0);
	if (ft->ok) {
		set(ft, true, "a read class's file members are typed loads");
		f->cast_func_id = func;
		f->file_btf_id = file;
	}
}

/*
 * Throttle holds against SIGCONT only if the probe sees every SIGCONT (raw
 * tracepoint signal_generate) and can tell whose process it resumes
 * (task_struct.tgid and the signal's si_code, from BTF; task_struct.
 * start_time too, for threads made after a stop): features.py
 * _probe_sigcont.
 */
static void probe_sigcont(struct wd_features *f)
{
	static const char *const members[][2] = { { "task_struct", "tgid" },
						  { "kernel_siginfo", "si_code" },
						  { "task_struct", "start_time" } };
	struct wd_feature *ft = &f->feat[WD_F_SIGCONT];
	const struct bpf_insn code[] = { MOV64_IMM(0, 0), EXIT() };
	const char *root = tracefs_root();
	char err[256];

	if (!root || !dir_under(root, "events/signal/signal_generate")) {
		set(ft, false, "no tracepoint signal/signal_generate");
		return;
	}
	probe_load(ft, BPF_PROG_TYPE_RAW_TRACEPOINT, code, NELEMS(code), 0, 0);
	if (!ft->ok) {
		char detail[sizeof(ft->detail)];

		snprintf(detail, sizeof(detail), "%s", ft->detail);
		set(ft, false, "raw tracepoint program load: %s", detail);
		return;
	}
	if (!f->btf) {
		set(ft, false, "no kernel BTF (to find a signalled thread's process)");
		return;
	}
	for (size_t i = 0; i < NELEMS(members); i++) {
		if (wd_btf_offset(f, members[i][0], members[i][1], err, sizeof(err)) < 0) {
			set(ft, false, "%s", err);
			return;
		}
	}
	set(ft, true,
	    "raw tracepoint signal_generate: a process another one resumes during its "
	    "throttled window is killed");
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

int wd_features_probe(struct wd_features *f, bool all)
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
	wd_put(f->kernel, sizeof(f->kernel), "%s (%s)", u.release, u.machine);
	set(&ft[WD_F_X86_64], !strcmp(u.machine, "x86_64"), "%s", u.machine);
	probe_bpf(f);
	probe_tracepoints(&ft[WD_F_TRACEPOINTS]);
	probe_uring(f);
	probe_cgroup2(&ft[WD_F_CGROUP2]);
	probe_kprobes(&ft[WD_F_KPROBES]);
	probe_error_injection(&ft[WD_F_ERROR_INJECTION]);
	if (!ft[WD_F_KPROBES].ok)
		set(&ft[WD_F_OVERRIDE_PATH], false, "no kprobes");
	else if (all || (ft[WD_F_OVERRIDE].ok && ft[WD_F_ERROR_INJECTION].ok))
		probe_override_path(&ft[WD_F_OVERRIDE_PATH]);
	else
		/* Only the kprobe backend asks, after bpf_override_return and
		 * error injection, one of which is missing: the listing of
		 * every traceable function (a third of the start-up in a TCG
		 * guest) would change no answer. */
		set(&ft[WD_F_OVERRIDE_PATH], false, "not probed: kprobe lacks an earlier need");
	probe_btf(f);
	probe_uring_ops(f);
	probe_sigcont(f);
	probe_active_lsm(&ft[WD_F_LSM_ACTIVE]);
	probe_lsm_load(f);
	if (wd_file_offsets_problem(f, problem, sizeof(problem)))
		set(&ft[WD_F_FILE_LOOKUP], false, "%s", problem);
	else
		set(&ft[WD_F_FILE_LOOKUP], true,
		    "read classes, --file, --exclude-exe on every backend");
	probe_typed_file(f);
	libbpf_set_print(old);
	return 0;
}

void wd_features_free(struct wd_features *f)
{
	if (f->btf)
		wd_kbtf_free(f->btf);
	free(f->btf);
	f->btf = NULL;
}
