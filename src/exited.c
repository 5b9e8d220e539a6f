// SPDX-License-Identifier: GPL-2.0
/*
 * exited.c - rows of exited processes, kept bounded for a watchdog that
 * runs for months (the C copy of ethoswd/exited.py).
 *
 * A budget that ends (an EXIT event) leaves its final row, and with a
 * shared key every process that exits (PROC_EXIT) leaves its final share.
 * Only the newest WD_EXITED_ROWS of each are kept, in insertion order (a
 * PID seen again moves to the end).  Rows are kept by their budget's whole
 * key (id, uid, kind): budgets of two users, or a tree and a process's own
 * budget, with the same id are two rows.  A row that is dropped, too old or
 * replaced by a newer one of the same key, is folded into the not_listed
 * counts, which the summary adds to its totals; a dropped share only
 * counts as a process not listed, since its calls are in its budget's row.
 * A kept row or share owns copies of its names and cgroup record (the
 * session's caches are trimmed).
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "cgname.h"
#include "exited.h"

void wd_exited_init(struct wd_exited *x, bool shared)
{
	memset(x, 0, sizeof(*x));
	x->shared = shared;
	wd_keep_init(&x->rows, sizeof(struct wd_row));
	wd_keep_init(&x->shares, sizeof(struct wd_share));
}

static void fold(struct wd_exited *x, struct wd_row *r)
{
	x->rows_folded++;
	x->total += r->allowed + r->limited;
	x->allowed += r->allowed;
	x->limited += r->limited;
	x->limited_windows += r->limited_windows;
	free((char *)r->name);
	free((char *)r->user);
	wd_cgroup_free((struct wd_cgroup *)r->cg);
}

static const char *dup_or_null(const char *text)
{
	char *copy;

	if (!text)
		return NULL;
	copy = strdup(text);
	if (!copy)
		abort();
	return copy;
}

void wd_exited_ended(struct wd_exited *x, const struct wd_row *r)
{
	struct wd_row keep = *r, old;

	keep.shares = NULL;
	keep.nshares = 0;
	/* Its own copies: the session's name cache is trimmed. */
	keep.name = dup_or_null(r->name);
	keep.user = dup_or_null(r->user);
	keep.cg = wd_cgroup_dup(r->cg);
	if (wd_keep_put(&x->rows, wd_row_key(r), &keep, WD_EXITED_ROWS, &old))
		fold(x, &old);
}

void wd_exited_exited(struct wd_exited *x, const struct wd_share *sh)
{
	struct wd_share keep = *sh, old;

	keep.cg = wd_cgroup_dup(sh->cg); /* its own copy, as a row's names */
	if (wd_keep_put(&x->shares, wd_pid_key(sh->pid), &keep, WD_EXITED_ROWS, &old)) {
		x->shares_folded++;
		wd_cgroup_free((struct wd_cgroup *)old.cg);
	}
}

void wd_exited_not_listed(const struct wd_exited *x, struct wd_not_listed *nl)
{
	*nl = (struct wd_not_listed){ .total = x->total,
				      .allowed = x->allowed,
				      .limited = x->limited,
				      .limited_windows = x->limited_windows };
	if (x->shared) {
		nl->budgets = x->rows_folded;
		nl->processes = x->shares_folded;
	} else {
		nl->processes = x->rows_folded;
	}
}

void wd_exited_fold(const struct wd_exited *x, struct wd_not_listed *nl, const struct wd_row *r)
{
	if (x->shared)
		nl->budgets++;
	else
		nl->processes++;
	nl->total += r->allowed + r->limited;
	nl->allowed += r->allowed;
	nl->limited += r->limited;
	nl->limited_windows += r->limited_windows;
}

void wd_exited_free(struct wd_exited *x)
{
	for (int s = wd_keep_first(&x->rows); s >= 0; s = wd_keep_next(&x->rows, s)) {
		struct wd_row *r = wd_keep_at(&x->rows, s);

		free((char *)r->name);
		free((char *)r->user);
		wd_cgroup_free((struct wd_cgroup *)r->cg);
	}
	for (int s = wd_keep_first(&x->shares); s >= 0; s = wd_keep_next(&x->shares, s))
		wd_cgroup_free(
			(struct wd_cgroup *)((struct wd_share *)wd_keep_at(&x->shares, s))->cg);
	wd_keep_free(&x->rows);
	wd_keep_free(&x->shares);
}
