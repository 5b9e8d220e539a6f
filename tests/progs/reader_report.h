/*
 * reader_report.h - the report file written by the test readers
 * (aggressive_reader, normal_reader) and the helpers they share.
 *
 * The report is a fixed-size file that the reader mmap()s MAP_SHARED and
 * updates in place, one atomic add per completed read, so it can be parsed
 * at any moment: while the reader runs, after it was stopped (SIGSTOP) or
 * after it was killed (SIGKILL).  tests/readers.py parses it.
 *
 * Layout: little-endian, every field naturally aligned, no implicit padding.
 *
 *   offset 0                          struct wd_report_header  (128 bytes)
 *   offset header_size                struct wd_report_burst   [nbursts]  (48 bytes each)
 *   offset log_offset                 struct wd_report_log_entry [log_capacity] (16 bytes each)
 *   file size = log_offset + log_capacity * log_entry_size
 *
 * Commit order of one read, by the thread that issued it:
 *   1. if the log is on: claim a slot (log_claimed += 1); if the slot is
 *      below log_capacity, write result and thread, then t_ns last;
 *   2. add 1 to the burst's ok, eperm or other;
 *   3. add 1 to the same header total.
 * Hence after a SIGKILL, per counter:
 *   total <= sum over bursts <= total + nthreads, and
 *   reads counted in the bursts <= complete log entries <= counted + nthreads,
 *   complete log entries <= log_claimed <= complete entries + nthreads
 *   (as long as the log did not overflow).
 * After a normal exit (state == WD_STATE_DONE) all of them are equal.
 *
 * The magic is written last when the file is set up: a file whose magic is
 * still zero is a report that is not ready yet.
 */
#ifndef WD_READER_REPORT_H
#define WD_READER_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define WD_REPORT_MAGIC	  "WDREPT1" /* 8 bytes with the trailing NUL */
#define WD_REPORT_VERSION 1u

enum wd_program {
	WD_PROG_AGGRESSIVE = 1,
	WD_PROG_NORMAL = 2,
};

enum wd_variant {
	WD_VAR_READ = 0,
	WD_VAR_PREAD = 1,
	WD_VAR_READV = 2,
	WD_VAR_PREADV = 3,
	WD_VAR_PREADV2 = 4,
};

enum wd_state {
	WD_STATE_STARTING = 0, /* set up; waiting for SIGUSR1 (-w) or about to start */
	WD_STATE_RUNNING = 1,  /* first burst released; stays so if killed */
	WD_STATE_DONE = 2,     /* every burst finished, counters final */
};

/* first_other_errno when the "other" outcome was not an errno */
#define WD_ODD_RESULT (-1)

struct wd_report_header {
	char magic[8];		 /*   0 "WDREPT1\0" */
	uint32_t version;	 /*   8 WD_REPORT_VERSION */
	uint32_t header_size;	 /*  12 sizeof(struct wd_report_header) */
	uint32_t burst_size;	 /*  16 sizeof(struct wd_report_burst) */
	uint32_t log_entry_size; /*  20 sizeof(struct wd_report_log_entry) */
	uint32_t pid;		 /*  24 getpid() of the reader */
	uint32_t program;	 /*  28 enum wd_program */
	uint32_t nthreads;	 /*  32 reader threads (-t; 1 for normal_reader) */
	uint32_t nbursts;	 /*  36 bursts (-b; 1 for normal_reader) */
	uint32_t variant;	 /*  40 enum wd_variant (-s) */
	uint32_t state;		 /*  44 enum wd_state */
	uint32_t
		bursts_started; /*  48 bursts released so far; the current one is bursts_started - 1 */
	uint32_t gap_ms;	/*  52 -g (0 for normal_reader) */
	uint64_t reads_per_burst; /*  56 -n; for normal_reader the planned reads; 0 in -d mode */
	uint64_t duration_ms;	  /*  64 -d per burst; -D for normal_reader; 0 in -n mode */
	uint64_t log_capacity;	  /*  72 -L: log entries the file has room for */
	uint64_t log_claimed;  /*  80 log slots claimed; above log_capacity the rest were dropped */
	uint64_t total_ok;     /*  88 reads that returned >= 0 (0 = EOF, counted as ok) */
	uint64_t total_eperm;  /*  96 reads that failed with EPERM */
	uint64_t total_other;  /* 104 any other errno or an impossible byte count */
	uint64_t file_size;    /* 112 size of the whole file, to detect truncation */
	uint64_t rate_per_sec; /* 120 -r of normal_reader; 0 for aggressive_reader */
};

struct wd_report_burst {
	uint64_t ok;	/*  0 */
	uint64_t eperm; /*  8 */
	uint64_t other; /* 16 */
	uint64_t
		t_start_ns; /* 24 CLOCK_MONOTONIC, earliest release of a thread: before any read of the burst; 0 = not yet */
	uint64_t
		t_end_ns; /* 32 CLOCK_MONOTONIC, after the burst's last read completed; 0 = not yet */
	int32_t first_other_errno; /* 40 errno of the first "other" outcome, WD_ODD_RESULT, or 0 = none */
	uint32_t reserved;	   /* 44 zero */
};

struct wd_report_log_entry {
	uint64_t t_ns;	 /*  0 CLOCK_MONOTONIC at completion; written last, 0 = entry incomplete */
	int32_t result;	 /*  8 bytes read (>= 0) or -errno */
	uint32_t thread; /* 12 thread index, 0 .. nthreads-1 */
};

_Static_assert(sizeof(struct wd_report_header) == 128, "header layout");
_Static_assert(sizeof(struct wd_report_burst) == 48, "burst layout");
_Static_assert(sizeof(struct wd_report_log_entry) == 16, "log entry layout");

struct wd_report {
	struct wd_report_header *hdr;
	struct wd_report_burst *bursts;
	struct wd_report_log_entry *log;
	size_t size;
};

/*
 * Creates (or truncates) path, sizes it for nbursts and log_capacity and maps
 * it; path == NULL maps anonymous memory so the callers need no special case.
 * Fills the layout fields, pid, program, nthreads, nbursts and state; the
 * caller sets the other configuration fields, then calls wd_report_publish().
 * Returns 0 or -errno.
 */
int wd_report_create(struct wd_report *r, const char *path, enum wd_program program,
		     uint32_t nthreads, uint32_t nbursts, uint64_t log_capacity);
void wd_report_publish(struct wd_report *r);
void wd_report_set_state(struct wd_report *r, enum wd_state state);
void wd_report_close(struct wd_report *r);

/* Commits one read's outcome; t_ns is only used (and must be set) when the log is on. */
void wd_report_record(struct wd_report *r, uint32_t burst, uint32_t thread, int64_t result,
		      uint64_t t_ns);
void wd_report_burst_start(struct wd_report *r, uint32_t burst, uint64_t t_ns);
void wd_report_burst_end(struct wd_report *r, uint32_t burst, uint64_t t_ns);

/* One 1-byte read of the given variant; returns the byte count or -errno. */
int64_t wd_do_read(enum wd_variant variant, int fd, char *buf);
int wd_parse_variant(const char *s);

/* Options both readers take: -s VARIANT -f FILE -o REPORT -L N -w -q -N NAME. */
#define WD_NAME_MAX 15 /* bytes of a task name (comm) without its NUL */
struct wd_common_opts {
	enum wd_variant variant;
	const char *file, *report;
	uint64_t log_entries;
	bool wait, quiet;
	char name[WD_NAME_MAX + 1]; /* -N, escapes decoded; "" = keep the name */
};
#define WD_MAX_LOG (1ull << 26)
/* Apply getopt's option c if it is a common one; false if it is not. */
bool wd_common_opt(int c, const char *arg, struct wd_common_opts *o);
/* Check the common options after parsing; exits 2 on an empty name. */
void wd_common_check(const struct wd_common_opts *o);
/* -N: rename the calling thread (prctl PR_SET_NAME); call before creating
 * threads, which inherit the name, and before the first read. */
void wd_apply_name(const struct wd_common_opts *o);
const char *wd_variant_name(enum wd_variant v);

uint64_t wd_now_ns(void);

/* Command-line helpers: on a bad value they print one line naming it and exit(2). */
extern const char *wd_progname;
void wd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t wd_parse_uint(char opt, const char *arg, uint64_t min, uint64_t max);
void wd_check_getopt(int c, int optopt);

/* Blocks SIGUSR1, says "ready" on stdout and waits for it (-w). */
void wd_block_sigusr1(void);
void wd_wait_sigusr1(void);

void wd_print_summary(const struct wd_report *r);

#endif
