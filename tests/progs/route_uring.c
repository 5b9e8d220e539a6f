/*
 * route_uring.c - route_reader's io_uring routes, by raw syscalls on
 * mmap'ed rings (no liburing):
 *
 *   uring-read, uring-readv, uring-read-fixed, uring-readv-fixed
 *           IORING_OP_READ / READV / READ_FIXED / READV_FIXED (6.15) of
 *           byte 0, one request per io_uring_enter(), its completion reaped
 *           before the next;
 *   uring-read-multishot
 *           one IORING_OP_READ_MULTISHOT (6.7) over N provided one-byte
 *           buffers: one request, a completion per byte it reads;
 *   uring-splice
 *           IORING_OP_SPLICE of byte 0 of the file into a pipe, drained
 *           with vmsplice() (which is no read: it copies pipe buffers);
 *   uring-tee
 *           one IORING_OP_SPLICE of byte 0 into pipe A, then N
 *           IORING_OP_TEE from A into pipe B, each drained with vmsplice():
 *           tee duplicates what is in a pipe, it never reads a file;
 *   uring-batch
 *           N IORING_OP_READ requests submitted by one io_uring_enter();
 *   uring-sqpoll
 *           an IORING_SETUP_SQPOLL ring: N linked pairs READ -> WRITE
 *           (IOSQE_IO_LINK) queued at once, so the ring's kernel thread
 *           reads and copies the byte to offset i of the output file
 *           without the process making a call.
 *
 * The batch and sqpoll routes read into a MAP_SHARED mapping of the -o
 * file, byte i for read i (the sqpoll route's writes copy it to byte N + i):
 * a byte there is a read that completed, even when the process was killed
 * before it could print.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "route_reader.h"

#define WRITE_TAG (1ULL << 63) /* user_data of the sqpoll route's writes */
/* Newer than Debian 12's headers (6.1): READ_MULTISHOT 6.7, READV_FIXED 6.15. */
#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49
#endif
#define OP_READV_FIXED 60

struct ring {
	int fd;
	unsigned tail; /* our copy of the SQ tail, published by ring_publish */
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_flags, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_setup_cq(struct ring *r, unsigned entries, unsigned flags, unsigned cq_entries)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	p.flags = flags | (cq_entries ? IORING_SETUP_CQSIZE : 0);
	p.cq_entries = cq_entries;
	p.sq_thread_idle = 1000; /* ms the SQPOLL thread polls before it sleeps */
	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
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
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	r->tail = *r->sq_tail;
	return 0;
}

static int ring_setup(struct ring *r, unsigned entries, unsigned flags)
{
	return ring_setup_cq(r, entries, flags, 0);
}

/* Queue one request in the SQ ring; the kernel sees it after ring_publish. */
static void ring_put(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned idx = r->tail & *r->sq_mask;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	r->tail++;
}

static void ring_publish(struct ring *r)
{
	__atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
}

static long enter(struct ring *r, unsigned submit, unsigned wait, unsigned flags)
{
	long ret = syscall(__NR_io_uring_enter, r->fd, submit, wait, flags, NULL, 0);

	return ret < 0 ? -errno : ret;
}

/* Hand every queued request to the kernel: io_uring_enter() until the
 * kernel's SQ head reaches our tail (a call interrupted by a signal, as
 * by the watchdog's SIGSTOP, is made again); 0 or -errno. */
static long ring_submit(struct ring *r)
{
	ring_publish(r);
	while (__atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) != r->tail) {
		long ret = enter(r, r->tail - *r->sq_head, 0, 0);

		if (ret < 0 && ret != -EINTR)
			return ret;
	}
	return 0;
}

/* Reap `want` completions, waiting for them; each goes to c as a read,
 * or (user_data with WRITE_TAG) as a copy.  0 or -errno. */
static long ring_reap(struct ring *r, unsigned long want, struct counts *c)
{
	while (want) {
		unsigned head = *r->cq_head;

		if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
			long ret = enter(r, 0, 1, IORING_ENTER_GETEVENTS);

			if (ret < 0 && ret != -EINTR)
				return ret;
			continue;
		}
		const struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];

		if (cqe->user_data & WRITE_TAG)
			c->copied += cqe->res >= 0;
		else
			tally(c, cqe->res);
		__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
		want--;
	}
	return 0;
}

/* Submit one request and wait for its completion: its res, or -errno of
 * io_uring_enter itself. */
static long ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	struct counts one = { 0, 0, 0, 0, 0 };
	long ret;

	ring_put(r, sqe);
	ret = ring_submit(r);
	if (!ret)
		ret = ring_reap(r, 1, &one);
	if (ret)
		return ret;
	return one.ok ? 1 : one.eperm ? -EPERM : -one.first_other;
}

static int one_at_a_time(const char *route, const struct route_opts *o, struct counts *c)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct iovec iov = { .iov_base = buf, .iov_len = 1 };
	struct io_uring_sqe sqe;
	struct ring r = { .fd = -1 };
	int err = ring_setup(&r, 4, 0);

	if (err)
		return err;
	memset(&sqe, 0, sizeof(sqe));
	sqe.fd = o->fd;
	sqe.flags = o->async ? IOSQE_ASYNC : 0;
	sqe.addr = (uintptr_t)buf;
	sqe.len = 1;
	if (!strcmp(route, "uring-read")) {
		sqe.opcode = IORING_OP_READ;
	} else if (!strcmp(route, "uring-readv")) {
		sqe.opcode = IORING_OP_READV;
		sqe.addr = (uintptr_t)&iov;
	} else {
		struct iovec reg = { .iov_base = buf, .iov_len = sizeof(buf) };

		if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_BUFFERS, &reg, 1) < 0)
			return errno;
		sqe.opcode = IORING_OP_READ_FIXED;
		sqe.buf_index = 0;
		if (!strcmp(route, "uring-readv-fixed")) {
			/* An iovec into the registered buffer. */
			sqe.opcode = OP_READV_FIXED;
			sqe.addr = (uintptr_t)&iov;
		}
	}
	for (unsigned long i = 0; i < o->n; i++)
		tally(c, ring_run(&r, &sqe));
	return 0;
}

/* A splice (from `in` at offset 0) or tee request of one byte into pipe `out`. */
static void splice_sqe(struct io_uring_sqe *sqe, int op, int in, int out)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = out;
	sqe->splice_fd_in = in;
	sqe->splice_off_in = 0;			    /* tee: must be 0 */
	sqe->off = op == IORING_OP_TEE ? 0 : -1ULL; /* into a pipe: no offset */
	sqe->len = 1;
}

/* Take the byte a request put in a pipe: vmsplice() copies it out. */
static long drain(int pipe_rd, long res)
{
	char b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };

	if (res > 0 && vmsplice(pipe_rd, &iov, 1, 0) < 0)
		return -errno;
	return res;
}

static int splice_or_tee(const char *route, const struct route_opts *o, struct counts *c)
{
	struct io_uring_sqe sqe;
	struct ring r = { .fd = -1 };
	int a[2], b[2], err = ring_setup(&r, 4, 0);

	if (err)
		return err;
	if (pipe(a) < 0 || pipe(b) < 0)
		return errno;
	if (!strcmp(route, "uring-splice")) {
		splice_sqe(&sqe, IORING_OP_SPLICE, o->fd, a[1]);
		for (unsigned long i = 0; i < o->n; i++)
			tally(c, drain(a[0], ring_run(&r, &sqe)));
		return 0;
	}
	/* tee: one byte of the file in pipe A (one splice), then copies of
	 * that pipe buffer into B, never consuming A's. */
	splice_sqe(&sqe, IORING_OP_SPLICE, o->fd, a[1]);
	long res = ring_run(&r, &sqe);

	if (res != 1)
		return res < 0 ? (int)-res : EIO;
	splice_sqe(&sqe, IORING_OP_TEE, a[0], b[1]);
	for (unsigned long i = 0; i < o->n; i++)
		tally(c, drain(b[0], ring_run(&r, &sqe)));
	return 0;
}

/* One IORING_OP_READ_MULTISHOT (6.7 on) over N provided one-byte buffers:
 * each completion with IORING_CQE_F_MORE is one more read by the same
 * request, until the file's end, the buffers run out or an error. */
static int multishot(const struct route_opts *o, struct counts *c)
{
	unsigned long n = o->n ? o->n : 1;
	char *bufs = calloc(n, 1);
	struct io_uring_sqe sqe;
	struct ring r = { .fd = -1 };
	int err = ring_setup_cq(&r, 4, 0, (unsigned)(2 * n + 8)), more = 1;

	if (err)
		return err;
	if (!bufs)
		return ENOMEM;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_PROVIDE_BUFFERS;
	sqe.fd = (int)n; /* how many buffers */
	sqe.addr = (uintptr_t)bufs;
	sqe.len = 1; /* bytes each */
	sqe.buf_group = 1;
	if (ring_run(&r, &sqe) < 0)
		return EINVAL;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_READ_MULTISHOT;
	sqe.fd = o->fd;
	sqe.flags = IOSQE_BUFFER_SELECT;
	sqe.buf_group = 1;
	ring_put(&r, &sqe);
	if (ring_submit(&r))
		return EIO;
	while (more) {
		unsigned head = *r.cq_head;

		if (head == __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE)) {
			enter(&r, 0, 1, IORING_ENTER_GETEVENTS);
			continue;
		}
		const struct io_uring_cqe *cqe = &r.cqes[head & *r.cq_mask];

		more = cqe->flags & IORING_CQE_F_MORE;
		/* The last completion of a read that reached the end is 0. */
		if (more || cqe->res)
			tally(c, cqe->res);
		__atomic_store_n(r.cq_head, head + 1, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The -o file (created, n bytes) or, without -o, an anonymous one. */
static int out_file(const struct route_opts *o, unsigned long n)
{
	int fd = o->out ? open(o->out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) :
			  (int)syscall(__NR_memfd_create, "route_reader", 0);

	if (fd >= 0 && ftruncate(fd, (off_t)n) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int batch_or_sqpoll(const char *route, const struct route_opts *o, struct counts *c)
{
	int sqpoll = !strcmp(route, "uring-sqpoll");
	unsigned long n = o->n ? o->n : 1;
	struct io_uring_sqe sqe;
	struct ring r = { .fd = -1 };
	/* Byte i: read i; sqpoll: byte n + i, its copy by the linked write. */
	unsigned long size = sqpoll ? 2 * n : n;
	int out = out_file(o, size), err;
	char *dst;

	if (out < 0)
		return errno;
	err = ring_setup(&r, (unsigned)(sqpoll ? 2 * n : n), sqpoll ? IORING_SETUP_SQPOLL : 0);
	if (err)
		return err;
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, out, 0);
	if (dst == MAP_FAILED)
		return errno;
	for (unsigned long i = 0; i < o->n; i++) {
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_READ;
		sqe.fd = o->fd;
		sqe.addr = (uintptr_t)(dst + i);
		sqe.len = 1;
		sqe.user_data = i;
		sqe.flags = (o->async ? IOSQE_ASYNC : 0) | (sqpoll ? IOSQE_IO_LINK : 0);
		ring_put(&r, &sqe);
		if (!sqpoll)
			continue;
		sqe.opcode = IORING_OP_WRITE;
		sqe.fd = out;
		sqe.off = n + i;
		sqe.flags = 0;
		sqe.user_data = i | WRITE_TAG;
		ring_put(&r, &sqe);
	}
	if (!sqpoll) {
		/* Every request in one io_uring_enter(). */
		long ret;

		ring_publish(&r);
		ret = enter(&r, (unsigned)o->n, (unsigned)o->n, IORING_ENTER_GETEVENTS);
		if (ret < 0 && ret != -EINTR)
			return (int)-ret;
		ret = ring_submit(&r);
		if (!ret)
			ret = ring_reap(&r, o->n, c);
		return ret ? (int)-ret : 0;
	}
	/* One store hands all pairs to the SQPOLL thread, woken if asleep. */
	ring_publish(&r);
	if (__atomic_load_n(r.sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP)
		enter(&r, 0, 0, IORING_ENTER_SQ_WAKEUP);
	long ret = ring_reap(&r, 2 * o->n, c);

	return ret ? (int)-ret : 0;
}

int run_uring(const char *route, const struct route_opts *o, struct counts *c)
{
	if (!strcmp(route, "uring-read") || !strcmp(route, "uring-readv") ||
	    !strcmp(route, "uring-read-fixed") || !strcmp(route, "uring-readv-fixed"))
		return one_at_a_time(route, o, c);
	if (!strcmp(route, "uring-splice") || !strcmp(route, "uring-tee"))
		return splice_or_tee(route, o, c);
	if (!strcmp(route, "uring-batch") || !strcmp(route, "uring-sqpoll"))
		return batch_or_sqpoll(route, o, c);
	if (!strcmp(route, "uring-read-multishot"))
		return multishot(o, c);
	return -1;
}
