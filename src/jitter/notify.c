// SPDX-License-Identifier: GPL-2.0
/*
 * notify.c - the clock system calls the supervisor answers in full (the
 * kernel never runs them for the tree): the caller waits in its seccomp
 * notification while the clamped value is written into its memory
 * (process_vm_writev) and the return value sent back.
 *
 * Errors are the kernel's, in the kernel's order: a bad clock id is
 * EINVAL before anything is written (validity is decided by the same
 * kernel: the supervisor asks it about the same id), an unwritable
 * pointer EFAULT after the value was read.
 *
 * Under pause a reply carrying a wall-clock value waits for its switch
 * point (a hold); the value is written at once (it is the reading from
 * that switch point on).
 */
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clocks.h"
#include "memio.h"
#include "notify.h"
#include "procfiles.h"
#include "readings.h"
#include "state.h"

#define FD_TO_CLOCKID(fd) ((clockid_t)(~(unsigned)(fd) << 3) | 3)

static void reply(int fd, __u64 id, long long val, int err)
{
	struct seccomp_notif_resp r = { .id = id, .val = err ? 0 : val, .error = err };

	ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* A successful reply, held until `due` under pause. */
static void reply_at(int fd, const struct seccomp_notif *n, long long val, __u64 due)
{
	struct hold h = {
		.due = due, .notif = true, .id = n->id, .val = val, .tid = (pid_t)n->pid
	};

	if (due)
		hold_add(&h);
	else
		reply(fd, n->id, val, 0);
}

static bool family_id(clockid_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_RAW ||
	       id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE ||
	       id == CLOCK_BOOTTIME || id == CLOCK_REALTIME_ALARM || id == CLOCK_BOOTTIME_ALARM ||
	       id == CLOCK_TAI;
}

/* A dynamic clock (a PTP device) the caller names by its descriptor. */
static int fd_clock(pid_t tgid, clockid_t id, __u64 *ns)
{
	struct timespec ts;
	int pfd = (int)syscall(SYS_pidfd_open, tgid, 0), fd = -1, err = -EINVAL;

	if (pfd >= 0)
		fd = (int)syscall(SYS_pidfd_getfd, pfd, (int)~(id >> 3), 0);
	if (fd >= 0 && !clock_gettime(FD_TO_CLOCKID(fd), &ts)) {
		*ns = clamp_other(WD_JT_OTHER | 0xfd0000ULL | (__u64)(__u32)tgid,
				  (__u64)ts.tv_sec * NS_PER_S + (__u64)ts.tv_nsec);
		err = 0;
	}
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	return err;
}

/* Any clock id as (tid, tgid) named it: 0 with *ns (and *due), or -errno. */
static int read_clock(clockid_t id, pid_t tid, pid_t tgid, __u64 *ns, __u64 *due)
{
	struct timespec ts;

	*due = 0;
	if (id < 0 && (id & 7) == 3)
		return fd_clock(tgid, id, ns);
	if (id < 0 || id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID)
		return cpu_clock_read(id, tid, tgid, ns);
	if (family_id(id))
		return family_read(task_get(tid), id, ns, due);
	/* another id the kernel knows (an auxiliary clock): its own timeline */
	if (clock_gettime(id, &ts))
		return -errno;
	*ns = clamp_other(WD_JT_OTHER | 0xc10000ULL | (__u64)(__u32)id,
			  (__u64)ts.tv_sec * NS_PER_S + (__u64)ts.tv_nsec);
	return 0;
}

static void do_clock_gettime(int fd, const struct seccomp_notif *n, pid_t tgid)
{
	__u64 ns, due;
	int err = read_clock((clockid_t)n->data.args[0], n->pid, tgid, &ns, &due);
	struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };

	if (err)
		reply(fd, n->id, 0, err);
	else if (mem_write(n->pid, n->data.args[1], &ts, sizeof(ts)))
		reply(fd, n->id, 0, -EFAULT);
	else
		reply_at(fd, n, 0, due);
}

/* Validity as clock_gettime decides it, without moving a pause clock. */
static int valid_clock(clockid_t id, pid_t tid, pid_t tgid)
{
	struct timespec ts;
	__u64 ns;

	if (id < 0 && (id & 7) == 3)
		return fd_clock(tgid, id, &ns);
	if (id >= 0 && id != CLOCK_PROCESS_CPUTIME_ID && id != CLOCK_THREAD_CPUTIME_ID)
		return clock_getres(id, &ts) ? -errno : 0;
	if ((id & 3) == 3)
		return -EINVAL;
	if (id < 0 && (id >> 3) != -1) { /* a named process or thread */
		pid_t pid = (pid_t) ~(id >> 3), g = tgid_of(pid);

		if (g <= 0 || ((id & 4) && g != tgid))
			return -EINVAL;
	}
	(void)tid;
	return 0;
}

static void do_clock_getres(int fd, const struct seccomp_notif *n, pid_t tgid)
{
	struct timespec ts = { (time_t)(cd.grain / NS_PER_S), (long)(cd.grain % NS_PER_S) };
	int err = valid_clock((clockid_t)n->data.args[0], n->pid, tgid);

	if (!err && n->data.args[1] && mem_write(n->pid, n->data.args[1], &ts, sizeof(ts)))
		err = -EFAULT;
	reply(fd, n->id, 0, err);
}

static void do_gettimeofday(int fd, const struct seccomp_notif *n)
{
	struct timezone tz;
	struct timeval tv;
	__u64 ns, due = 0;

	if (n->data.args[0]) {
		family_read(task_get(n->pid), CLOCK_REALTIME, &ns, &due);
		tv = (struct timeval){ (time_t)(ns / NS_PER_S),
				       (suseconds_t)(ns % NS_PER_S / 1000) };
		if (mem_write(n->pid, n->data.args[0], &tv, sizeof(tv)))
			return reply(fd, n->id, 0, -EFAULT);
	}
	if (n->data.args[1]) {
		syscall(SYS_gettimeofday, NULL, &tz);
		if (mem_write(n->pid, n->data.args[1], &tz, sizeof(tz)))
			return reply(fd, n->id, 0, -EFAULT);
	}
	reply_at(fd, n, 0, due);
}

static void do_time(int fd, const struct seccomp_notif *n)
{
	__u64 ns, due;
	long long sec;

	family_read(task_get(n->pid), CLOCK_REALTIME, &ns, &due);
	sec = (long long)(ns / NS_PER_S);
	if (n->data.args[0] && mem_write(n->pid, n->data.args[0], &sec, sizeof(sec)))
		return reply(fd, n->id, 0, -EFAULT);
	reply_at(fd, n, sec, due);
}

static void do_times(int fd, const struct seccomp_notif *n, pid_t tgid)
{
	unsigned long long k[4];
	__u64 tl = WD_JT_TIMELINE(WD_JT_PROCESS | 2ULL << 24, tgid), ns, due, u, s;
	struct tms tms;
	long long ticks;

	track_jiffies();
	family_read(task_get(n->pid), CLOCK_MONOTONIC, &ns, &due);
	ticks = (long long)((ns + cd.off_jiffies) / TICK_NS);
	if (n->data.args[0]) {
		if (stat_ticks(tgid, 0, k))
			memset(k, 0, sizeof(k));
		cpu_split(tl, cpu_timeline(tl, process_cpu_ns(tgid)), k[0], k[1], &u, &s);
		tms.tms_utime = (clock_t)(u / TICK_NS);
		tms.tms_stime = (clock_t)(s / TICK_NS);
		tms.tms_cutime = (clock_t)(clamp_other(WD_JT_TIMELINE(WD_JT_CHILDREN, tgid),
						       k[2] * TICK_NS) /
					   TICK_NS);
		tms.tms_cstime =
			(clock_t)(clamp_other(WD_JT_TIMELINE(WD_JT_CHILDREN | 1ULL << 24, tgid),
					      k[3] * TICK_NS) /
				  TICK_NS);
		if (mem_write(n->pid, n->data.args[0], &tms, sizeof(tms)))
			return reply(fd, n->id, 0, -EFAULT);
	}
	reply_at(fd, n, ticks, due);
}

static void do_sysinfo(int fd, const struct seccomp_notif *n)
{
	struct sysinfo si;
	__u64 ns, due;

	sysinfo(&si);
	family_read(task_get(n->pid), CLOCK_BOOTTIME, &ns, &due);
	si.uptime = (long)(ns / NS_PER_S);
	if (mem_write(n->pid, n->data.args[0], &si, sizeof(si)))
		return reply(fd, n->id, 0, -EFAULT);
	reply_at(fd, n, 0, due);
}

/* adjtimex / clock_adjtime: reads are answered; setting a clock is
 * refused (EPERM), since a call checked as a read could be turned into a
 * set (or back) by another thread before the kernel ran it. */
static void do_adjtime(int fd, const struct seccomp_notif *n, pid_t tgid, bool with_id)
{
	clockid_t id = with_id ? (clockid_t)n->data.args[0] : CLOCK_REALTIME;
	__u64 addr = n->data.args[with_id ? 1 : 0], ns, due;
	struct timex tx;
	int ret, err;

	if (mem_read(n->pid, addr, &tx, sizeof(tx)))
		return reply(fd, n->id, 0, -EFAULT);
	if (tx.modes != 0 && tx.modes != ADJ_OFFSET_SS_READ)
		return reply(fd, n->id, 0, -EPERM);
	memset(&tx, 0, sizeof(tx));
	ret = with_id ? clock_adjtime(id, &tx) : adjtimex(&tx);
	if (ret < 0)
		return reply(fd, n->id, 0, -errno);
	err = read_clock(id, n->pid, tgid, &ns, &due);
	if (err)
		return reply(fd, n->id, 0, err);
	tx.time.tv_sec = (time_t)(ns / NS_PER_S);
	tx.time.tv_usec = (suseconds_t)(ns % NS_PER_S / (tx.status & STA_NANO ? 1 : 1000));
	if (mem_write(n->pid, addr, &tx, sizeof(tx)))
		return reply(fd, n->id, 0, -EFAULT);
	reply_at(fd, n, ret, due);
}

static void do_open(int fd, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;
	struct open_how how;

	switch (n->data.nr) {
	case __NR_open:
		if (procfile_open(fd, n, AT_FDCWD, a[0], (int)a[1]))
			return;
		break;
	case __NR_openat:
		if (procfile_open(fd, n, (int)a[0], a[1], (int)a[2]))
			return;
		break;
	default: /* openat2: the kernel checks how and its size itself */
		if (a[3] >= sizeof(how) && !mem_read(n->pid, a[2], &how, sizeof(how)) &&
		    procfile_open(fd, n, (int)a[0], a[1], (int)how.flags))
			return;
	}
	struct seccomp_notif_resp r = { .id = n->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };

	cd.n.cont++;

	ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

void notify_handle(int fd)
{
	static struct seccomp_notif *n;
	static size_t size;
	struct task *t;
	pid_t tgid;

	if (!n) {
		struct seccomp_notif_sizes sz = { 0 };

		syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz);
		size = sz.seccomp_notif > sizeof(*n) ? sz.seccomp_notif : sizeof(*n);
		n = calloc(1, size);
		if (!n)
			abort();
	}
	memset(n, 0, size);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, n))
		return; /* the caller went away, or a signal came first */
	cd.n.notify++;
	t = task_get((pid_t)n->pid);
	tgid = t && t->tgid > 0 ? t->tgid : tgid_of((pid_t)n->pid);
	switch (n->data.nr) {
	case __NR_clock_gettime:
		return do_clock_gettime(fd, n, tgid);
	case __NR_clock_getres:
		return do_clock_getres(fd, n, tgid);
	case __NR_gettimeofday:
		return do_gettimeofday(fd, n);
	case __NR_time:
		return do_time(fd, n);
	case __NR_times:
		return do_times(fd, n, tgid);
	case __NR_sysinfo:
		return do_sysinfo(fd, n);
	case __NR_adjtimex:
		return do_adjtime(fd, n, tgid, false);
	case __NR_clock_adjtime:
		return do_adjtime(fd, n, tgid, true);
	case __NR_open:
	case __NR_openat:
	case __NR_openat2:
		return do_open(fd, n);
	}
	reply(fd, n->id, 0, -ENOSYS); /* not in the filter: cannot happen */
}
