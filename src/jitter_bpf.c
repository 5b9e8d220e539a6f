// SPDX-License-Identifier: GPL-2.0
/*
 * jitter_bpf.c - --jitter's BPF modes in ethoswd: the CO-RE object of
 * probe/jitter.bpf.c loaded next to the limiter (ethoswd/jitter_bpf.py
 * does the same with BCC).  The per-read path is the BPF program; this
 * file sets its settings, chooses its programs (the write programs only
 * in write mode: the kernel refuses to load them elsewhere), fills its
 * maps and attaches it, and runs one thread that
 *   - attaches the libc uprobes to each new target process the program
 *     reports (fork of a -p target, a --comm match) and detaches them at
 *     its exit (jitter_bpf_attach.c),
 *   - reads its own CPU time on every CPU once a second, from which the
 *     program calibrates its CPU-time estimate (probe/jitter_hold.h),
 *   - in write mode, keeps the wall clocks' offsets from MONOTONIC.
 * wd_jb_close() detaches everything; if ethoswd is killed, the kernel does
 * as its descriptors close.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "corebtf.h"
#include "errors.h"
#include "opts.h"
#include "jitter_bpf_run.h"
#include "loader.h"
#include "wdfeatures.h"
#include "jitter.skel.h"

#define NS_PER_S 1000000000ULL

static __u64 mono_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * NS_PER_S + (__u64)ts.tv_nsec;
}

/* The tracepoints a run attaches (jitter_bpf.py attach_points). */
struct tp {
	const char *name; /* "syscalls:sys_enter_clock_gettime" */
	struct bpf_program *prog;
};

static int tracepoints(struct wd_jb *j, struct tp *out)
{
	struct jitter_bpf *s = j->skel;
	bool write = !strcmp(j->run.via, "write");
	int n = 0;

#define TP(nm, p) (out[n].name = (nm), out[n++].prog = s->progs.p)
	TP("syscalls:sys_enter_clock_gettime", jb_cg_enter);
	TP("syscalls:sys_enter_gettimeofday", jb_gtod_enter);
	TP("syscalls:sys_enter_getrusage", jb_ru_enter);
	if (!write) {
		TP("syscalls:sys_exit_clock_gettime", jb_cg_exit);
		TP("syscalls:sys_exit_getrusage", jb_ru_exit);
	} else {
		TP("syscalls:sys_exit_clock_gettime", jb_cg_exit_w);
		TP("syscalls:sys_exit_gettimeofday", jb_gtod_exit_w);
		TP("syscalls:sys_exit_getrusage", jb_ru_exit_w);
		TP("syscalls:sys_enter_clock_getres", jb_res_enter);
		TP("syscalls:sys_exit_clock_getres", jb_res_exit_w);
	}
	if (!write || j->run.pause) {
		TP("syscalls:sys_enter_time", jb_time_enter);
		TP("syscalls:sys_enter_times", jb_times_enter);
	}
	if (!j->run.system_wide) {
		TP("task:task_newtask", jb_newtask);
		TP("sched:sched_process_exec", jb_exec);
		TP("task:task_rename", jb_rename);
		TP("sched:sched_process_exit", jb_exit);
	}
#undef TP
	return n;
}

/* Load only the run's programs: the attached tracepoints and uprobes. */
static void choose_programs(struct wd_jb *j)
{
	struct jitter_bpf *s = j->skel;
	struct bpf_program *prog;
	struct tp tps[16];
	int n = tracepoints(j, tps);
	bool write = !strcmp(j->run.via, "write");

	bpf_object__for_each_program(prog, s->obj) bpf_program__set_autoload(prog, false);
	for (int i = 0; i < n; i++)
		bpf_program__set_autoload(tps[i].prog, true);
	if (j->run.system_wide)
		return;
	bpf_program__set_autoload(s->progs.jb_u_cg, true);
	if (write) {
		bpf_program__set_autoload(s->progs.jb_ur_cg_w, true);
		bpf_program__set_autoload(s->progs.jb_u_res, true);
		bpf_program__set_autoload(s->progs.jb_ur_res_w, true);
	}
}

static void set_settings(struct wd_jb *j, const struct wd_opts *o)
{
	struct wd_jb_settings *st = (struct wd_jb_settings *)&j->skel->rodata->jb_set;
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
	char cs[64] = "";

	if (f) {
		if (!fgets(cs, sizeof(cs), f))
			cs[0] = 0;
		fclose(f);
	}
	cs[strcspn(cs, "\n")] = 0;
	st->grain = j->run.grain;
	st->spin_cap = j->run.grain < WD_JB_SPIN_MAX_NS ? j->run.grain : WD_JB_SPIN_MAX_NS;
	st->mode = strcmp(j->run.via, "write") ? WD_JB_QUANTIZE : WD_JB_WRITE;
	st->jfrac = j->run.jfrac;
	st->pause = j->run.pause;
	st->self_tgid = getpid();
	st->targets = o->npid > 0 || o->ncommand > 0;
	st->comm_in = o->ncomm > 0;
	st->comm_out = o->nexclude_comm > 0;
	st->vdso_hres = !strcmp(cs, "tsc") || !strcmp(cs, "kvm-clock") ||
			!strcmp(cs, "hyperv_clocksource_tsc_page");
}

/* REALTIME, BOOTTIME, TAI minus MONOTONIC, rounded to the grain; written
 * when one moved by more than a grain (jitter_bpf.py _set_offsets). */
static void set_offsets(struct wd_jb *j)
{
	static const clockid_t ids[WD_JB_NOFF] = { CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_TAI };
	long long g = (long long)j->run.grain;
	__u64 mono = mono_ns(CLOCK_MONOTONIC);

	for (int i = 0; i < WD_JB_NOFF; i++) {
		long long m = (long long)(mono_ns(ids[i]) - mono);
		__s64 v = m >= 0 ? (m + g / 2) / g * g : -((-m + g / 2) / g * g);

		if (j->offs_set && llabs(v - j->offs[i]) <= g)
			continue;
		bpf_map__update_elem(j->skel->maps.jb_offsets, &i, sizeof(i), &v, sizeof(v),
				     BPF_ANY);
		j->offs[i] = v;
	}
	j->offs_set = true;
}

/* Read this thread's CPU time on every CPU it may run on (jitter_hold.h). */
static void calibrate(void)
{
	cpu_set_t all, one;
	struct timespec ts;

	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (!sched_setaffinity(0, sizeof(one), &one))
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	}
	sched_setaffinity(0, sizeof(all), &all);
}

/* The tgid of a thread (a --comm rename names a thread). */
static __u32 tgid_of(__u32 tid)
{
	char path[64], line[256];
	__u32 tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!tgid && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Tgid:", 5))
			tgid = (__u32)strtoul(line + 5, NULL, 10);
	fclose(f);
	return tgid;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct wd_jb *j = ctx;
	const struct wd_jb_event *e = data;
	__u32 pid = e->pid;

	if (size < sizeof(*e))
		return 0;
	pthread_mutex_lock(&j->lock);
	if (e->kind == WD_JB_EV_EXIT) {
		wd_jb_detach_pid(j, pid);
	} else {
		if (e->kind == WD_JB_EV_NAME)
			pid = tgid_of(pid);
		if (pid && !wd_jb_attach_pid(j, pid) && e->kind == WD_JB_EV_NEW) {
			/* the window in which a new process's libc reads go unseen */
			__u64 lat = mono_ns(CLOCK_MONOTONIC) - e->ns;

			j->forks++;
			j->attach_ns_sum += lat;
			if (lat > j->attach_ns_max)
				j->attach_ns_max = lat;
		}
	}
	pthread_mutex_unlock(&j->lock);
	return 0;
}

static void *follow(void *arg)
{
	struct wd_jb *j = arg;
	__u64 last = mono_ns(CLOCK_MONOTONIC);

	while (!j->stop) {
		if (j->rb)
			ring_buffer__poll(j->rb, 100);
		else
			usleep(100000);
		if (mono_ns(CLOCK_MONOTONIC) - last >= NS_PER_S) {
			last = mono_ns(CLOCK_MONOTONIC);
			calibrate();
			if (!strcmp(j->run.via, "write"))
				set_offsets(j);
		}
	}
	return NULL;
}

/* The maps a run starts with: secret, targets, names, offsets. */
static void fill(struct wd_jb *j, const struct wd_opts *o, const __u32 *pids, int npids)
{
	struct jitter_bpf *s = j->skel;
	__u64 secret = 0;
	__u8 one = 1;
	int zero = 0;

	if (getrandom(&secret, sizeof(secret), 0) != sizeof(secret))
		secret = mono_ns(CLOCK_MONOTONIC) ^ ((__u64)getpid() << 32);
	bpf_map__update_elem(s->maps.jb_secret, &zero, sizeof(zero), &secret, sizeof(secret),
			     BPF_ANY);
	for (int i = 0; i < npids; i++)
		bpf_map__update_elem(s->maps.jb_targets, &pids[i], sizeof(pids[i]), &one,
				     sizeof(one), BPF_ANY);
	for (int i = 0; i < o->ncomm; i++)
		bpf_map__update_elem(s->maps.jb_comm_in, o->comm[i], WD_COMM_LEN, &one, sizeof(one),
				     BPF_ANY);
	for (int i = 0; i < o->nexclude_comm; i++)
		bpf_map__update_elem(s->maps.jb_comm_out, o->exclude_comm[i], WD_COMM_LEN, &one,
				     sizeof(one), BPF_ANY);
	if (!strcmp(j->run.via, "write"))
		set_offsets(j);
}

/* Does the kernel's BTF give a task's run queue (cfs_rq.rq, with
 * CONFIG_FAIR_GROUP_SCHED)?  The holding modes need it (jitter_hold.h). */
static bool have_rq(void)
{
	struct btf *b = btf__load_vmlinux_btf();
	const struct btf_type *t;
	const struct btf_member *m;
	bool found = false;
	int id;

	if (!b)
		return false;
	id = btf__find_by_name_kind(b, "cfs_rq", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(b, id) : NULL;
	m = t ? btf_members(t) : NULL;
	for (int i = 0; m && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(b, m[i].name_off), "rq");
	btf__free(b);
	return found;
}

/* The processes to attach at the start: the -p targets, and with --comm
 * every process one of whose threads has a matching name. */
static void attach_initial(struct wd_jb *j, const struct wd_opts *o, const __u32 *pids, int n);

int wd_jb_start(struct wd_jb *j, const struct wd_opts *o, const __u32 *pids, int npids,
		pid_t command_pid, const struct wd_kbtf *btf)
{
	char btf_path[64];
	size_t obj_len;
	const void *obj = jitter_bpf__elf_bytes(&obj_len);
	int btf_fd = btf ? wd_core_btf_fd(btf, obj, obj_len, btf_path, sizeof(btf_path)) : -1;
	struct tp tps[16];
	int err, n;

	pthread_mutex_init(&j->lock, NULL);
	if ((!strcmp(j->run.via, "quantize") || j->run.pause) && !have_rq()) {
		if (btf_fd >= 0)
			close(btf_fd);
		return wd_fail("--jitter-via %s%s holds CPU-time readers, which needs a task's run "
			       "queue (cfs_rq.rq) in the kernel's BTF: this kernel has none (built "
			       "without CONFIG_FAIR_GROUP_SCHED); use a kernel with it, or "
			       "--jitter-via write without pause",
			       j->run.via, j->run.pause ? " with --jitter-mode pause" : "");
	}
	j->run.system_wide = !npids && !o->ncomm;
	j->run.command_pid = command_pid;
	j->run.pids = o->pid;
	j->run.npids = o->npid;
	j->run.comms = (const char(*)[WD_COMM_LEN])o->comm;
	j->run.ncomms = o->ncomm;
	LIBBPF_OPTS(bpf_object_open_opts, open_opts,
		    .btf_custom_path = btf_fd >= 0 ? btf_path : NULL);
	j->skel = jitter_bpf__open_opts(&open_opts);
	if (!j->skel) {
		if (btf_fd >= 0)
			close(btf_fd);
		return wd_fail("could not open the --jitter %s object: %s", j->run.via,
			       strerror(errno));
	}
	set_settings(j, o);
	choose_programs(j);
	err = jitter_bpf__load(j->skel);
	if (btf_fd >= 0)
		close(btf_fd);
	if (err) {
		wd_fail("could not build or attach the --jitter %s program: %s", j->run.via,
			strerror(-err));
		goto fail;
	}
	fill(j, o, pids, npids);
	n = tracepoints(j, tps);
	for (int i = 0; i < n; i++) {
		char cat[64];
		const char *name = strchr(tps[i].name, ':') + 1;

		snprintf(cat, sizeof(cat), "%.*s", (int)(name - 1 - tps[i].name), tps[i].name);
		j->links[j->nlinks] = bpf_program__attach_tracepoint(tps[i].prog, cat, name);
		if (!j->links[j->nlinks]) {
			wd_fail("could not build or attach the --jitter %s program: %s: %s",
				j->run.via, tps[i].name, strerror(errno));
			goto fail;
		}
		j->nlinks++;
	}
	calibrate();
	attach_initial(j, o, pids, npids);
	j->run.uprobes = j->nprocs;
	if (!j->run.system_wide) {
		j->rb = ring_buffer__new(bpf_map__fd(j->skel->maps.jb_events), on_event, j, NULL);
		if (!j->rb) {
			wd_fail("could not open the --jitter event ring: %s", strerror(errno));
			goto fail;
		}
	}
	if (pthread_create(&j->thread, NULL, follow, j)) {
		wd_fail("could not start the --jitter thread");
		goto fail;
	}
	j->thread_on = true;
	return 0;
fail:
	wd_jb_close(j);
	return -1;
}

static void attach_initial(struct wd_jb *j, const struct wd_opts *o, const __u32 *pids, int n)
{
	char path[300], comm[WD_COMM_LEN + 2];
	struct dirent *d, *t;
	DIR *proc, *task;

	for (int i = 0; i < n; i++)
		wd_jb_attach_pid(j, pids[i]);
	if (!o->ncomm || !(proc = opendir("/proc")))
		return;
	while ((d = readdir(proc))) {
		__u32 pid = (__u32)strtoul(d->d_name, NULL, 10);
		bool match = false;

		if (pid <= 1 || pid == (__u32)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%u/task", pid);
		if (!(task = opendir(path)))
			continue;
		while (!match && (t = readdir(task))) {
			FILE *f;
			size_t len;

			if (t->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%u/task/%s/comm", pid, t->d_name);
			if (!(f = fopen(path, "re")))
				continue;
			len = fread(comm, 1, sizeof(comm) - 1, f);
			fclose(f);
			comm[len] = 0;
			if (len && comm[len - 1] == '\n')
				comm[len - 1] = 0;
			for (int i = 0; i < o->ncomm && !match; i++)
				match = !strcmp(comm, o->comm[i]);
		}
		closedir(task);
		if (match)
			wd_jb_attach_pid(j, pid);
	}
	closedir(proc);
}

void wd_jb_counts(struct wd_jb *j, struct wd_jb_counts *c)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v = calloc(ncpu > 0 ? ncpu : 1, sizeof(__u64));

	memset(c, 0, sizeof(*c));
	for (int i = 0; v && j->skel && i < WD_JB_H_SLOTS; i++)
		if (!bpf_map__lookup_elem(j->skel->maps.jb_health, &i, sizeof(i), v,
					  ncpu * sizeof(__u64), 0))
			for (int k = 0; k < ncpu; k++)
				c->h[i] += v[k];
	free(v);
	pthread_mutex_lock(&j->lock);
	c->uprobe_processes = j->nprocs;
	c->uprobe_failed = j->failed;
	c->forks = j->forks;
	c->attach_ns_sum = j->attach_ns_sum;
	c->attach_ns_max = j->attach_ns_max;
	pthread_mutex_unlock(&j->lock);
}

void wd_jb_close(struct wd_jb *j)
{
	if (j->thread_on) {
		j->stop = 1;
		pthread_join(j->thread, NULL);
		j->thread_on = false;
	}
	while (j->nprocs)
		wd_jb_detach_pid(j, j->procs[0].pid);
	free(j->procs);
	j->procs = NULL;
	j->cap = 0;
	while (j->nlinks)
		bpf_link__destroy(j->links[--j->nlinks]);
	ring_buffer__free(j->rb); /* NULL is fine */
	j->rb = NULL;
	jitter_bpf__destroy(j->skel);
	j->skel = NULL;
}
