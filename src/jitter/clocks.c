// SPDX-License-Identifier: GPL-2.0
/*
 * clocks.c - where the supervisor's readings come from, and the two
 * tables it keeps: traced threads and per-timeline state.
 *
 * The wall clocks are one family on one timeline: MONOTONIC is clamped
 * (or paused), and REALTIME, BOOTTIME and TAI are that reading plus their
 * offset from MONOTONIC rounded to the grain.  So all of them switch at
 * the same keyed points: reading two of them gives no second, independent
 * clamp of the same time.  An offset is measured again only when it moved
 * by more than a grain (a clock step, a resume), so rounding cannot flip
 * back and forth.  The COARSE and ALARM ids read their fine sibling.
 * MONOTONIC_RAW drifts against MONOTONIC, so it has its own timeline, as
 * has the TSC (in cycles).
 *
 * CPU times: a thread's from /proc/TGID/task/TID/schedstat (the caller
 * waits in the notification, so its sum is current), a process's from its
 * process CPU clock, which the kernel lets any process read.  Each thread
 * and each process is a timeline of its own; under pause a reading moves
 * the timeline's virtual clock on to its next switch point
 * (wd_jitter_skip), starting from a switch point at time 0, and allows
 * half a grain between two readings for the mediation's own CPU time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/times.h>
#include <unistd.h>
#include <x86intrin.h>

#include "clocks.h"
#include "pause.h"
#include "readings.h"
#include "state.h"

/* ---- a small chained hash: u64 key -> entry -------------------------- */

#define NBUCKETS 4096

struct node {
	struct node *next;
	__u64 key;
};

static struct node *bucket_of(struct node **tab, __u64 key, struct node ***link)
{
	struct node **p = &tab[wd_jitter_fmix64(key) % NBUCKETS];

	for (; *p; p = &(*p)->next)
		if ((*p)->key == key)
			break;
	if (link)
		*link = p;
	return *p;
}

static void *tab_get(struct node **tab, __u64 key)
{
	return bucket_of(tab, key, NULL);
}

static void *tab_add(struct node **tab, __u64 key, size_t size)
{
	struct node **link, *e = bucket_of(tab, key, &link);

	if (e)
		return e;
	e = calloc(1, size);
	if (!e)
		abort(); /* out of memory: the tree is killed (EXITKILL) */
	e->key = key;
	*link = e;
	return e;
}

static void tab_del(struct node **tab, __u64 key)
{
	struct node **link, *e = bucket_of(tab, key, &link);

	if (e) {
		*link = e->next;
		free(e);
	}
}

/* ---- traced threads ---------------------------------------------------- */

struct task_node {
	struct node n;
	struct task t;
};

static struct node *tasks[NBUCKETS];

struct task *task_get(pid_t tid)
{
	struct task_node *e = tab_get(tasks, (__u64)tid);

	return e ? &e->t : NULL;
}

static pid_t read_tgid(pid_t tid)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)atoi(p + 6) : -1;
}

struct task *task_add(pid_t tid)
{
	struct task_node *e = tab_get(tasks, (__u64)tid);

	if (e)
		return &e->t;
	e = tab_add(tasks, (__u64)tid, sizeof(*e));
	e->t.tid = tid;
	e->t.tgid = read_tgid(tid);
	e->t.schedstat_fd = -1;
	cd.ntasks++;
	return &e->t;
}

void task_del(pid_t tid)
{
	struct task *t = task_get(tid);

	if (!t)
		return;
	if (t->schedstat_fd >= 0)
		close(t->schedstat_fd);
	timeline_forget(tid, tid == t->tgid);
	tab_del(tasks, (__u64)tid);
	cd.ntasks--;
}

pid_t tgid_of(pid_t tid)
{
	struct task *t = task_get(tid);

	return t && t->tgid > 0 ? t->tgid : read_tgid(tid);
}

/* ---- per-timeline state (pause offsets, user/system split) ------------- */

struct line_node {
	struct node n;
	struct wd_jvclock vc; /* the virtual clock (pause) */
	__u64 prev_u, prev_s; /* last split given */
	bool init;
};

static struct node *lines[NBUCKETS];

static struct line_node *line_of(__u64 timeline)
{
	return tab_add(lines, timeline, sizeof(struct line_node));
}

void timeline_forget(pid_t tid, bool leader)
{
	for (__u64 type = 0; type < 3; type++) {
		tab_del(lines, WD_JT_TIMELINE(WD_JT_THREAD | type << 24, tid));
		if (leader) {
			tab_del(lines, WD_JT_TIMELINE(WD_JT_PROCESS | type << 24, tid));
			tab_del(lines, WD_JT_TIMELINE(WD_JT_CHILDREN | type << 24, tid));
		}
	}
}

/* ---- the wall-clock family --------------------------------------------- */

static __u64 round_grain(long long v)
{
	long long g = (long long)cd.grain;

	return (__u64)((v >= 0 ? v + g / 2 : v - g / 2) / g * g);
}

/* offset := other - MONOTONIC rounded to G, unless within a grain of it. */
static void track_offset(clockid_t other, __u64 *off)
{
	__u64 mono = now_ns(CLOCK_MONOTONIC), o = now_ns(other);
	long long m = (long long)(o - mono), d = m - (long long)*off;

	if (!cd.offs_set || d > (long long)cd.grain || d < -(long long)cd.grain)
		*off = round_grain(m);
}

/* times() counts ticks from its own origin: the offset of that count from
 * MONOTONIC, kept while it stays within two ticks (it saws by one). */
void track_jiffies(void)
{
	long long m =
		(long long)times(NULL) * (long long)TICK_NS - (long long)now_ns(CLOCK_MONOTONIC);
	long long d = m - (long long)cd.off_jiffies;

	if (!cd.jiffies_set || d > 2 * (long long)TICK_NS || d < -2 * (long long)TICK_NS)
		cd.off_jiffies = (__u64)m;
	cd.jiffies_set = true;
}

int family_read(struct task *tk, clockid_t id, __u64 *ns, __u64 *due)
{
	struct timespec ts;
	struct wd_jclamp c;
	__u64 v;

	/* The kernel's own answer decides validity (an ALARM clock without
	 * an RTC, a reserved id): the same errno as the kernel's. */
	if (clock_gettime(id, &ts))
		return -errno;
	*due = 0;
	if (id == CLOCK_MONOTONIC_RAW) {
		c = clockd_clamp(WD_JT_MONO_RAW, cd.grain);
		*ns = cd.mode == JM_CLAMP ? wd_jitter_clamp(&c, now_ns(CLOCK_MONOTONIC_RAW)) :
					    pause_raw(tk, due);
		return 0;
	}
	track_offset(CLOCK_REALTIME, &cd.off_real);
	track_offset(CLOCK_BOOTTIME, &cd.off_boot);
	track_offset(CLOCK_TAI, &cd.off_tai);
	cd.offs_set = true;
	c = clockd_clamp(WD_JT_MONO, cd.grain);
	v = cd.mode == JM_CLAMP ? wd_jitter_clamp(&c, now_ns(CLOCK_MONOTONIC)) :
				  pause_mono(tk, due);
	switch (id) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_REALTIME_ALARM:
		v += cd.off_real;
		break;
	case CLOCK_BOOTTIME:
	case CLOCK_BOOTTIME_ALARM:
		v += cd.off_boot;
		break;
	case CLOCK_TAI:
		v += cd.off_tai;
		break;
	}
	*ns = v;
	return 0;
}

/* ---- CPU times ----------------------------------------------------------- */

__u64 cpu_timeline(__u64 timeline, __u64 raw)
{
	struct wd_jclamp c = clockd_clamp(timeline, cd.grain);
	struct line_node *l;

	if (cd.mode == JM_CLAMP)
		return wd_jitter_clamp(&c, raw);
	l = line_of(timeline);
	if (!l->init) {
		wd_jitter_vclock_init(&c, &l->vc);
		l->init = true;
	}
	/* the mediation's own CPU time between two readings (and a VM's steal
	 * time, which counts as run time) is allowed for up to half a grain */
	return wd_jitter_skip(&c, raw, &l->vc, cd.grain / 2);
}

static __u64 floor_grain(__u64 v)
{
	return v - v % cd.grain;
}

void cpu_split(__u64 timeline, __u64 total, __u64 ku, __u64 ks, __u64 *u, __u64 *s)
{
	struct line_node *l = line_of(timeline);

	if (ku + ks == 0)
		*s = 0;
	else
		*s = floor_grain((__u64)((unsigned __int128)total * ks / (ku + ks)));
	if (*s < l->prev_s)
		*s = l->prev_s;
	if (*s > total)
		*s = total;
	*u = total - *s;
	if (*u < l->prev_u) {
		*u = l->prev_u <= total ? l->prev_u : total;
		*s = total - *u;
	}
	l->prev_u = *u;
	l->prev_s = *s;
}

__u64 clamp_other(__u64 timeline, __u64 v)
{
	struct wd_jclamp c = clockd_clamp(timeline, cd.grain);

	return wd_jitter_clamp(&c, v);
}

int cpu_clock_read(clockid_t id, pid_t tid, pid_t tgid, __u64 *ns)
{
	pid_t pid, who;
	int type;
	__u64 raw, tl;

	if (id == CLOCK_PROCESS_CPUTIME_ID)
		id = MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED);
	else if (id == CLOCK_THREAD_CPUTIME_ID)
		id = MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD);
	if (id >= 0 || (id & 3) == 3)
		return -EINVAL; /* CLOCKFD ids are the caller's business */
	type = id & 3;
	pid = (pid_t) ~(id >> 3);
	if (id & CPUCLOCK_PERTHREAD) {
		who = pid ? pid : tid;
		/* the kernel: a thread clock of the caller's own group only */
		if (pid && tgid_of(pid) != tgid)
			return -EINVAL;
		if (type == CPUCLOCK_SCHED) {
			raw = thread_cpu_ns(task_get(who), who, tgid);
			if (!raw && kill(who, 0))
				return -EINVAL;
		} else {
			unsigned long long k[4];

			if (stat_ticks(tgid, who, k))
				return -EINVAL;
			raw = (k[0] + (type == 0 ? k[1] : 0)) * TICK_NS;
		}
		tl = WD_JT_TIMELINE(WD_JT_THREAD | (__u64)type << 24, who);
	} else {
		struct timespec ts;

		who = pid ? tgid_of(pid) : tgid;
		if (who <= 0 || clock_gettime(MAKE_PROCESS_CPUCLOCK(who, type), &ts))
			return -EINVAL;
		raw = (__u64)ts.tv_sec * NS_PER_S + (__u64)ts.tv_nsec;
		tl = WD_JT_TIMELINE(WD_JT_PROCESS | (__u64)type << 24, who);
	}
	*ns = cpu_timeline(tl, raw);
	return 0;
}

/* ---- the TSC ------------------------------------------------------------- */

__u64 tsc_read(struct task *tk, __u64 *due)
{
	struct wd_jclamp c = clockd_clamp(WD_JT_TSC, cd.grain * cd.tsc_khz / 1000000);
	__u64 t = __rdtsc();

	*due = 0;
	return cd.mode == JM_CLAMP ? wd_jitter_clamp(&c, t) : pause_tsc(tk, &c, t, due);
}
