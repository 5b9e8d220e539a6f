// SPDX-License-Identifier: GPL-2.0
/*
 * test_idmap.c - checks of idmap.c and exited.c, driven by
 * tests/unit/test_cfront_idmap.py:
 *
 *   test_idmap            idmap and wd_keep against a plain array model
 *                         under a million random operations (keys that
 *                         share an id but not a uid or kind included),
 *                         and exited rows kept by their whole key; prints
 *                         "ok"
 *   test_idmap exited S   reads operations (one a line) for a wd_exited
 *                         (S = 1: a shared key) and prints what a summary
 *                         would take from it, for ethoswd/exited.py to
 *                         print the same:
 *       E ID ALLOWED LIMITED WINDOWS   a budget ended
 *       P PID BUDGET ALLOWED LIMITED   a process exited
 *       S [LIVE_ID...]                 print the kept rows' ids (oldest
 *                                      first; those live again are folded),
 *                                      the kept shares' pids, not_listed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "exited.h"

static int failures;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                     \
		}                                                                       \
	} while (0)

#define IDS 3000

/* Model key k as a wd_key: ids spread over 64 bits, and dense ones, as
 * PIDs are; each id with three uids and two kinds (budgets of different
 * users or kinds may share an id). */
static struct wd_key key_of(__u64 k)
{
	__u64 n = k / 6;

	return (struct wd_key){ .id = n % 2 ? n * 0x9e3779b97f4a7c15ULL : n,
				.uid = (__u32)(k % 3),
				.kind = (__u32)(k / 3 % 2) };
}

/* idmap against model[k] (0 = absent, else value + 1). */
static void check_idmap(void)
{
	static __u64 model[IDS];
	struct idmap m = { 0 };
	int count = 0;

	srand(7);
	for (int op = 0; op < 1000000; op++) {
		__u64 k = (__u64)(rand() % IDS);
		struct wd_key id = key_of(k);
		int r = rand() % 10;

		if (r < 5) {
			__u64 v = (__u64)rand();

			idmap_set(&m, id, v);
			count += !model[k];
			model[k] = v + 1;
		} else if (r < 8) {
			CHECK(idmap_del(&m, id) == !!model[k]);
			count -= !!model[k];
			model[k] = 0;
		} else {
			struct idval *e = idmap_find(&m, id);

			CHECK(model[k] ? e && wd_key_eq(&e->id, &id) && e->val == model[k] - 1 :
					 !e);
		}
		CHECK(m.n == count);
		if (op % 100000 == 99999) {
			/* Iterate-and-delete, as resume_due() does. */
			for (int i = 0; i < m.n; i++) {
				if (m.v[i].val % 3)
					continue;
				struct wd_key gone = m.v[i].id;

				CHECK(idmap_del(&m, gone));
				i--;
				for (k = 0; k < IDS; k++) {
					struct wd_key mk = key_of(k);

					if (wd_key_eq(&mk, &gone))
						model[k] = 0, count--;
				}
			}
			CHECK(m.n == count);
		}
	}
	idmap_clear(&m);
	CHECK(m.n == 0 && !idmap_find(&m, wd_pid_key(0)));
	idmap_free(&m);
}

/* wd_keep against a list of ids, newest last. */
static void check_keep(void)
{
	struct wd_keep k;
	__u64 order[64], item, old;
	int n = 0, limit = 40;

	wd_keep_init(&k, sizeof(__u64));
	srand(11);
	for (int op = 0; op < 200000; op++) {
		__u64 id = (__u64)(rand() % 100);
		int at = -1, displaced;

		for (int i = 0; i < n; i++)
			if (order[i] == id)
				at = i;
		item = id * 10;
		displaced = wd_keep_put(&k, wd_pid_key(id), &item, limit, &old);
		if (at >= 0) {
			CHECK(displaced == 1 && old == id * 10);
			memmove(order + at, order + at + 1, (n - at - 1) * sizeof(*order));
			order[n - 1] = id;
		} else if (n == limit) {
			CHECK(displaced == 1 && old == order[0] * 10);
			memmove(order, order + 1, (n - 1) * sizeof(*order));
			order[n - 1] = id;
		} else {
			CHECK(displaced == 0);
			order[n++] = id;
		}
		CHECK(k.n == n);
		if (op % 1000 == 0) {
			int i = 0;

			for (int s = wd_keep_first(&k); s >= 0; s = wd_keep_next(&k, s), i++)
				CHECK(i < n && *(__u64 *)wd_keep_at(&k, s) == order[i] * 10);
			CHECK(i == n);
			CHECK(!wd_keep_get(&k, wd_pid_key(1000)));
		}
	}
	while (wd_keep_pop(&k, &old))
		n--;
	CHECK(n == 0 && k.n == 0);
	wd_keep_free(&k);
}

static void run_exited(bool shared)
{
	struct wd_exited x;
	char line[65536];

	wd_exited_init(&x, shared);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long a, b, c, d;

		if (line[0] == 'E' &&
		    sscanf(line + 1, "%llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
			struct wd_row r = { .key = shared ? WD_KEY_TREE : WD_KEY_PROCESS,
					    .id = a,
					    .allowed = b,
					    .limited = c,
					    .limited_windows = d,
					    .state = "exited",
					    .name = shared ? "name" : NULL };

			wd_exited_ended(&x, &r);
		} else if (line[0] == 'P' &&
			   sscanf(line + 1, "%llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
			struct wd_share sh = { .pid = (__u32)a,
					       .budget = b,
					       .allowed = c,
					       .limited = d,
					       .state = "exited" };

			wd_exited_exited(&x, &sh);
		} else if (line[0] == 'S') {
			struct idmap live = { 0 };
			struct wd_not_listed nl;
			char *tok = strtok(line + 1, " \n");

			for (; tok; tok = strtok(NULL, " \n"))
				idmap_set(&live,
					  (struct wd_key){ .id = strtoull(tok, NULL, 10),
							   .kind = shared ? WD_KEY_TREE :
									    WD_KEY_PROCESS },
					  0);
			wd_exited_not_listed(&x, &nl);
			printf("rows");
			for (int s = wd_keep_first(&x.rows); s >= 0; s = wd_keep_next(&x.rows, s)) {
				const struct wd_row *r = wd_keep_at(&x.rows, s);

				if (idmap_find(&live, wd_row_key(r)))
					wd_exited_fold(&x, &nl, r);
				else
					printf(" %llu", (unsigned long long)r->id);
			}
			printf("\nshares");
			for (int s = wd_keep_first(&x.shares); s >= 0;
			     s = wd_keep_next(&x.shares, s))
				printf(" %u",
				       ((const struct wd_share *)wd_keep_at(&x.shares, s))->pid);
			printf("\nnot_listed %llu %llu %llu %llu %llu %llu\n",
			       (unsigned long long)nl.budgets, (unsigned long long)nl.processes,
			       (unsigned long long)nl.total, (unsigned long long)nl.allowed,
			       (unsigned long long)nl.limited,
			       (unsigned long long)nl.limited_windows);
			idmap_free(&live);
		}
	}
	wd_exited_free(&x);
}

/* Ended budgets with one id but of two users, or a tree's and a process's
 * own, are separate rows; a live budget folds only the row of its key. */
static void check_whole_keys(void)
{
	struct wd_row r = { .shared = true,
			    .key = WD_KEY_TREE,
			    .id = 300,
			    .uid = 1000,
			    .allowed = 5,
			    .state = "exited" };
	struct wd_not_listed nl;
	struct idmap live = { 0 };
	struct wd_exited x;
	int kept = 0, folded = 0;

	wd_exited_init(&x, true);
	wd_exited_ended(&x, &r);
	r.uid = 1001;
	r.user = "bob";
	wd_exited_ended(&x, &r);
	r = (struct wd_row){ .shared = true, .key = WD_KEY_PROCESS, .id = 300, .allowed = 7 };
	wd_exited_ended(&x, &r);
	CHECK(x.rows.n == 3 && x.rows_folded == 0);
	idmap_set(&live, (struct wd_key){ .id = 300, .uid = 1001, .kind = WD_KEY_TREE }, 0);
	wd_exited_not_listed(&x, &nl);
	for (int s = wd_keep_first(&x.rows); s >= 0; s = wd_keep_next(&x.rows, s)) {
		const struct wd_row *g = wd_keep_at(&x.rows, s);

		if (idmap_find(&live, wd_row_key(g))) {
			wd_exited_fold(&x, &nl, g);
			folded++;
			CHECK(g->uid == 1001 && g->user && !strcmp(g->user, "bob"));
		} else {
			kept++;
		}
	}
	CHECK(kept == 2 && folded == 1 && nl.budgets == 1 && nl.total == 5);
	idmap_free(&live);
	wd_exited_free(&x);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "exited")) {
		run_exited(!strcmp(argv[2], "1"));
		return 0;
	}
	check_idmap();
	check_keep();
	check_whole_keys();
	if (failures)
		return 1;
	puts("ok");
	return 0;
}
