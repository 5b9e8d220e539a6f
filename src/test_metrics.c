// SPDX-License-Identifier: GPL-2.0
/*
 * test_metrics.c - test driver of metrics_text.c and cgname.c
 * (the C mirrors of ethoswd/metrics.py and cgnames.py), for
 * tests/unit/test_cfront_metrics.py:
 *   container HEX...   per cgroup path (hex bytes): "RUNTIME ID POD" or "-"
 *   gofloat X...       floatToGoString() of each number
 *   render             the text of a fixed snapshot (the test builds the
 *                      same one in Python)
 *   resolve ID...      per cgroup ID: its path, or "-"
 *   pid PID            the process's cgroup path, or "-"
 *   trim K ID...       resolve the IDs, trim the cache to K, resolve again:
 *                      the paths (or "-") of the second pass
 */
#include <stdlib.h>
#include <string.h>

#include "metrics_text.h"
#include "cgname.h"
#include "metrics.h"

static size_t unhex(const char *hex, char *out, size_t len)
{
	size_t n = 0;
	unsigned int b;

	while (hex[0] && hex[1] && n + 1 < len && sscanf(hex, "%2x", &b) == 1) {
		out[n++] = (char)b;
		hex += 2;
	}
	out[n] = '\0';
	return n;
}

static void render(void)
{
	struct wd_mseries series[] = {
		{ "/libpod_parent/libpod-"
		  "0123456789abcdef0123456789abcdef0123456789abcdef"
		  "0123456789abcdef",
		  "podman",
		  "0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef",
		  "", 1234567, 89 },
		{ "/we\\x1bird\"\\n", "", "", "", 0, 0 },
		{ "other", "", "", "", 10000000, 123456789012345ULL },
	};
	struct wd_msnap s = {
		.version = "1.0",
		.frontend = "ethoswd",
		.backend = "tracepoint",
		.action = "monitor",
		.profile = "fingerprint",
		.key = "cgroup",
		.count = "sysinfo,fs:a\"b",
		.start_time = 1764000000.123456,
		.window_s = 0.3,
		.max_calls = 16,
		.programs = 11,
		.budgets = 3,
		.budgets_limit = 65536,
		.budgets_limited = 1,
		.stopped = 0,
		.allowed = 999999,
		.limited = 1000000,
		.limited_windows = 7,
		.health = { .map_full = 1, .targets_full = 2, .events_lost = 3, .contended = 4 },
		.nseries = 3,
		.series = series
	};
	char *text;

	s.health.stops_full = 5; /* (the initializer above keeps its layout) */
	text = wd_metrics_render(&s);

	fputs(text, stdout);
	free(text);
	s.nseries = -1;
	text = wd_metrics_render(&s);
	fputs(text, stdout);
	free(text);
}

/* Resolve every ID, trim the cache to keep entries, resolve again: the
 * second pass (what a table after wd_names_trim() sees) prints. */
static void trim_check(int keep, int n, char **ids)
{
	struct wd_cgnames *c = wd_cgnames_new();
	const struct wd_cgroup *cg;

	for (int i = 0; i < n; i++)
		wd_cgroup_by_id(c, strtoull(ids[i], NULL, 10));
	wd_cgnames_trim(c, keep);
	for (int i = 0; i < n; i++) {
		cg = wd_cgroup_by_id(c, strtoull(ids[i], NULL, 10));
		printf("%s\n", cg ? cg->path : "-");
	}
	wd_cgnames_free(c);
}

int main(int argc, char **argv)
{
	char raw[4096], buf[64];
	struct wd_cgnames *c;
	const struct wd_cgroup *cg;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "container")) {
		for (int i = 2; i < argc; i++) {
			const char *runtime = NULL;
			char id[65], pod[37];

			unhex(argv[i], raw, sizeof(raw));
			if (wd_container_of(raw, &runtime, id, pod))
				printf("%s %s %s\n", runtime, id, pod[0] ? pod : "-");
			else
				printf("-\n");
		}
	} else if (!strcmp(argv[1], "gofloat")) {
		for (int i = 2; i < argc; i++)
			printf("%s\n", wd_go_float(strtod(argv[i], NULL), buf, sizeof(buf)));
	} else if (!strcmp(argv[1], "render")) {
		render();
	} else if (!strcmp(argv[1], "resolve") || !strcmp(argv[1], "pid")) {
		c = wd_cgnames_new();
		for (int i = 2; i < argc; i++) {
			if (argv[1][0] == 'r')
				cg = wd_cgroup_by_id(c, strtoull(argv[i], NULL, 10));
			else
				cg = wd_cgroup_of_pid(c, strtoul(argv[i], NULL, 10));
			printf("%s\n", cg ? cg->path : "-");
		}
		wd_cgnames_free(c);
	} else if (!strcmp(argv[1], "trim") && argc > 2) {
		trim_check(atoi(argv[2]), argc - 3, argv + 3);
	} else {
		return 2;
	}
	return 0;
}
