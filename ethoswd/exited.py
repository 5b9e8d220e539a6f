"""Rows of exited processes, kept bounded for a watchdog that runs for
months (src/exited.c is the C front end's copy).

A budget that ends (an EXIT event: a process with the process key, a
tree, user or cgroup with a shared key) leaves its final row, and with a
shared key every process that exits (PROC_EXIT) leaves its final share.
Only the newest WD_EXITED_ROWS of each are kept (probe/watchdog_map.h),
by a dict in insertion order: a PID seen again moves to the end.  Rows
are kept by the session's ident of their budget (budgets.ident(): key, id,
uid with a shared key), so budgets of two users with one id are two rows.
A row that is dropped (too old, or replaced by a newer one of the same
ident) is folded into not_listed: its counts still go into the summary's
totals, and the summary says how many rows it does not list.  A share
that is dropped only counts as a process not listed: its calls are in
its budget's row.  So each event costs O(1) and each table O(live + kept).
"""

from collections import OrderedDict

from .abi import DEFS

KEEP = DEFS["WD_EXITED_ROWS"]
COUNTS = ("total", "allowed", "limited", "limited_windows")


class Exited:
    """The kept rows and shares of exited processes, and what was folded."""

    def __init__(self, shared, keep=KEEP):
        self.shared, self.keep = shared, keep
        self.rows = OrderedDict()       # budget ident -> final row (no shares)
        self.shares = OrderedDict()     # tgid -> final share
        self.folded = dict.fromkeys(("rows",) + COUNTS, 0)
        self.folded_shares = 0

    def _fold(self, row):
        self.folded["rows"] += 1
        for k in COUNTS:
            self.folded[k] += row[k]

    def ended(self, ident, row):
        """The final row of a budget that ended.  Its processes are not
        kept with it: a summary lists those of its shares still kept."""
        old = self.rows.pop(ident, None)
        if old is not None:
            self._fold(old)
        if self.shared:
            row = dict(row, pids=[], processes=[])
        self.rows[ident] = row
        if len(self.rows) > self.keep:
            self._fold(self.rows.popitem(last=False)[1])

    def exited(self, tgid, share):
        """The final share of a process of a shared budget."""
        if self.shares.pop(tgid, None) is not None:
            self.folded_shares += 1
        self.shares[tgid] = share
        if len(self.shares) > self.keep:
            self.shares.popitem(last=False)
            self.folded_shares += 1

    def shares_besides(self, live):
        """The kept shares whose PID is not live again (live: a set)."""
        return [r for t, r in self.shares.items() if t not in live]

    def summary_rows(self, live_rows, ident, grouped):
        """The summary's rows: the live ones, then the kept ended ones
        whose ident is not live again (those are folded instead), each with
        its kept shares (grouped: {budget ident: [shares]}); and the
        not_listed counts (see not_listed)."""
        rows = {ident(r): r for r in live_rows}
        folded = dict(self.folded)
        for i, row in self.rows.items():
            if i in rows:
                folded["rows"] += 1
                for k in COUNTS:
                    folded[k] += row[k]
                continue
            if self.shared:
                shares = grouped.get(i, [])
                row = dict(row, pids=[s["pid"] for s in shares], processes=shares)
            rows[i] = row
        return list(rows.values()), folded

    def not_listed(self, folded, hidden_shares=0):
        """The summary's not_listed member: how many rows it leaves out
        (processes with the process key; budgets, and the shares of
        exited processes as processes, with a shared key) and their
        counts, which its totals include."""
        out = {k: folded[k] for k in COUNTS}
        if self.shared:
            out["budgets"] = folded["rows"]
            out["processes"] = self.folded_shares + hidden_shares
        else:
            out["processes"] = folded["rows"]
        return out
