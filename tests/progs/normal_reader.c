/*
 * normal_reader.c - a well-behaved program: one thread reading 1 byte at
 * READS_PER_SEC evenly spaced instants (absolute CLOCK_MONOTONIC deadlines,
 * so no drift; a reader held up catches up) for TOTAL_MS, recording every
 * outcome in the report file (reader_report.h).  Run with -h for the options.
 */
#define _GNU_SOURCE
#include "reader_report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RATE 1000000ull
#define MAX_MS	 3600000ull

static const char usage[] =
	"usage: normal_reader [-r READS_PER_SEC] [-D TOTAL_MS] [-s read|pread|readv|preadv|preadv2]\n"
	"                     [-f FILE] [-o REPORT] [-L LOG_ENTRIES] [-N NAME] [-w] [-q]\n"
	"  -r RATE      reads per second, 1..1000000 (default 20)\n"
	"  -D MS        run time (default 2000); reads at start + k/RATE s while before MS\n"
	"  -s VARIANT   syscall to use (default read)\n"
	"  -f FILE      file to read 1 byte at a time (default /dev/zero)\n"
	"  -o REPORT    report file, see reader_report.h\n"
	"  -L N         log the first N reads' outcomes in the report\n"
	"  -w           print \"ready\" and wait for SIGUSR1 before starting\n"
	"  -q           no progress line on stderr\n"
	"  -N NAME      rename the process first (prctl PR_SET_NAME, 1..15 bytes);\n"
	"               C escapes give any byte but NUL: \\x1b \\n \\t \\033 ...\n";

struct config {
	uint64_t rate, total_ms;
	struct wd_common_opts common; /* -s -f -o -L -w -q -N */
};

static void parse_args(int argc, char **argv, struct config *cfg)
{
	int c;

	*cfg = (struct config){ .rate = 20,
				.total_ms = 2000,
				.common = { .variant = WD_VAR_READ, .file = "/dev/zero" } };
	opterr = 0;
	while ((c = getopt(argc, argv, ":r:D:s:f:o:L:N:wqh")) != -1) {
		switch (c) {
		case 'r':
			cfg->rate = wd_parse_uint('r', optarg, 1, MAX_RATE);
			break;
		case 'D':
			cfg->total_ms = wd_parse_uint('D', optarg, 1, MAX_MS);
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
	wd_common_check(&cfg->common);
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = t_ns / 1000000000u, .tv_nsec = t_ns % 1000000000u };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct wd_report rep;
	uint64_t planned, start, last = 0;
	char buf[1];
	int fd, err;

	wd_progname = "normal_reader";
	parse_args(argc, argv, &cfg);
	wd_apply_name(&cfg.common);
	/* reads at k/rate seconds for every k with k/rate < total_ms/1000 */
	planned = (cfg.rate * cfg.total_ms + 999) / 1000;

	fd = open(cfg.common.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		wd_usage_error("-f: cannot open %s: %s", cfg.common.file, strerror(errno));
	err = wd_report_create(&rep, cfg.common.report, WD_PROG_NORMAL, 1, 1,
			       cfg.common.log_entries);
	if (err)
		wd_usage_error("-o: cannot create report %s: %s", cfg.common.report,
			       strerror(-err));
	rep.hdr->variant = cfg.common.variant;
	rep.hdr->reads_per_burst = planned;
	rep.hdr->duration_ms = cfg.total_ms;
	rep.hdr->rate_per_sec = cfg.rate;
	wd_report_publish(&rep);

	if (cfg.common.wait) {
		wd_block_sigusr1();
		wd_wait_sigusr1();
	}

	wd_report_set_state(&rep, WD_STATE_RUNNING);
	start = wd_now_ns();
	wd_report_burst_start(&rep, 0, start);
	for (uint64_t k = 0; k < planned; k++) {
		int64_t res;

		sleep_until(start + k / cfg.rate * 1000000000u +
			    k % cfg.rate * 1000000000u / cfg.rate);
		res = wd_do_read(cfg.common.variant, fd, buf);
		last = wd_now_ns();
		wd_report_record(&rep, 0, 0, res, last);
	}
	wd_report_burst_end(&rep, 0, planned ? last : start);
	sleep_until(start + cfg.total_ms * 1000000u);
	close(fd);

	wd_report_set_state(&rep, WD_STATE_DONE);
	if (!cfg.common.quiet)
		fprintf(stderr, "%s: %" PRIu64 " reads at %" PRIu64 "/s in %" PRIu64 " ms\n",
			wd_progname, planned, cfg.rate, cfg.total_ms);
	wd_print_summary(&rep);
	wd_report_close(&rep);
	return 0;
}
