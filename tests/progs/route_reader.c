/*
 * route_reader.c - reads one byte of a file N times by a chosen route and
 * prints one line with the outcome of each read:
 *
 *   label=L route=R pid=P setup=E ok=N eperm=N other=N first_other=E copied=N
 *
 * Routes (-r): pread (the read family's baseline), sendfile (into a memfd),
 * splice (into a pipe), copy-file-range (into an unlinked file in the
 * source's directory: the same filesystem, as copy_file_range needs), and
 * the io_uring routes of route_uring.c: uring-read, uring-readv,
 * uring-read-fixed, uring-readv-fixed, uring-read-multishot, uring-splice,
 * uring-tee, uring-batch, uring-sqpoll (with -A each request carries IOSQE_ASYNC, so an io-wq worker thread
 * runs it).  Every read is of byte 0, so none hits the end of the file.
 * `setup` is 0, or the errno of the step that made the route (io_uring_setup
 * refused with EPERM is 1): then no read was tried.  `copied` counts the
 * sqpoll route's linked writes that completed.
 *
 * Nothing else the program does is a read: it is static (no loader reads),
 * and the pipe of the splice route is replaced by a new one before it fills
 * instead of being drained.
 *
 * -o OUT: the file the batch and sqpoll routes put each byte they read in
 * (byte i for read i), so a test can count the reads that completed even
 * if the process was killed.  -P PID: do nothing (exit 3, no line) unless
 * getpid() == PID; the PID-reuse test forks this until the kernel hands out
 * a given PID again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "route_reader.h"

static const char usage[] =
	"usage: route_reader -r ROUTE [-n READS] [-f FILE] [-l LABEL] [-A] [-o OUT] [-P PID]\n"
	"  ROUTE: pread sendfile splice copy-file-range uring-read uring-readv\n"
	"         uring-read-fixed uring-readv-fixed uring-read-multishot\n"
	"         uring-splice uring-tee uring-batch uring-sqpoll\n"
	"  -A  io_uring requests with IOSQE_ASYNC (run by an io-wq worker)\n"
	"  -o  uring-batch, uring-sqpoll: put byte i of the reads at offset i of OUT\n"
	"  -P  run only if this process got PID (else exit 3)\n";

void tally(struct counts *c, long res)
{
	if (res >= 0)
		c->ok++;
	else if (res == -EPERM)
		c->eperm++;
	else {
		if (!c->other++)
			c->first_other = (int)-res;
	}
}

static long sys_ret(long r)
{
	return r < 0 ? -errno : r;
}

/* ---- sendfile, splice, copy_file_range ---- */
static int run_copy(const char *route, const char *file, int fd, unsigned long n, struct counts *c)
{
	int out = -1, p[2] = { -1, -1 };

	if (!strcmp(route, "sendfile")) {
		out = (int)syscall(__NR_memfd_create, "route_reader", 0);
	} else if (!strcmp(route, "copy-file-range")) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s", file);
		out = open(dirname(dir), O_TMPFILE | O_RDWR, 0600);
	} else if (pipe(p) < 0) {
		return errno;
	}
	if (out < 0 && p[0] < 0)
		return errno;
	for (unsigned long i = 0; i < n; i++) {
		loff_t off = 0, off_out = 0;

		if (out >= 0 && !strcmp(route, "sendfile")) {
			off_t o = 0;

			tally(c, sys_ret(sendfile(out, fd, &o, 1)));
		} else if (out >= 0) {
			tally(c, sys_ret(copy_file_range(fd, &off, out, &off_out, 1, 0)));
		} else {
			/* A pipe holds 16 buffers: take a new one before it fills,
			 * rather than drain it with a read of our own. */
			if (i && i % 16 == 0) {
				close(p[0]);
				close(p[1]);
				if (pipe(p) < 0)
					return errno;
			}
			tally(c, sys_ret(splice(fd, &off, p[1], NULL, 1, 0)));
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *route = NULL, *label = "route";
	struct route_opts o = { .file = "/dev/zero", .n = 1 };
	long want_pid = 0;
	int opt, setup = 0;
	struct counts c = { 0, 0, 0, 0, 0 };

	while ((opt = getopt(argc, argv, "r:n:f:l:Ao:P:h")) != -1) {
		switch (opt) {
		case 'r':
			route = optarg;
			break;
		case 'n':
			o.n = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			o.file = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'A':
			o.async = 1;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'P':
			want_pid = strtol(optarg, NULL, 10);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!route || optind < argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (want_pid && getpid() != want_pid)
		return 3;
	o.fd = open(o.file, O_RDONLY | O_CLOEXEC);
	if (o.fd < 0) {
		fprintf(stderr, "route_reader: cannot open %s: %s\n", o.file, strerror(errno));
		return 2;
	}
	if (!strcmp(route, "pread")) {
		char b;

		for (unsigned long i = 0; i < o.n; i++)
			tally(&c, sys_ret(pread(o.fd, &b, 1, 0)));
	} else if (!strcmp(route, "sendfile") || !strcmp(route, "splice") ||
		   !strcmp(route, "copy-file-range")) {
		setup = run_copy(route, o.file, o.fd, o.n, &c);
	} else if ((setup = run_uring(route, &o, &c)) < 0) {
		fprintf(stderr, "route_reader: unknown route %s\n", route);
		return 2;
	}
	printf("label=%s route=%s%s pid=%d setup=%d ok=%lu eperm=%lu other=%lu "
	       "first_other=%d copied=%lu\n",
	       label, route, o.async ? "+async" : "", (int)getpid(), setup, c.ok, c.eperm, c.other,
	       c.first_other, c.copied);
	return 0;
}
