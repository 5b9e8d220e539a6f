/*
 * tree_reader.c - a process tree that reads: a parent forks CHILDREN
 * readers, each makes READS one-byte reads of FILE, all starting at once.
 * With -s each reader leaves the parent's session and process group and
 * double-forks (setsid(), fork, the middle process exits), the way a
 * daemon or a fingerprinter hiding its tree would.
 *
 * The outcome of every read is counted in memory shared by the whole
 * tree, so the totals survive readers killed by the watchdog.  The parent
 * is a child subreaper, so double-forked readers are still its to wait
 * for; once all are gone it prints one line:
 *     [label=LABEL ]procs=N ok=N eperm=N other=N
 * The tree makes no read calls of its own (statically linked, the start
 * gate is a spin on shared memory), so the counts are exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 1024

static const char usage[] = "usage: tree_reader -c CHILDREN -n READS [-f FILE] [-s] [-l LABEL]\n"
			    "  -c CHILDREN  readers to fork, 1..1024\n"
			    "  -n READS     one-byte reads per reader\n"
			    "  -f FILE      file to read (default /dev/zero); read with pread at\n"
			    "               offset 0, so a /proc file gives data every time\n"
			    "  -s           each reader calls setsid() and double-forks first\n"
			    "  -l LABEL     start the result line with label=LABEL\n";

struct shared {
	atomic_ulong ok, eperm, other;
	atomic_uint ready;
	atomic_int go;
};

static unsigned long parse_num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "tree_reader: bad number '%s' (%lu..%lu)\n%s", s, lo, hi, usage);
		exit(2);
	}
	return v;
}

static void reader(struct shared *sh, const char *file, unsigned long reads)
{
	char byte;
	int fd = open(file, O_RDONLY);

	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		sched_yield();
	if (fd < 0) {
		atomic_fetch_add(&sh->other, reads);
		_exit(1);
	}
	for (unsigned long i = 0; i < reads; i++) {
		if (pread(fd, &byte, 1, 0) >= 0)
			atomic_fetch_add(&sh->ok, 1);
		else if (errno == EPERM)
			atomic_fetch_add(&sh->eperm, 1);
		else
			atomic_fetch_add(&sh->other, 1);
	}
	_exit(0);
}

static void start_reader(struct shared *sh, const char *file, unsigned long reads, int detach)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("tree_reader: fork");
		exit(1);
	}
	if (pid > 0)
		return;
	if (detach) {
		/* New session and process group, then orphan the reader. */
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
	}
	reader(sh, file, reads);
}

int main(int argc, char **argv)
{
	unsigned long children = 0, reads = 0;
	const char *file = "/dev/zero", *label = NULL;
	int detach = 0, opt;
	struct shared *sh;

	while ((opt = getopt(argc, argv, "c:n:f:sl:")) != -1) {
		switch (opt) {
		case 'c':
			children = parse_num(optarg, 1, MAX_CHILDREN);
			break;
		case 'n':
			reads = parse_num(optarg, 0, 1UL << 40);
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			detach = 1;
			break;
		case 'l':
			label = optarg;
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!children || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("tree_reader: mmap");
		return 1;
	}
	/* Orphaned grandchildren come back to us, so we can wait for all. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (unsigned long i = 0; i < children; i++)
		start_reader(sh, file, reads, detach);
	while (atomic_load(&sh->ready) < children)
		sched_yield();
	atomic_store(&sh->go, 1);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	if (label)
		printf("label=%s ", label);
	printf("procs=%lu ok=%lu eperm=%lu other=%lu\n", children, atomic_load(&sh->ok),
	       atomic_load(&sh->eperm), atomic_load(&sh->other));
	return 0;
}
