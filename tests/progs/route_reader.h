/*
 * route_reader.h - what route_reader.c (options, the syscall routes, the
 * result line) and route_uring.c (the io_uring routes) share.
 */
#ifndef ROUTE_READER_H
#define ROUTE_READER_H

/* The outcome of each read of a run: reads that succeeded, failed with
 * EPERM, or failed otherwise (first_other: the first such errno).
 * copied: requests linked behind a read that moved its byte on (the
 * sqpoll route's writes to the output file). */
struct counts {
	unsigned long ok, eperm, other, copied;
	int first_other;
};

/* What a route needs to know beyond its name. */
struct route_opts {
	const char *file; /* the source file's path */
	int fd;		  /* ... opened read-only */
	int async;	  /* -A: io_uring requests with IOSQE_ASYNC */
	const char *out;  /* -o: where the batch and sqpoll routes put their bytes */
	unsigned long n;  /* reads to make */
};

void tally(struct counts *c, long res);

/* The io_uring routes (route_uring.c): 0, or the errno of the step that
 * made the route (then no read was tried); -1 if `route` is none of them. */
int run_uring(const char *route, const struct route_opts *o, struct counts *c);

#endif
