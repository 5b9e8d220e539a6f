/*
 * reader_report.c - the report file (layout in reader_report.h), the
 * five read variants and the command-line helpers shared by the readers.
 */
#define _GNU_SOURCE
#include "reader_report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 26))
#define HAVE_PREADV2 1
#endif

const char *wd_progname = "reader";

static const char *const variant_names[] = {
	[WD_VAR_READ] = "read",	    [WD_VAR_PREAD] = "pread",	  [WD_VAR_READV] = "readv",
	[WD_VAR_PREADV] = "preadv", [WD_VAR_PREADV2] = "preadv2",
};

int wd_report_create(struct wd_report *r, const char *path, enum wd_program program,
		     uint32_t nthreads, uint32_t nbursts, uint64_t log_capacity)
{
	size_t log_offset =
		sizeof(struct wd_report_header) + (size_t)nbursts * sizeof(struct wd_report_burst);
	size_t size = log_offset + log_capacity * sizeof(struct wd_report_log_entry);
	void *mem;

	if (path) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)size) < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	} else {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	}
	if (mem == MAP_FAILED)
		return -errno;

	r->hdr = mem;
	r->bursts = (struct wd_report_burst *)((char *)mem + sizeof(struct wd_report_header));
	r->log = (struct wd_report_log_entry *)((char *)mem + log_offset);
	r->size = size;

	r->hdr->version = WD_REPORT_VERSION;
	r->hdr->header_size = sizeof(struct wd_report_header);
	r->hdr->burst_size = sizeof(struct wd_report_burst);
	r->hdr->log_entry_size = sizeof(struct wd_report_log_entry);
	r->hdr->pid = (uint32_t)getpid();
	r->hdr->program = program;
	r->hdr->nthreads = nthreads;
	r->hdr->nbursts = nbursts;
	r->hdr->state = WD_STATE_STARTING;
	r->hdr->log_capacity = log_capacity;
	r->hdr->file_size = size;
	return 0;
}

void wd_report_publish(struct wd_report *r)
{
	uint64_t magic;

	memcpy(&magic, WD_REPORT_MAGIC, sizeof(magic));
	__atomic_store_n((uint64_t *)(void *)r->hdr->magic, magic, __ATOMIC_RELEASE);
}

void wd_report_set_state(struct wd_report *r, enum wd_state state)
{
	__atomic_store_n(&r->hdr->state, (uint32_t)state, __ATOMIC_RELEASE);
}

void wd_report_close(struct wd_report *r)
{
	munmap(r->hdr, r->size);
	r->hdr = NULL;
}

void wd_report_record(struct wd_report *r, uint32_t burst, uint32_t thread, int64_t result,
		      uint64_t t_ns)
{
	struct wd_report_header *h = r->hdr;
	struct wd_report_burst *b = &r->bursts[burst];

	if (h->log_capacity) {
		uint64_t i = __atomic_fetch_add(&h->log_claimed, 1, __ATOMIC_RELAXED);

		if (i < h->log_capacity) {
			struct wd_report_log_entry *e = &r->log[i];

			e->result = (int32_t)result;
			e->thread = thread;
			__atomic_store_n(&e->t_ns, t_ns, __ATOMIC_RELEASE);
		}
	}

	if (result == 0 || result == 1) {
		__atomic_fetch_add(&b->ok, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&h->total_ok, 1, __ATOMIC_RELAXED);
	} else if (result == -EPERM) {
		__atomic_fetch_add(&b->eperm, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&h->total_eperm, 1, __ATOMIC_RELAXED);
	} else {
		int32_t none = 0;
		int32_t code = result < 0 ? (int32_t)-result : WD_ODD_RESULT;

		__atomic_compare_exchange_n(&b->first_other_errno, &none, code, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->other, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&h->total_other, 1, __ATOMIC_RELAXED);
	}
}

void wd_report_burst_start(struct wd_report *r, uint32_t burst, uint64_t t_ns)
{
	uint64_t *start = &r->bursts[burst].t_start_ns;
	uint64_t cur = __atomic_load_n(start, __ATOMIC_RELAXED);

	while ((cur == 0 || t_ns < cur) &&
	       !__atomic_compare_exchange_n(start, &cur, t_ns, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
	__atomic_store_n(&r->hdr->bursts_started, burst + 1, __ATOMIC_RELEASE);
}

void wd_report_burst_end(struct wd_report *r, uint32_t burst, uint64_t t_ns)
{
	uint64_t *end = &r->bursts[burst].t_end_ns;
	uint64_t cur = __atomic_load_n(end, __ATOMIC_RELAXED);

	while (cur < t_ns &&
	       !__atomic_compare_exchange_n(end, &cur, t_ns, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int64_t wd_do_read(enum wd_variant variant, int fd, char *buf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = 1 };
	ssize_t n;

	switch (variant) {
	case WD_VAR_READ:
		n = read(fd, buf, 1);
		break;
	case WD_VAR_PREAD:
		n = pread(fd, buf, 1, 0);
		break;
	case WD_VAR_READV:
		n = readv(fd, &iov, 1);
		break;
	case WD_VAR_PREADV:
		n = preadv(fd, &iov, 1, 0);
		break;
	case WD_VAR_PREADV2:
#ifdef HAVE_PREADV2
		n = preadv2(fd, &iov, 1, 0, 0);
#else
		n = syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0);
#endif
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return -errno;
	if (n == 0 && (variant == WD_VAR_READ || variant == WD_VAR_READV))
		lseek(fd, 0, SEEK_SET);
	return n;
}

int wd_parse_variant(const char *s)
{
	for (size_t i = 0; i < sizeof(variant_names) / sizeof(variant_names[0]); i++)
		if (strcmp(s, variant_names[i]) == 0)
			return (int)i;
	return -1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte a one-letter C escape stands for (\\ \a \b \e \f \n \r \t \v); -1 if none. */
static int simple_escape(char c)
{
	switch (c) {
	case '\\':
		return '\\';
	case 'a':
		return '\a';
	case 'b':
		return '\b';
	case 'e':
		return 0x1b;
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'v':
		return '\v';
	}
	return -1;
}

/*
 * -N NAME: the one-letter escapes above, \xH[H] and \O[O[O]] (octal) give
 * any byte but NUL; at most WD_NAME_MAX bytes after decoding.
 */
static void parse_name(const char *arg, char *name)
{
	size_t len = 0;

	for (const char *p = arg; *p; p++) {
		int byte = (unsigned char)*p;

		if (*p == '\\') {
			if (simple_escape(p[1]) >= 0) {
				byte = simple_escape(*++p);
			} else if (p[1] == 'x' && hex_digit(p[2]) >= 0) {
				p += 2;
				byte = hex_digit(*p);
				if (hex_digit(p[1]) >= 0)
					byte = byte * 16 + hex_digit(*++p);
			} else if (p[1] >= '0' && p[1] <= '7') {
				byte = 0;
				for (int i = 0; i < 3 && p[1] >= '0' && p[1] <= '7'; i++)
					byte = byte * 8 + (*++p - '0');
			} else {
				wd_usage_error("-N: bad escape at '%s'", p);
			}
		}
		if (byte == 0)
			wd_usage_error("-N: a name cannot hold a NUL byte");
		if (byte > 0xff)
			wd_usage_error("-N: octal escape above \\377");
		if (len == WD_NAME_MAX)
			wd_usage_error("-N: '%s' is longer than %d bytes", arg, WD_NAME_MAX);
		name[len++] = (char)byte;
	}
	if (!len)
		wd_usage_error("-N: empty name");
	name[len] = '\0';
}

bool wd_common_opt(int c, const char *arg, struct wd_common_opts *o)
{
	int v;

	switch (c) {
	case 'N':
		parse_name(arg, o->name);
		return true;
	case 'L':
		o->log_entries = wd_parse_uint('L', arg, 0, WD_MAX_LOG);
		return true;
	case 'f':
		o->file = arg;
		return true;
	case 'o':
		o->report = arg;
		return true;
	case 'w':
		o->wait = true;
		return true;
	case 'q':
		o->quiet = true;
		return true;
	case 's':
		v = wd_parse_variant(arg);
		if (v < 0)
			wd_usage_error("-s: unknown variant '%s' (read|pread|readv|preadv|preadv2)",
				       arg);
		o->variant = v;
		return true;
	}
	return false;
}

void wd_common_check(const struct wd_common_opts *o)
{
	if (!o->file[0])
		wd_usage_error("-f: empty file name");
	if (o->report && !o->report[0])
		wd_usage_error("-o: empty file name");
}

void wd_apply_name(const struct wd_common_opts *o)
{
	if (o->name[0] && prctl(PR_SET_NAME, (unsigned long)o->name, 0, 0, 0) < 0) {
		fprintf(stderr, "%s: -N: prctl(PR_SET_NAME): %s\n", wd_progname, strerror(errno));
		exit(1);
	}
}

const char *wd_variant_name(enum wd_variant v)
{
	return variant_names[v];
}

uint64_t wd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wd_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", wd_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

uint64_t wd_parse_uint(char opt, const char *arg, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (arg[0] < '0' || arg[0] > '9')
		wd_usage_error("-%c: '%s' is not a non-negative integer", opt, arg);
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end != '\0')
		wd_usage_error("-%c: '%s' is not a non-negative integer", opt, arg);
	if (errno == ERANGE || v < min || v > max)
		wd_usage_error("-%c: %s is out of range %" PRIu64 "..%" PRIu64, opt, arg, min, max);
	return v;
}

void wd_check_getopt(int c, int opt)
{
	if (c == ':')
		wd_usage_error("option -%c needs a value", opt);
	if (c == '?') {
		if (opt >= 0x21 && opt < 0x7f)
			wd_usage_error("unknown option -%c", opt);
		wd_usage_error("unknown option");
	}
}

void wd_block_sigusr1(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void wd_wait_sigusr1(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fputs("ready\n", stdout);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0 || sig != SIGUSR1)
		;
}

void wd_print_summary(const struct wd_report *r)
{
	const struct wd_report_header *h = r->hdr;

	printf("pid=%" PRIu32 " ok=%" PRIu64 " eperm=%" PRIu64 " other=%" PRIu64 "\n", h->pid,
	       h->total_ok, h->total_eperm, h->total_other);
	fflush(stdout);
}
