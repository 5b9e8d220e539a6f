/*
 * aggressive_reader.c - hammers one read syscall from THREADS threads in
 * BURSTS tight bursts, recording every outcome in the report file
 * (reader_report.h) so the watchdog's limit, EPERM, stop and kill actions
 * can be checked.  Run with -h for the options.
 */
#define _GNU_SOURCE
#include "reader_report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_BURSTS  256
#define MAX_READS   1000000000000ull
#define MAX_MS	    3600000ull

static const char usage[] =
	"usage: aggressive_reader (-n READS | -d DURATION_MS) [-t THREADS] [-b BURSTS]\n"
	"                         [-g GAP_MS] [-s read|pread|readv|preadv|preadv2]\n"
	"                         [-f FILE] [-o REPORT] [-L LOG_ENTRIES] [-N NAME] [-w] [-q]\n"
	"  -n READS     reads per burst, split over the threads (first threads get the remainder)\n"
	"  -d MS        instead of -n: every thread reads for MS per burst\n"
	"  -t THREADS   1..64 (default 1)\n"
	"  -b BURSTS    1..256 (default 1)\n"
	"  -g GAP_MS    sleep between bursts (default 0)\n"
	"  -s VARIANT   syscall to use (default read)\n"
	"  -f FILE      file to read 1 byte at a time (default /dev/zero)\n"
	"  -o REPORT    report file, see reader_report.h\n"
	"  -L N         log the first N reads' outcomes in the report\n"
	"  -w           print \"ready\" and wait for SIGUSR1 before the first burst\n"
	"  -q           no progress lines on stderr\n"
	"  -N NAME      rename the process first (prctl PR_SET_NAME, 1..15 bytes);\n"
	"               C escapes give any byte but NUL: \\x1b \\n \\t \\033 ...\n";

struct config {
	uint32_t threads, bursts, gap_ms;
	uint64_t reads, duration_ms;
	struct wd_common_opts common; /* -s -f -o -L -w -q -N */
};

struct worker {
	pthread_t thread;
	uint32_t index;
	int fd;
	uint64_t reads;
	const struct config *cfg;
	struct wd_report *rep;
};

static pthread_barrier_t start_barrier, end_barrier;

static void parse_args(int argc, char **argv, struct config *cfg)
{
	bool have_n = false, have_d = false;
	int c;

	*cfg = (struct config){ .threads = 1,
				.bursts = 1,
				.common = { .variant = WD_VAR_READ, .file = "/dev/zero" } };
	opterr = 0;
	while ((c = getopt(argc, argv, ":t:n:b:g:s:f:d:o:L:N:wqh")) != -1) {
		switch (c) {
		case 't':
			cfg->threads = wd_parse_uint('t', optarg, 1, MAX_THREADS);
			break;
		case 'n':
			cfg->reads = wd_parse_uint('n', optarg, 1, MAX_READS);
			have_n = true;
			break;
		case 'b':
			cfg->bursts = wd_parse_uint('b', optarg, 1, MAX_BURSTS);
			break;
		case 'g':
			cfg->gap_ms = wd_parse_uint('g', optarg, 0, MAX_MS);
			break;
		case 'd':
			cfg->duration_ms = wd_parse_uint('d', optarg, 1, MAX_MS);
			have_d = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			if (!wd_common_opt(c, optarg, &cfg->common))
				wd_check_getopt(c, optopt);
		}
	}
	if (optind < argc)
		wd_usage_error("unexpected argument '%s'", argv[optind]);
	if (have_n && have_d)
		wd_usage_error("-n and -d are mutually exclusive");
	if (!have_n && !have_d)
		wd_usage_error("one of -n READS or -d DURATION_MS is required");
	wd_common_check(&cfg->common);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->cfg;
	bool need_time = cfg->duration_ms || cfg->common.log_entries;
	uint64_t duration_ns = cfg->duration_ms * 1000000u;
	char buf[1];

	for (uint32_t b = 0; b < cfg->bursts; b++) {
		uint64_t t = 0, deadline;

		pthread_barrier_wait(&start_barrier);
		deadline = wd_now_ns();
		wd_report_burst_start(w->rep, b, deadline);
		deadline += duration_ns;

		for (uint64_t i = 0; duration_ns || i < w->reads; i++) {
			int64_t res = wd_do_read(cfg->common.variant, w->fd, buf);

			if (need_time)
				t = wd_now_ns();
			wd_report_record(w->rep, b, w->index, res, t);
			if (duration_ns && t >= deadline)
				break;
		}
		wd_report_burst_end(w->rep, b, wd_now_ns());
		pthread_barrier_wait(&end_barrier);
	}
	return NULL;
}

static void progress(const struct config *cfg, const struct wd_report *rep, uint32_t b)
{
	const struct wd_report_burst *bu = &rep->bursts[b];

	fprintf(stderr,
		"%s: burst %" PRIu32 "/%" PRIu32 ": ok=%" PRIu64 " eperm=%" PRIu64 " other=%" PRIu64
		" in %.3f ms\n",
		wd_progname, b + 1, cfg->bursts, bu->ok, bu->eperm, bu->other,
		(double)(bu->t_end_ns - bu->t_start_ns) / 1e6);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct wd_report rep;
	struct worker workers[MAX_THREADS];
	int err;

	wd_progname = "aggressive_reader";
	parse_args(argc, argv, &cfg);
	wd_apply_name(&cfg.common);

	for (uint32_t i = 0; i < cfg.threads; i++) {
		workers[i] = (struct worker){
			.index = i,
			.cfg = &cfg,
			.rep = &rep,
			.reads = cfg.reads / cfg.threads + (i < cfg.reads % cfg.threads),
			.fd = open(cfg.common.file, O_RDONLY | O_CLOEXEC),
		};
		if (workers[i].fd < 0)
			wd_usage_error("-f: cannot open %s: %s", cfg.common.file, strerror(errno));
	}

	err = wd_report_create(&rep, cfg.common.report, WD_PROG_AGGRESSIVE, cfg.threads, cfg.bursts,
			       cfg.common.log_entries);
	if (err)
		wd_usage_error("-o: cannot create report %s: %s", cfg.common.report,
			       strerror(-err));
	rep.hdr->variant = cfg.common.variant;
	rep.hdr->gap_ms = cfg.gap_ms;
	rep.hdr->reads_per_burst = cfg.reads;
	rep.hdr->duration_ms = cfg.duration_ms;
	wd_report_publish(&rep);

	if (cfg.common.wait)
		wd_block_sigusr1();
	pthread_barrier_init(&start_barrier, NULL, cfg.threads + 1);
	pthread_barrier_init(&end_barrier, NULL, cfg.threads + 1);
	for (uint32_t i = 0; i < cfg.threads; i++) {
		err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (err) {
			fprintf(stderr, "%s: pthread_create: %s\n", wd_progname, strerror(err));
			return 1;
		}
	}
	if (cfg.common.wait)
		wd_wait_sigusr1();

	wd_report_set_state(&rep, WD_STATE_RUNNING);
	for (uint32_t b = 0; b < cfg.bursts; b++) {
		if (b && cfg.gap_ms)
			sleep_ms(cfg.gap_ms);
		pthread_barrier_wait(&start_barrier);
		pthread_barrier_wait(&end_barrier);
		if (!cfg.common.quiet)
			progress(&cfg, &rep, b);
	}
	for (uint32_t i = 0; i < cfg.threads; i++) {
		pthread_join(workers[i].thread, NULL);
		close(workers[i].fd);
	}
	pthread_barrier_destroy(&start_barrier);
	pthread_barrier_destroy(&end_barrier);
	wd_report_set_state(&rep, WD_STATE_DONE);
	wd_print_summary(&rep);
	wd_report_close(&rep);
	return 0;
}
