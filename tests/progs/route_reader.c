/*
 * route_reader.c - reads one byte of a file N times by a chosen route and
 * prints one line with the outcome of each read:
 *
 *   label=L route=R pid=P setup=E ok=N eperm=N other=N first_other=E
 *
 * Routes (-r): pread (the read family's baseline), uring-read, uring-readv,
 * uring-read-fixed (io_uring IORING_OP_READ / READV / READ_FIXED; with -A
 * each request carries IOSQE_ASYNC, so an io-wq worker thread runs it),
 * sendfile (into a memfd), splice (into a pipe), copy-file-range (into an
 * unlinked file in the source's directory: the same filesystem, as
 * copy_file_range needs).  Every read is of byte 0, so none hits the end
 * of the file.  `setup` is 0, or the errno of the step that made the route
 * (io_uring_setup refused with EPERM is 1): then no read was tried.
 *
 * io_uring is driven by raw syscalls on mmap'ed rings (no liburing), one
 * request per io_uring_enter(), whose completion is reaped before the next.
 * Nothing else the program does is a read: it is static (no loader reads),
 * and the pipe of the splice route is replaced by a new one before it fills
 * instead of being drained.
 *
 * -P PID: do nothing (exit 3, no line) unless getpid() == PID; the PID-reuse
 * test forks this until the kernel hands out a given PID again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static const char usage[] =
	"usage: route_reader -r ROUTE [-n READS] [-f FILE] [-l LABEL] [-A] [-P PID]\n"
	"  ROUTE: pread uring-read uring-readv uring-read-fixed sendfile splice\n"
	"         copy-file-range\n"
	"  -A  io_uring requests with IOSQE_ASYNC (run by an io-wq worker)\n"
	"  -P  run only if this process got PID (else exit 3)\n";

struct counts {
	unsigned long ok, eperm, other;
	int first_other;
};

static void tally(struct counts *c, long res)
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

/* ---- io_uring by raw syscalls ---- */
struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_setup(struct ring *r)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return errno;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return errno;
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submit one request and wait for its completion: the CQE's res, or
 * -errno of io_uring_enter itself. */
static long ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	struct io_uring_cqe *cqe;
	long res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EIO; /* GETEVENTS returned without a completion */
	cqe = &r->cqes[head & *r->cq_mask];
	res = cqe->res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int run_uring(const char *route, int fd, int async, unsigned long n, struct counts *c)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct iovec iov = { .iov_base = buf, .iov_len = 1 };
	struct io_uring_sqe sqe;
	struct ring r = { .fd = -1 };
	int err = ring_setup(&r);

	if (err)
		return err;
	memset(&sqe, 0, sizeof(sqe));
	sqe.fd = fd;
	sqe.off = 0;
	sqe.flags = async ? IOSQE_ASYNC : 0;
	if (!strcmp(route, "uring-read")) {
		sqe.opcode = IORING_OP_READ;
		sqe.addr = (uintptr_t)buf;
		sqe.len = 1;
	} else if (!strcmp(route, "uring-readv")) {
		sqe.opcode = IORING_OP_READV;
		sqe.addr = (uintptr_t)&iov;
		sqe.len = 1;
	} else {
		struct iovec reg = { .iov_base = buf, .iov_len = sizeof(buf) };

		if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_BUFFERS, &reg, 1) < 0)
			return errno;
		sqe.opcode = IORING_OP_READ_FIXED;
		sqe.addr = (uintptr_t)buf;
		sqe.len = 1;
		sqe.buf_index = 0;
	}
	for (unsigned long i = 0; i < n; i++)
		tally(c, ring_run(&r, &sqe));
	return 0;
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
	const char *route = NULL, *file = "/dev/zero", *label = "route";
	unsigned long n = 1;
	long want_pid = 0;
	int async = 0, opt, fd, setup = 0;
	struct counts c = { 0, 0, 0, 0 };

	while ((opt = getopt(argc, argv, "r:n:f:l:AP:h")) != -1) {
		switch (opt) {
		case 'r':
			route = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			file = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'A':
			async = 1;
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
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "route_reader: cannot open %s: %s\n", file, strerror(errno));
		return 2;
	}
	if (!strcmp(route, "pread")) {
		char b;

		for (unsigned long i = 0; i < n; i++)
			tally(&c, sys_ret(pread(fd, &b, 1, 0)));
	} else if (!strncmp(route, "uring-", 6) &&
		   (!strcmp(route, "uring-read") || !strcmp(route, "uring-readv") ||
		    !strcmp(route, "uring-read-fixed"))) {
		setup = run_uring(route, fd, async, n, &c);
	} else if (!strcmp(route, "sendfile") || !strcmp(route, "splice") ||
		   !strcmp(route, "copy-file-range")) {
		setup = run_copy(route, file, fd, n, &c);
	} else {
		fprintf(stderr, "route_reader: unknown route %s\n", route);
		return 2;
	}
	printf("label=%s route=%s%s pid=%d setup=%d ok=%lu eperm=%lu other=%lu "
	       "first_other=%d\n",
	       label, route, async ? "+async" : "", (int)getpid(), setup, c.ok, c.eperm, c.other,
	       c.first_other);
	return 0;
}
