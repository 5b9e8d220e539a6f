/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exited.h - rows of exited processes, kept bounded (ethoswd/exited.py):
 * the newest WD_EXITED_ROWS rows of ended budgets and shares of exited
 * processes; older ones are folded into the summary's not_listed counts.
 */
#ifndef ETHOSWD_EXITED_H
#define ETHOSWD_EXITED_H

#include "report.h"
#include "idmap.h"

struct wd_exited {
	bool shared;
	struct wd_keep rows;   /* wd_row_key() -> struct wd_row (own name and
				  user, no shares) */
	struct wd_keep shares; /* wd_pid_key(tgid) -> struct wd_share */
	__u64 rows_folded, shares_folded;
	__u64 total, allowed, limited, limited_windows; /* of the folded rows */
};

/* The budget of a row, as the probe keys it (id, uid, kind): a row with
 * the process key, or a fallback's, is {pid, 0, WD_KEY_PROCESS}. */
static inline struct wd_key wd_row_key(const struct wd_row *r)
{
	return (struct wd_key){ .id = r->id, .uid = r->uid, .kind = (__u32)r->key };
}

void wd_exited_init(struct wd_exited *x, bool shared);
/* The final row of a budget that ended (copied; its shares are not kept:
 * a summary lists those of its processes still kept). */
void wd_exited_ended(struct wd_exited *x, const struct wd_row *r);
/* The final share of an exited process of a shared budget. */
void wd_exited_exited(struct wd_exited *x, const struct wd_share *sh);
/* The not_listed counts so far; wd_exited_fold() adds one more row (an
 * ended budget whose key is live again when the summary is made). */
void wd_exited_not_listed(const struct wd_exited *x, struct wd_not_listed *nl);
void wd_exited_fold(const struct wd_exited *x, struct wd_not_listed *nl, const struct wd_row *r);
void wd_exited_free(struct wd_exited *x);

#endif /* ETHOSWD_EXITED_H */
