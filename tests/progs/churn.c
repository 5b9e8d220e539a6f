/*
 * churn.c - many short-lived processes: the parent forks N children, at
 * most JOBS at a time; each makes READS one-byte reads of FILE (pread at
 * offset 0, so a /proc file gives data every time) and exits.  The
 * watchdog's soak (tests/soak/churn.py) runs it under the fingerprint
 * profile to check that the rows of exited processes keep its memory
 * bounded.
 *
 * With -p PROGRESS the count of children reaped so far is kept in that
 * file (a little-endian u64 at offset 0, mmap'ed, updated at every reap),
 * so the driver can tie its RSS samples to the number of exits.  The
 * parent makes no read calls (statically linked), so the only counted
 * reads are the children's: N * READS.  At the end it prints one line:
 *     procs=N reads=N failed=N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "usage: churn -n PROCS [-j JOBS] [-r READS] [-f FILE] [-p PROGRESS]\n"
			    "  -n PROCS     children to fork in all, 1..100000000\n"
			    "  -j JOBS      children alive at once, 1..1024 (default 8)\n"
			    "  -r READS     one-byte reads per child, 0..1000 (default 1)\n"
			    "  -f FILE      file each child reads (default /proc/self/stat)\n"
			    "  -p PROGRESS  keep the count of reaped children in this file\n";

static unsigned long parse_num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "churn: bad number '%s' (%lu..%lu)\n%s", s, lo, hi, usage);
		exit(2);
	}
	return v;
}

/* A child: READS reads of FILE; exit status 0 if every read gave data. */
static void child(const char *file, unsigned long reads)
{
	char c;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		_exit(1);
	for (unsigned long i = 0; i < reads; i++)
		if (pread(fd, &c, 1, 0) != 1)
			_exit(1);
	_exit(0);
}

/* The progress counter: a u64 in a shared mapping of PROGRESS, or a
 * private one when no file is given. */
static volatile uint64_t *progress_map(const char *path)
{
	void *p;
	int fd;

	if (!path)
		return calloc(1, sizeof(uint64_t));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, sizeof(uint64_t))) {
		fprintf(stderr, "churn: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "churn: mmap %s: %s\n", path, strerror(errno));
		exit(2);
	}
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	unsigned long procs = 0, jobs = 8, reads = 1, started = 0, failed = 0;
	const char *file = "/proc/self/stat", *progress = NULL;
	volatile uint64_t *done;
	unsigned long running = 0;
	int opt, status;

	while ((opt = getopt(argc, argv, "n:j:r:f:p:")) != -1) {
		switch (opt) {
		case 'n':
			procs = parse_num(optarg, 1, 100000000);
			break;
		case 'j':
			jobs = parse_num(optarg, 1, 1024);
			break;
		case 'r':
			reads = parse_num(optarg, 0, 1000);
			break;
		case 'f':
			file = optarg;
			break;
		case 'p':
			progress = optarg;
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!procs || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	done = progress_map(progress);
	while (*done < procs) {
		while (running < jobs && started < procs) {
			pid_t pid = fork();

			if (pid == 0)
				child(file, reads);
			if (pid < 0) {
				if (errno == EAGAIN && running)
					break; /* reap one first */
				fprintf(stderr, "churn: fork: %s\n", strerror(errno));
				return 1;
			}
			started++;
			running++;
		}
		if (wait(&status) < 0) {
			fprintf(stderr, "churn: wait: %s\n", strerror(errno));
			return 1;
		}
		running--;
		failed += !WIFEXITED(status) || WEXITSTATUS(status);
		*done += 1;
	}
	printf("procs=%lu reads=%lu failed=%lu\n", procs, procs * reads, failed);
	return failed ? 1 : 0;
}
