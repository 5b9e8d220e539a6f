// SPDX-License-Identifier: GPL-2.0
/*
 * clock_probe.c - reads every clock a process has and tries every way
 * around --jitter's mediation; the host tests (tests/host/test_jitter.py)
 * judge the output.  Built static (bin/clock_probe) and dynamic
 * (bin/clock_probe_dyn).  One JSON object per line.
 *
 *   clock_probe readings N   N readings of each source, a short spin apart:
 *                            {"source", "unit", "values": [...]} or
 *                            {"source", "error": "ENOSYS"}
 *   clock_probe hostile      each way around the mediation and what it got:
 *                            {"attempt", "result"}
 *   clock_probe tree         two threads and a forked child, which execs
 *                            this program again (a grandchild image): each
 *                            prints its readings of MONOTONIC, its thread's
 *                            CPU time and rdtsc
 *   clock_probe pairs N W    N pairs of MONOTONIC readings around W us of
 *                            work: {"w_us", "diffs": [...]} in ns
 *   clock_probe spin MS      spin reading CLOCK_MONOTONIC for MS ms, then
 *                            print "done" (the fail-closed test kills the
 *                            watchdog meanwhile)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define MAX_N 64

static unsigned long long vals[MAX_N];

static void spin(int us)
{
	/* no clock: a fixed amount of work */
	volatile unsigned long x = 0;

	for (long i = 0; i < us * 300L; i++)
		x += i;
}

static const char *err_name(int e)
{
	switch (e) {
	case ENOSYS:
		return "ENOSYS";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case EINVAL:
		return "EINVAL";
	case ENOENT:
		return "ENOENT";
	case EFAULT:
		return "EFAULT";
	}
	return "other";
}

static void print_values(const char *source, const char *unit, int n)
{
	printf("{\"source\": \"%s\", \"unit\": \"%s\", \"values\": [", source, unit);
	for (int i = 0; i < n; i++)
		printf("%s%llu", i ? ", " : "", vals[i]);
	printf("]}\n");
}

static void print_error(const char *source, int e)
{
	printf("{\"source\": \"%s\", \"error\": \"%s\"}\n", source, err_name(e));
}

static unsigned long long ts_ns(const struct timespec *t)
{
	return (unsigned long long)t->tv_sec * 1000000000ULL + (unsigned long long)t->tv_nsec;
}

static unsigned long long tv_us(const struct timeval *t)
{
	return (unsigned long long)t->tv_sec * 1000000ULL + (unsigned long long)t->tv_usec;
}

/* One number from a /proc file, opened afresh: field k (1-based) of its
 * first line, after the "(comm)" for stat files. */
static int proc_field(const char *path, int k, unsigned long long *v)
{
	char buf[1024], *p = buf;
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -errno;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	if (strchr(buf, ')')) { /* stat: fields after "(comm)" start at 3 */
		p = strrchr(buf, ')') + 2;
		k -= 2;
	}
	while (--k > 0 && p)
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
	if (!p)
		return -EIO;
	*v = strtoull(p, NULL, 10);
	return 0;
}

typedef int (*reader)(unsigned long long *v);

static int r_id(clockid_t id, unsigned long long *v)
{
	struct timespec t;

	if (clock_gettime(id, &t))
		return -errno;
	*v = ts_ns(&t);
	return 0;
}

#define CLOCK_READER(name, id)                 \
	static int name(unsigned long long *v) \
	{                                      \
		return r_id(id, v);            \
	}
CLOCK_READER(r_realtime, CLOCK_REALTIME)
CLOCK_READER(r_monotonic, CLOCK_MONOTONIC)
CLOCK_READER(r_process, CLOCK_PROCESS_CPUTIME_ID)
CLOCK_READER(r_thread, CLOCK_THREAD_CPUTIME_ID)
CLOCK_READER(r_raw, CLOCK_MONOTONIC_RAW)
CLOCK_READER(r_rt_coarse, CLOCK_REALTIME_COARSE)
CLOCK_READER(r_mono_coarse, CLOCK_MONOTONIC_COARSE)
CLOCK_READER(r_boottime, CLOCK_BOOTTIME)
CLOCK_READER(r_tai, CLOCK_TAI)

static int r_cpuclockid(unsigned long long *v)
{
	clockid_t id;

	return clock_getcpuclockid(0, &id) ? -EINVAL : r_id(id, v);
}

static int r_pthread_cpuclockid(unsigned long long *v)
{
	clockid_t id;

	return pthread_getcpuclockid(pthread_self(), &id) ? -EINVAL : r_id(id, v);
}

static int r_getres(unsigned long long *v)
{
	struct timespec t;

	if (clock_getres(CLOCK_MONOTONIC, &t))
		return -errno;
	*v = ts_ns(&t);
	return 0;
}

static int r_gettimeofday(unsigned long long *v)
{
	struct timeval t;

	if (gettimeofday(&t, NULL))
		return -errno;
	*v = tv_us(&t);
	return 0;
}

static int r_time(unsigned long long *v)
{
	*v = (unsigned long long)time(NULL);
	return 0;
}

static int r_times(unsigned long long *v)
{
	struct tms t;

	*v = (unsigned long long)times(&t);
	return 0;
}

static int r_times_cpu(unsigned long long *v)
{
	struct tms t;

	times(&t);
	*v = (unsigned long long)(t.tms_utime + t.tms_stime);
	return 0;
}

static int rusage_us(int who, unsigned long long *v)
{
	struct rusage r;

	if (getrusage(who, &r))
		return -errno;
	*v = tv_us(&r.ru_utime) + tv_us(&r.ru_stime);
	return 0;
}

static int r_rusage_self(unsigned long long *v)
{
	return rusage_us(RUSAGE_SELF, v);
}

static int r_rusage_thread(unsigned long long *v)
{
	return rusage_us(RUSAGE_THREAD, v);
}

static int r_rdtsc(unsigned long long *v)
{
	*v = __rdtsc();
	return 0;
}

static int r_rdtscp(unsigned long long *v)
{
	unsigned aux;

	*v = __rdtscp(&aux);
	return 0;
}

static int r_proc_stat(unsigned long long *v)
{
	unsigned long long u, s;
	int e = proc_field("/proc/self/stat", 14, &u);

	if (!e)
		e = proc_field("/proc/self/stat", 15, &s);
	*v = u + s;
	return e;
}

static int r_proc_schedstat(unsigned long long *v)
{
	return proc_field("/proc/self/schedstat", 1, v);
}

static int r_thread_schedstat(unsigned long long *v)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/thread-self/schedstat");
	return proc_field(path, 1, v);
}

static int r_uptime(unsigned long long *v)
{
	char buf[128];
	int fd = open("/proc/uptime", O_RDONLY), n;
	unsigned long long s, cs;

	if (fd < 0)
		return -errno;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (sscanf(buf, "%llu.%llu", &s, &cs) != 2)
		return -EIO;
	*v = s * 100 + cs; /* centiseconds */
	return 0;
}

static int r_sysinfo(unsigned long long *v)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return -errno;
	*v = (unsigned long long)si.uptime;
	return 0;
}

static int r_adjtimex(unsigned long long *v)
{
	struct timex tx = { 0 };

	if (adjtimex(&tx) < 0)
		return -errno;
	*v = (unsigned long long)tx.time.tv_sec * 1000000ULL +
	     (unsigned long long)tx.time.tv_usec / (tx.status & STA_NANO ? 1000 : 1);
	return 0;
}

static int maps_has(const char *name);

/* The legacy vsyscall page: gettimeofday at its fixed address (a kernel
 * booted with vsyscall=none has no such page: ENOENT, not a fault). */
static int r_vsyscall(unsigned long long *v)
{
	int (*vgtod)(struct timeval *, void *) = (void *)0xffffffffff600000UL;
	struct timeval t;
	int rc;

	if (!maps_has("[vsyscall]"))
		return -ENOENT;
	rc = vgtod(&t, NULL);

	if (rc)
		return rc < 0 ? rc : -EINVAL;
	*v = tv_us(&t);
	return 0;
}

/* The ia32 clock_gettime (265) through int 0x80, from a 64-bit process. */
static int r_int80(unsigned long long *v)
{
	static struct {
		int sec, nsec;
	} t32;
	long rc;

	__asm__ volatile("int $0x80" : "=a"(rc) : "a"(265), "b"(1), "c"(&t32) : "memory");
	if (rc < 0)
		return (int)rc;
	*v = (unsigned long long)t32.sec * 1000000000ULL + (unsigned long long)t32.nsec;
	return 0;
}

static int r_itimer(unsigned long long *v)
{
	struct itimerval it;

	if (getitimer(ITIMER_VIRTUAL, &it))
		return -errno;
	*v = tv_us(&it.it_value);
	return 0;
}

static int timer_fd = -1;

static int r_timerfd(unsigned long long *v)
{
	struct itimerspec it;

	if (timerfd_gettime(timer_fd, &it))
		return -errno;
	*v = ts_ns(&it.it_value);
	return 0;
}

static const struct {
	const char *name, *unit;
	reader fn;
} sources[] = {
	{ "realtime", "ns", r_realtime },
	{ "monotonic", "ns", r_monotonic },
	{ "process_cputime", "ns", r_process },
	{ "thread_cputime", "ns", r_thread },
	{ "monotonic_raw", "ns", r_raw },
	{ "realtime_coarse", "ns", r_rt_coarse },
	{ "monotonic_coarse", "ns", r_mono_coarse },
	{ "boottime", "ns", r_boottime },
	{ "tai", "ns", r_tai },
	{ "cpuclockid", "ns", r_cpuclockid },
	{ "pthread_cpuclockid", "ns", r_pthread_cpuclockid },
	{ "clock_getres", "ns", r_getres },
	{ "gettimeofday", "us", r_gettimeofday },
	{ "time", "s", r_time },
	{ "times", "ticks", r_times },
	{ "times_cpu", "ticks", r_times_cpu },
	{ "getrusage_self", "us", r_rusage_self },
	{ "getrusage_thread", "us", r_rusage_thread },
	{ "rdtsc", "cycles", r_rdtsc },
	{ "rdtscp", "cycles", r_rdtscp },
	{ "proc_stat", "ticks", r_proc_stat },
	{ "proc_schedstat", "ns", r_proc_schedstat },
	{ "thread_schedstat", "ns", r_thread_schedstat },
	{ "uptime", "cs", r_uptime },
	{ "sysinfo", "s", r_sysinfo },
	{ "adjtimex", "us", r_adjtimex },
	{ "vsyscall_gettimeofday", "us", r_vsyscall },
	{ "int80_clock_gettime", "ns", r_int80 },
	{ "getitimer_left", "us", r_itimer },
	{ "timerfd_left", "ns", r_timerfd },
};

static void readings(int n)
{
	struct itimerval it = { { 0, 0 }, { 100, 0 } };
	struct itimerspec ts = { { 0, 0 }, { 100, 0 } };

	if (n > MAX_N)
		n = MAX_N;
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, 0);
	timerfd_settime(timer_fd, 0, &ts, NULL);
	for (size_t s = 0; s < sizeof(sources) / sizeof(sources[0]); s++) {
		int i, e = 0;

		for (i = 0; i < n && !e; i++) {
			e = sources[s].fn(&vals[i]);
			spin(20 + (i * 37) % 90);
		}
		if (e)
			print_error(sources[s].name, -e);
		else
			print_values(sources[s].name, sources[s].unit, n);
	}
}

/* ---- hostile ------------------------------------------------------------ */

static void result(const char *attempt, long rc, int e)
{
	printf("{\"attempt\": \"%s\", \"result\": \"%s\"}\n", attempt,
	       rc >= 0 ? "ok" : err_name(e));
}

static int maps_has(const char *name)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, name) != NULL;
	if (f)
		fclose(f);
	return found;
}

static int no_op(void *arg)
{
	(void)arg;
	_exit(0);
}

static void hostile(void)
{
	struct perf_event_attr pa = { .type = PERF_TYPE_SOFTWARE,
				      .size = sizeof(pa),
				      .config = PERF_COUNT_SW_TASK_CLOCK };
	struct sock_fprog_ {
		unsigned short len;
		void *filter;
	};
	unsigned long long clone3_args[11] = { 0 };
	unsigned int ret_allow[2] = { 0x00000006, 0x7fff0000 }; /* BPF_RET|BPF_K ALLOW */
	struct sock_fprog_ prog = { 1, ret_allow };
	static char stack[8192];
	long rc;
	int st;

	printf("{\"attempt\": \"vdso_in_maps\", \"result\": \"%s\"}\n",
	       maps_has("[vdso]") ? "found" : "absent");
	printf("{\"attempt\": \"vvar_in_maps\", \"result\": \"%s\"}\n",
	       maps_has("[vvar") ? "found" : "absent");
	printf("{\"attempt\": \"auxv_sysinfo_ehdr\", \"result\": \"%s\"}\n",
	       getauxval(AT_SYSINFO_EHDR) ? "present" : "absent");
	rc = prctl(PR_SET_TSC, PR_TSC_ENABLE, 0, 0, 0);
	result("prctl_set_tsc_enable", rc, errno);
	rc = syscall(SYS_arch_prctl, 0x2003 /* ARCH_MAP_VDSO_64 */, 0x7f0000000000UL);
	result("arch_prctl_map_vdso", rc, errno);
	rc = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
	result("perf_event_open", rc, errno);
	rc = syscall(SYS_clone3, clone3_args, sizeof(clone3_args));
	if (rc == 0)
		_exit(0);
	result("clone3", rc, errno);
	rc = clone(no_op, stack + sizeof(stack), CLONE_UNTRACED | SIGCHLD, NULL);
	result("clone_untraced", rc, errno);
	if (rc > 0)
		waitpid((pid_t)rc, &st, 0);
	rc = syscall(SYS_io_uring_setup, 4, clone3_args);
	result("io_uring_setup", rc, errno);
	rc = syscall(SYS_seccomp, 1 /* SET_MODE_FILTER */, 8 /* NEW_LISTENER */, &prog);
	result("seccomp_new_listener", rc, errno);
	rc = open("/proc/self/sched", O_RDONLY);
	result("open_proc_sched", rc, errno);
	rc = syscall(SYS_clock_settime, CLOCK_REALTIME, &(struct timespec){ 0, 0 });
	result("clock_settime", rc, errno);
	struct timex tx = { .modes = ADJ_OFFSET | ADJ_STATUS };
	rc = adjtimex(&tx);
	result("adjtimex_set", rc, errno);
	rc = clock_gettime(12345, &(struct timespec){ 0, 0 });
	result("clock_gettime_bad_id", rc, errno);
	rc = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)8);
	result("clock_gettime_bad_pointer", rc, errno);
	rc = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, NULL);
	result("clock_gettime_null", rc, errno);
	rc = syscall(SYS_gettimeofday, NULL, NULL);
	result("gettimeofday_null", rc, errno);
}

/* ---- tree ----------------------------------------------------------------- */

static void tree_line(const char *who)
{
	struct timespec m, c;

	clock_gettime(CLOCK_MONOTONIC, &m);
	spin(50);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
	printf("{\"who\": \"%s\", \"monotonic\": %llu, \"thread_cputime\": %llu, \"rdtsc\": %llu}\n",
	       who, ts_ns(&m), ts_ns(&c), __rdtsc());
	fflush(stdout);
}

static void *thread_main(void *arg)
{
	tree_line(arg);
	return NULL;
}

static void tree(const char *self)
{
	pthread_t t[2];
	pid_t pid;
	int st;

	tree_line("main");
	pthread_create(&t[0], NULL, thread_main, "thread1");
	pthread_create(&t[1], NULL, thread_main, "thread2");
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pid = fork();
	if (pid == 0) {
		tree_line("child");
		execl(self, self, "leaf", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("{\"who\": \"main\", \"child_status\": %d}\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void pairs(int n, int w)
{
	struct timespec a, b;

	printf("{\"w_us\": %d, \"diffs\": [", w);
	for (int i = 0; i < n; i++) {
		spin((i * 7919) % 100); /* a different phase each time */
		clock_gettime(CLOCK_MONOTONIC, &a);
		spin(w);
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("%s%llu", i ? ", " : "", ts_ns(&b) - ts_ns(&a));
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "readings"))
		readings(atoi(argv[2]));
	else if (argc == 2 && !strcmp(argv[1], "hostile"))
		hostile();
	else if (argc == 2 && !strcmp(argv[1], "tree"))
		tree("/proc/self/exe");
	else if (argc == 4 && !strcmp(argv[1], "pairs"))
		pairs(atoi(argv[2]), atoi(argv[3]));
	else if (argc == 2 && !strcmp(argv[1], "leaf"))
		tree_line("grandchild");
	else if (argc == 3 && !strcmp(argv[1], "spin")) {
		struct timespec t0, t;
		long ms = atol(argv[2]);

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while (ts_ns(&t) - ts_ns(&t0) < (unsigned long long)ms * 1000000ULL);
		printf("done\n");
	} else {
		fprintf(stderr,
			"usage: clock_probe readings N | hostile | tree | pairs N W | spin MS\n");
		return 2;
	}
	return 0;
}
