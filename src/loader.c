// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - load the CO-RE probe with libbpf, fill its maps, attach it
 * (the C counterpart of ethoswd/probe.py).
 *
 * The object holds every backend's programs.  Before the load, the run's
 * settings go into its read-only data (struct wd_settings: the verifier
 * treats them as constants and drops the branches they rule out), only
 * the chosen backend's programs keep autoload, and maps the run does not
 * use shrink to one entry.  Attach points and their labels are the same
 * as probe.py attach_points(), in the same order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "corebtf.h"
#include "detach.h"
#include "errors.h"
#include "labels.h"
#include "opts.h"
#include "policy.h"
#include "report.h"
#include "loader.h"
#include "watchdog.skel.h"

/* Routes with the index of their source fd (WD_ROUTES of watchdog_map.h). */
#define WD_ROUTE_ROW(name, fd_arg, copy) { #name, fd_arg },
static const struct {
	const char *name;
	int fd_arg;
} routes[] = { WD_ROUTES(WD_ROUTE_ROW) };
#undef WD_ROUTE_ROW
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* libbpf's own messages: kept for the error line, printed only with
 * ETHOSWD_DEBUG set (the verifier log is long), each with the seconds
 * since the load began, to see where the start-up goes. */
static char last_libbpf[512];
static double load_t0;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (getenv("ETHOSWD_DEBUG"))
		fprintf(stderr, "[%8.4f] %s", now_s() - load_t0, line);
	if (level <= LIBBPF_WARN && line[0] && line[0] != '\n') {
		line[strcspn(line, "\n")] = 0;
		snprintf(last_libbpf, sizeof(last_libbpf), "%s", line);
	}
	return 0;
}

static void set_settings(struct watchdog_bpf *s, const struct wd_probe_cfg *c)
{
	struct wd_settings *w = (struct wd_settings *)&s->rodata->wd_set;

	w->action = c->action;
	w->key = c->key;
	w->self_tgid = c->self_tgid;
	w->guard_tgid = c->guard_tgid;
	w->targets = c->targets;
	w->comm_in = c->comm_in;
	w->comm_out = c->comm_out;
	w->exclude_exe = c->exclude_exe;
	w->count_fs = c->count_fs;
	w->count_files = c->count_files;
	w->typed_file = c->file_btf_id != 0;
	w->file_btf_id = c->file_btf_id;
}

/*
 * Typed file reads: rewrite the probe's calls of helper WD_CAST_MARK into
 * calls of the kfunc bpf_rdonly_cast (src_reg BPF_PSEUDO_KFUNC_CALL, imm
 * its id in the kernel's BTF, off 0: vmlinux), in every program that
 * loads (watchdog_map.h says why; ethoswd/castcall.py does the same for
 * BCC).  Without them the calls stay, in code typed_file 0 makes dead.
 */
static int rewrite_cast_calls(struct watchdog_bpf *s, __u32 func_id)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->obj)
	{
		size_t n = bpf_program__insn_cnt(prog);
		struct bpf_insn *code;
		int err;

		if (!bpf_program__autoload(prog))
			continue;
		code = malloc(n * sizeof(*code));
		if (!code)
			return -ENOMEM;
		memcpy(code, bpf_program__insns(prog), n * sizeof(*code));
		for (size_t i = 0; i < n; i++)
			if (code[i].code == (BPF_JMP | BPF_CALL) && code[i].src_reg == 0 &&
			    code[i].imm == WD_CAST_MARK) {
				code[i].src_reg = BPF_PSEUDO_KFUNC_CALL;
				code[i].off = 0;
				code[i].imm = (__s32)func_id;
			}
		err = bpf_program__set_insns(prog, code, n);
		free(code);
		if (err)
			return err;
	}
	return 0;
}

/* Which programs load: the backend's shims, the exit hook, the fork hook
 * for targets and the io_uring hooks (probe.py attach_points). */
static void choose_programs(struct watchdog_bpf *s, const struct wd_probe_cfg *c)
{
	struct bpf_program *prog;
	bool uring = c->uring_tp && c->backend != WD_BACKEND_LSM;

	bpf_object__for_each_program(prog, s->obj) bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(s->progs.wd_exit, true);
	bpf_program__set_autoload(s->progs.wd_newtask, c->targets);
	bpf_program__set_autoload(s->progs.wd_uring_submit, uring);
	bpf_program__set_autoload(s->progs.wd_sigcont, c->action == WD_ACT_THROTTLE);
	switch (c->backend) {
	case WD_BACKEND_TRACEPOINT:
		bpf_program__set_autoload(s->progs.wd_tracepoint, true);
		bpf_program__set_autoload(s->progs.wd_tp_fd1, true);
		break;
	case WD_BACKEND_KPROBE:
		bpf_program__set_autoload(s->progs.wd_kprobe, true);
		bpf_program__set_autoload(s->progs.wd_kprobe_fd1, true);
		bpf_program__set_autoload(s->progs.wd_kprobe_uring_setup,
					  uring && c->action != WD_ACT_MONITOR);
		break;
	case WD_BACKEND_LSM:
		bpf_program__set_autoload(s->progs.lsm__file_permission, true);
		bpf_program__set_autoload(s->progs.kfunc____x64_sys_sendfile64, true);
		bpf_program__set_autoload(s->progs.kfunc____x64_sys_copy_file_range, true);
		break;
	}
}

/* Map sizes: the run's own, and one entry for what it does not use (as
 * compat.h WD_SIZE does under BCC). */
static int size_maps(struct watchdog_bpf *s, const struct wd_probe_cfg *c)
{
	bool shared = c->key != WD_KEY_PROCESS;
	const struct {
		struct bpf_map *map;
		__u32 n;
	} sizes[] = {
		{ s->maps.wd_state, c->map_size },
		{ s->maps.wd_member, shared && c->targets ? c->map_size : 1 },
		{ s->maps.wd_procs, shared ? c->map_size : 1 },
		{ s->maps.wd_comm_in, c->comm_in ? WD_LIST_MAX : 1 },
		{ s->maps.wd_comm_out, c->comm_out ? WD_LIST_MAX : 1 },
		{ s->maps.wd_exe_out, c->exclude_exe ? WD_LIST_MAX : 1 },
		{ s->maps.wd_fs, c->count_fs ? WD_LIST_MAX : 1 },
		{ s->maps.wd_files, c->count_files ? WD_FILES_MAX : 1 },
		{ s->maps.wd_once, c->backend == WD_BACKEND_LSM ? WD_ONCE_MAX : 1 },
		{ s->maps.wd_stops, c->action == WD_ACT_THROTTLE ? c->map_size : 1 },
		{ s->maps.wd_over, c->action == WD_ACT_THROTTLE ? c->map_size : 1 },
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (bpf_map__set_max_entries(sizes[i].map, sizes[i].n))
			return -1;
	return 0;
}

int wd_probe_load(struct wd_probe *p, const struct wd_probe_cfg *c)
{
	double t0 = now_s();
	char btf_path[64];
	int err, btf_fd;
	size_t obj_len;
	const void *obj;
	bool lsm = c->backend == WD_BACKEND_LSM && c->btf;

	memset(p, 0, sizeof(*p));
	p->key = c->key;
	load_t0 = t0;
	libbpf_set_print(libbpf_print);
	if (lsm && wd_btf_progs_register(c->btf))
		return -1;
	obj = watchdog_bpf__elf_bytes(&obj_len);
	btf_fd = c->btf ? wd_core_btf_fd(c->btf, obj, obj_len, btf_path, sizeof(btf_path)) : -1;
	LIBBPF_OPTS(bpf_object_open_opts, open_opts,
		    .btf_custom_path = btf_fd >= 0 ? btf_path : NULL);
	p->skel = watchdog_bpf__open_opts(&open_opts);
	if (!p->skel) {
		err = wd_fail("could not open the probe object: %s", strerror(errno));
		goto out;
	}
	if (lsm) {
		struct bpf_program *const progs[] = {
			p->skel->progs.lsm__file_permission,
			p->skel->progs.kfunc____x64_sys_sendfile64,
			p->skel->progs.kfunc____x64_sys_copy_file_range
		};

		err = wd_btf_progs_check(progs, sizeof(progs) / sizeof(progs[0]));
		if (err)
			goto out;
	}
	set_settings(p->skel, c);
	choose_programs(p->skel, c);
	err = c->file_btf_id ? rewrite_cast_calls(p->skel, c->cast_func_id) : 0;
	if (!err)
		err = size_maps(p->skel, c) ? -EINVAL : watchdog_bpf__load(p->skel);
	if (err)
		err = wd_fail("could not build or attach the %s probe: %s (%s)",
			      wd_backend_name(c->backend), strerror(-err),
			      last_libbpf[0] ? last_libbpf : "no detail");
out:
	if (btf_fd >= 0)
		close(btf_fd);
	wd_btf_progs_drop();
	if (err) {
		watchdog_bpf__destroy(p->skel); /* NULL is fine */
		p->skel = NULL;
		return -1;
	}
	p->load_s = now_s() - t0;
	return 0;
}

/* The name the kernel shows for a process, without its newline. */
static void comm_of(__u32 tgid, char comm[WD_COMM_LEN])
{
	char path[64];
	FILE *f;
	size_t n;

	memset(comm, 0, WD_COMM_LEN);
	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(comm, 1, WD_COMM_LEN - 1, f);
	fclose(f);
	/* The kernel adds one "\n"; a name may itself end in one. */
	if (n && comm[n - 1] == '\n')
		comm[n - 1] = 0;
}

/* The real UID of a running process (/proc/PID/status), or 0
 * (budgets.py real_uid). */
static __u32 real_uid(__u32 tgid)
{
	char path[64], line[256];
	unsigned int uid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", tgid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u", &uid) == 1)
			break;
	if (f)
		fclose(f);
	return uid;
}

/* A target root's budget entry: its TGID with the process key, the tree
 * of its real UID with the tree key. */
static struct wd_key target_key(const struct wd_probe *p, __u32 tgid, __u32 uid)
{
	if (p->key == WD_KEY_TREE)
		return (struct wd_key){ .id = tgid, .uid = uid, .kind = WD_KEY_TREE };
	return (struct wd_key){ .id = tgid };
}

int wd_probe_add_target(struct wd_probe *p, __u32 tgid, __u32 uid)
{
	struct wd_value val = {};
	struct wd_key key;
	struct wd_member m = { .root = tgid };

	if (uid == WD_UID_FROM_PROC)
		uid = real_uid(tgid);
	m.uid = uid;
	key = target_key(p, tgid, uid);

	if (p->key != WD_KEY_PROCESS && bpf_map__update_elem(p->skel->maps.wd_member, &tgid,
							     sizeof(tgid), &m, sizeof(m), BPF_ANY))
		return wd_fail("could not add target %u: %s", tgid, strerror(errno));
	if (p->key != WD_KEY_PROCESS && p->key != WD_KEY_TREE)
		return 0;
	/* The process key's target mark is its (empty) budget; a tree's
	 * budget starts with its root as the one member. */
	comm_of(tgid, val.comm);
	val.members = p->key == WD_KEY_TREE;
	if (bpf_map__update_elem(p->skel->maps.wd_state, &key, sizeof(key), &val, sizeof(val),
				 BPF_ANY))
		return wd_fail("could not add target %u: %s", tgid, strerror(errno));
	return 0;
}

static int put_flag(struct bpf_map *map, const void *key, size_t len)
{
	__u8 one = 1;

	if (bpf_map__update_elem(map, key, len, &one, 1, BPF_ANY))
		return wd_fail("could not fill map %s: %s", bpf_map__name(map), strerror(errno));
	return 0;
}

static int put_comms(struct bpf_map *map, char (*names)[WD_COMM_LEN], int n)
{
	for (int i = 0; i < n; i++) {
		char key[WD_COMM_LEN] = {};

		/* Zero-padded, as bpf_get_current_comm() fills the probe's key. */
		strncpy(key, names[i], WD_COMM_LEN - 1);
		if (put_flag(map, key, sizeof(key)))
			return -1;
	}
	return 0;
}

static int put_files(struct bpf_map *map, const struct wd_fileid *ids, int n)
{
	for (int i = 0; i < n; i++) {
		struct wd_file f = { .dev = ids[i].dev, .ino = ids[i].ino };

		if (put_flag(map, &f, sizeof(f)))
			return -1;
	}
	return 0;
}

int wd_probe_configure(struct wd_probe *p, const struct wd_opts *o, const __u32 *targets,
		       __u32 *uids, int ntargets)
{
	const struct wd_policy *pol = &o->policy;
	struct wd_config cfg = { .max_calls = pol->max_calls, .window_ms = pol->window_ms };
	struct watchdog_bpf *s = p->skel;
	int zero = 0;

	if (bpf_map__update_elem(s->maps.wd_config, &zero, sizeof(zero), &cfg, sizeof(cfg),
				 BPF_ANY))
		return wd_fail("could not set the limit: %s", strerror(errno));
	for (int i = 0; i < ntargets; i++) {
		if (uids[i] == WD_UID_FROM_PROC) /* kept for wd_probe_drop_exited() */
			uids[i] = real_uid(targets[i]);
		if (wd_probe_add_target(p, targets[i], uids[i]))
			return -1;
	}
	if (put_comms(s->maps.wd_comm_in, (char(*)[WD_COMM_LEN])o->comm, o->ncomm) ||
	    put_comms(s->maps.wd_comm_out, (char(*)[WD_COMM_LEN])o->exclude_comm, o->nexclude_comm))
		return -1;
	for (int i = 0; i < pol->nfs; i++)
		if (put_flag(s->maps.wd_fs, &pol->fs[i].magic, sizeof(__u64)))
			return -1;
	return put_files(s->maps.wd_files, pol->files, pol->nfiles) ||
			       put_files(s->maps.wd_exe_out, pol->exclude_exe, pol->nexe) ?
		       -1 :
		       0;
}

/* Keep one link and its label; the link is destroyed by detach(). */
static int keep(struct wd_probe *p, struct bpf_link *link, const char *kind, const char *where)
{
	long err = libbpf_get_error(link);

	if (err || !link)
		return wd_fail("could not build or attach the probe: attaching %s:%s: %s", kind,
			       where, strerror(err ? -err : errno));
	if (p->nlinks == WD_MAX_LINKS) {
		bpf_link__destroy(link);
		return wd_fail("too many attach points");
	}
	snprintf(p->attached[p->nlinks], sizeof(p->attached[0]), "%s:%s", kind, where);
	p->links[p->nlinks++] = link;
	return 0;
}

static int attach_tp(struct wd_probe *p, struct bpf_program *prog, const char *where)
{
	char cat[64], name[64];
	const char *colon = strchr(where, ':');

	snprintf(cat, sizeof(cat), "%.*s", (int)(colon - where), where);
	snprintf(name, sizeof(name), "%s", colon + 1);
	return keep(p, bpf_program__attach_tracepoint(prog, cat, name), "tracepoint", where);
}

static int attach_routes(struct wd_probe *p, const struct wd_probe_cfg *c)
{
	struct watchdog_bpf *s = p->skel;
	char where[80];
	bool uring = c->uring_tp && c->backend != WD_BACKEND_LSM;

	for (size_t i = 0; i < NROUTES; i++) {
		int err;

		if (c->backend == WD_BACKEND_TRACEPOINT) {
			snprintf(where, sizeof(where), "syscalls:sys_enter_%s", routes[i].name);
			err = attach_tp(
				p, routes[i].fd_arg ? s->progs.wd_tp_fd1 : s->progs.wd_tracepoint,
				where);
		} else {
			snprintf(where, sizeof(where), "__x64_sys_%s", routes[i].name);
			err = keep(p,
				   bpf_program__attach_kprobe(routes[i].fd_arg ?
								      s->progs.wd_kprobe_fd1 :
								      s->progs.wd_kprobe,
							      false, where),
				   "kprobe", where);
		}
		if (err)
			return -1;
	}
	if (c->backend == WD_BACKEND_KPROBE && uring && c->action != WD_ACT_MONITOR)
		return keep(p,
			    bpf_program__attach_kprobe(s->progs.wd_kprobe_uring_setup, false,
						       "__x64_sys_io_uring_setup"),
			    "kprobe", "__x64_sys_io_uring_setup");
	return 0;
}

static int attach_lsm(struct wd_probe *p)
{
	struct watchdog_bpf *s = p->skel;

	if (keep(p, bpf_program__attach_lsm(s->progs.lsm__file_permission), "lsm",
		 "file_permission"))
		return -1;
	if (keep(p, bpf_program__attach_trace(s->progs.kfunc____x64_sys_sendfile64), "fentry",
		 "__x64_sys_sendfile64"))
		return -1;
	return keep(p, bpf_program__attach_trace(s->progs.kfunc____x64_sys_copy_file_range),
		    "fentry", "__x64_sys_copy_file_range");
}

int wd_probe_attach(struct wd_probe *p, const struct wd_probe_cfg *c)
{
	struct watchdog_bpf *s = p->skel;
	double t0 = now_s();
	int err = 0;

	if (c->targets)
		err = attach_tp(p, s->progs.wd_newtask, "task:task_newtask");
	if (!err)
		err = attach_tp(p, s->progs.wd_exit, "sched:sched_process_exit");
	if (!err && c->action == WD_ACT_THROTTLE)
		err = keep(
			p,
			bpf_program__attach_raw_tracepoint(s->progs.wd_sigcont, "signal_generate"),
			"raw_tracepoint", "signal_generate");
	if (!err)
		err = c->backend == WD_BACKEND_LSM ? attach_lsm(p) : attach_routes(p, c);
	if (!err && c->uring_tp && c->backend != WD_BACKEND_LSM)
		err = attach_tp(p, s->progs.wd_uring_submit, c->uring_tp);
	if (err) {
		wd_probe_detach(p->links, p->nlinks);
		p->nlinks = 0;
		return -1;
	}
	p->attach_s = now_s() - t0;
	return 0;
}

void wd_probe_close(struct wd_probe *p)
{
	wd_probe_detach(p->links, p->nlinks);
	p->nlinks = 0;
	watchdog_bpf__destroy(p->skel);
	p->skel = NULL;
}

void wd_probe_drop_exited(struct wd_probe *p, const __u32 *targets, const __u32 *uids, int n)
{
	for (int i = 0; i < n; i++) {
		char path[32];
		struct wd_key key = target_key(p, targets[i], uids[i]);

		snprintf(path, sizeof(path), "/proc/%u", targets[i]);
		if (access(path, F_OK) == 0)
			continue;
		if (p->key == WD_KEY_PROCESS || p->key == WD_KEY_TREE)
			bpf_map__delete_elem(p->skel->maps.wd_state, &key, sizeof(key), 0);
		if (p->key != WD_KEY_PROCESS)
			bpf_map__delete_elem(p->skel->maps.wd_member, &targets[i], sizeof(__u32),
					     0);
	}
}

int wd_probe_map_fd(struct wd_probe *p, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(p->skel->obj, name);

	return m ? bpf_map__fd(m) : -1;
}

/* Sum the per-CPU health counters (WD_H_* slots). */
void wd_probe_health(struct wd_probe *p, struct wd_health_counts *h)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1], sum[WD_H_SLOTS] = {};

	for (int slot = 0; ncpu > 0 && slot < WD_H_SLOTS; slot++) {
		if (bpf_map__lookup_elem(p->skel->maps.wd_health, &slot, sizeof(slot), vals,
					 sizeof(__u64) * ncpu, 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum[slot] += vals[c];
	}
	h->map_full = sum[WD_H_MAP_FULL];
	h->contended = sum[WD_H_CONTENDED];
	h->events_lost = sum[WD_H_EVENTS_LOST];
	h->targets_full = sum[WD_H_TARGETS_FULL];
	h->stops_full = sum[WD_H_STOPS_FULL];
}
