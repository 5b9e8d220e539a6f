"""Replay a recording offline: the fixed window of probe/limiter.h.

This is the offline copy of wd_count()/wd_charge() in probe/limiter.h,
kept to its exact arithmetic so replayed results equal the live probe's
(tests/host/test_record.py checks that on the same run):

- a budget starts at window 0 with no calls;
- a call at now_ms = t_ns // 1e6 (mod 2^32) opens a new window at now_ms
  when (now_ms - start) mod 2^32 >= window_ms; otherwise it is the next
  call of the current window;
- calls 1..max_calls of a window are allowed, the later ones limited
  (refused with deny, signalled with throttle/kill, counted with monitor).

Budgets are the probe's (probe/limiter.h wd_budget_key): a TGID with the
process key; with the others (key, id, uid) as ethoswd/budgets.py ident()
names them: a tree's and a cgroup's budgets are split by the callers' real
UID, and a caller in the root cgroup (cgroup key) or with UID 0 (uid key)
gets a budget of its own, ("process", tgid, None).

The windows a budget opens depend only on window_ms, not on max_calls,
so windows() is computed once per (count class, key, window) and every
max_calls is read off it.  Only counted calls (the count class) are seen
by the limiter, as in the probe, where a call outside the class returns
before wd_charge().  Pure Python, no BPF: unit-testable.

Streaming: Replayer takes the records in time order, batch by batch, and
keeps for every grid point only each budget's current window and running
verdict, so memory grows with the budgets, not with the records.
in_time_order() puts a recording's records in time order.  The probe
delivers the records of different CPUs microseconds out of order, so it
holds records back REORDER_MS and sorts them; a record more than
REORDER_MS older than the newest record before it in the file is left
out and counted (`late`: the results undercount by that many).
windows() and verdict() are the same arithmetic on a list, for tests.
"""

import bisect
import operator
from itertools import accumulate, compress, count, repeat
from operator import itemgetter

from ..abi import DEFS
from ..errors import SetupError
from ..policy import KEYS, parse_count
from .recording import CGROUP, LISTED, MAGIC_NR, ROOT, T_NS, TGID, UID

MS = 1000000
U32 = 0xFFFFFFFF
ROOT_CGROUP, ROOT_UID = DEFS["WD_ROOT_CGROUP_ID"], DEFS["WD_ROOT_UID"]
REORDER_MS = 100


def _tree(rec):
    return ("tree", rec[ROOT], rec[UID]) if rec[ROOT] else None


def _uid(rec):
    uid = rec[UID]
    return ("uid", uid, uid) if uid != ROOT_UID else ("process", rec[TGID], None)


def _cgroup(rec):
    cg = rec[CGROUP]
    return ("cgroup", cg, rec[UID]) if cg != ROOT_CGROUP else ("process", rec[TGID], None)


# The budget of a record (a Record or a tuple in its field order) per key.
BUDGET_OF = {"process": itemgetter(TGID), "tree": _tree, "uid": _uid, "cgroup": _cgroup}


def budget_of(rec, key):
    """The budget a recorded call is charged to under `key`, as the live
    probe keys it; None for a call the probe never sees (tree key, no
    root: not a target's call)."""
    return BUDGET_OF[key](rec)


def budget_label(ident):
    """'1234' for a process key's budget, 'cgroup:9 uid 5', 'process:1234'."""
    if not isinstance(ident, tuple):
        return str(ident)
    key, bid, uid = ident
    return "%s:%d%s" % (key, bid, "" if uid is None or key == "uid" else " uid %d" % uid)


class CountClass:
    """Which recorded calls count: all, or magics and/or listed files."""

    def __init__(self, text):
        label, magics = parse_count(text)
        self.label = label
        self.all = magics is None
        self.magics = frozenset((magics or {}).values())
        self.files = "files" in [t.strip() for t in text.split(",")]

    def has(self, rec):
        return self.all or rec[MAGIC_NR] in self.magics or bool(self.files and rec[LISTED])


def opens(start_ms, now_ms, window_ms):
    """wd_count(): a call at now_ms opens a new window (mod 2^32 ms)."""
    return (now_ms - start_ms) & U32 >= window_ms


class Window:
    """One window of one budget: its start (ms, mod 2^32, as the probe
    keeps it), and the times (ns) of its calls."""

    __slots__ = ("start_ms", "times")

    def __init__(self, start_ms):
        self.start_ms, self.times = start_ms, []

    @property
    def calls(self):
        return len(self.times)


def windows(records, key, count, window_ms):
    """{budget (budget_of): [Window...]} for the counted calls of
    `records` (in time order) under `key` and CountClass `count`."""
    state = {}
    for r in records:
        if not count.has(r):
            continue
        ident = budget_of(r, key)
        if ident is None:
            continue        # not a target's call: the probe never sees it
        now = (r[T_NS] // MS) & U32
        wins = state.get(ident)
        if wins is None:
            wins = state[ident] = [Window(0)]
        cur = wins[-1]
        if opens(cur.start_ms, now, window_ms):
            cur = Window(now)
            wins.append(cur)
        cur.times.append(r[T_NS])
    # Drop the empty initial window 0 where a real window replaced it.
    return {k: [w for w in ws if w.times] for k, ws in state.items()}


def verdict(wins, max_calls):
    """What a limit of max_calls does to one budget's windows: a dict with
    allowed, limited (refused calls), limited_windows ([(start_ms,
    allowed, limited)]), first_refusal_ns (the first limited call's time,
    or None) and peak (most calls in one window)."""
    allowed = limited = 0
    hit, first = [], None
    for w in wins:
        n = w.calls
        over = max(0, n - max_calls)
        allowed += n - over
        limited += over
        if over:
            hit.append((w.start_ms, n - over, over))
            if first is None:
                first = w.times[max_calls]
    return {"allowed": allowed, "limited": limited, "limited_windows": hit,
            "first_refusal_ns": first,
            "peak": max((w.calls for w in wins), default=0)}


def in_time_order(chunks, info):
    """The records of `chunks` (lists in file order), as lists in time
    order.  A record more than REORDER_MS older than the newest record
    before it in the file is left out (info["late"] counts them); the
    others are held back until REORDER_MS newer ones have been read, and
    sorted."""
    key, hold = itemgetter(T_NS), REORDER_MS * MS
    tail, top, late = [], None, 0
    for chunk in chunks:
        if not chunk:
            continue
        ts = list(map(key, chunk))
        # tops[i]: the newest time before record i (C-speed, no Python loop).
        tops = list(accumulate(ts, max, initial=ts[0] if top is None else top))
        floor = map(operator.sub, tops, repeat(hold))
        bad = list(compress(count(), map(operator.lt, ts, floor)))
        if bad:
            late += len(bad)
            drop = set(bad)
            chunk = [r for i, r in enumerate(chunk) if i not in drop]
        top = tops[-1]
        batch = tail + chunk
        batch.sort(key=key)
        cut = bisect.bisect_right(batch, top - hold, key=key)
        if cut:
            yield batch[:cut]
        tail = batch[cut:]
    if tail:
        yield tail
    info["late"] = late


class Replayer:
    """Every grid point at once over records fed in time order.

    Per (count class, key, window): {budget: [window start ms, calls in
    it, {max_calls: time of call max_calls + 1 in it}, calls in all,
    peak, {max_calls: [refused, limited windows, first refusal ns, the
    first `list_windows` limited windows (None: all)]}]}."""

    def __init__(self, keys, counts, windows_ms, max_calls, list_windows=None):
        self.calls = sorted(set(max_calls))
        self.order = list(max_calls)
        self.marks = frozenset(self.calls)
        self.list_windows = list_windows
        self.grid = [(CountClass(c), [(k, BUDGET_OF[k], [(w, {}) for w in windows_ms])
                                      for k in keys])
                     for c in counts]
        self.records, self.t0_ns, self.has_roots = 0, None, False

    def feed(self, batch):
        """Take a list of records (tuples or Records), in time order."""
        if not batch:
            return
        if self.t0_ns is None:
            self.t0_ns = batch[0][T_NS]
        self.records += len(batch)
        self.has_roots = self.has_roots or any(r[ROOT] for r in batch)
        marks, close = self.marks, self._close
        for cls, keys in self.grid:
            recs = batch if cls.all else [r for r in batch if cls.has(r)]
            for _key, ident_of, wins in keys:
                # budget_of() once per record and key, for every window.
                idents = list(map(ident_of, recs))
                for wms, state in wins:
                    for r, ident in zip(recs, idents):
                        if ident is None:
                            continue    # not a target's call: the probe never sees it
                        t = r[T_NS]
                        now = (t // MS) & U32
                        st = state.get(ident)
                        if st is None:
                            st = state[ident] = [0, 0, None, 0, 0, None]
                        if (now - st[0]) & U32 >= wms:     # opens(): a new window
                            if st[1]:
                                close(st)
                            st[0], st[1], st[2] = now, 0, None
                        st[1] += 1
                        if st[1] - 1 in marks:
                            if st[2] is None:
                                st[2] = {}
                            st[2][st[1] - 1] = t

    def _close(self, st):
        """Charge the window that ends to every max_calls."""
        n = st[1]
        st[3] += n
        st[4] = max(st[4], n)
        if n <= self.calls[0]:
            return
        per = st[5] = st[5] or {}
        for mc in self.calls:
            if mc >= n:
                break
            v = per.get(mc)
            if v is None:
                v = per[mc] = [0, 0, st[2][mc], []]
            v[0] += n - mc
            v[1] += 1
            if self.list_windows is None or len(v[3]) < self.list_windows:
                v[3].append((st[0], mc, n - mc))

    def points(self, t0_ns=None):
        """Every grid point: a list of dicts (count, key, window_ms,
        max_calls, budgets, limited_budgets, limited_windows, refused,
        allowed, first_refusal_ms (after t0_ns, default the first
        record's time; None if nothing was refused), peak, detail:
        {budget (budget_of): verdict()'s dict, with `windows` the number of its
        limited windows and limited_windows the first list_windows})."""
        t0 = self.t0_ns if t0_ns is None else t0_ns
        out = []
        for cls, keys in self.grid:
            for key, _ident_of, wins in keys:
                for wms, state in wins:
                    for st in state.values():
                        if st[1]:
                            self._close(st)
                            st[1] = 0
                    for mc in self.order:
                        out.append(self._point(cls.label, key, wms, mc, state, t0))
        return out

    @staticmethod
    def _point(label, key, wms, mc, state, t0):
        detail, allowed, refused, nwin, peak = {}, 0, 0, 0, 0
        for b, st in state.items():
            v = st[5].get(mc) if st[5] else None
            peak = max(peak, st[4])
            allowed += st[3] - (v[0] if v else 0)
            if v:
                refused += v[0]
                nwin += v[1]
                detail[b] = {"allowed": st[3] - v[0], "limited": v[0], "windows": v[1],
                             "limited_windows": v[3], "first_refusal_ns": v[2],
                             "peak": st[4]}
        firsts = [d["first_refusal_ns"] for d in detail.values()]
        return {"count": label, "key": key, "window_ms": wms, "max_calls": mc,
                "budgets": len(state), "limited_budgets": len(detail),
                "limited_windows": nwin, "refused": refused, "allowed": allowed,
                "first_refusal_ms": (round((min(firsts) - t0) / MS, 3)
                                     if firsts else None),
                "peak": peak, "detail": detail}


def check_grid(name, values, lo, hi):
    """A comma list of whole numbers in [lo, hi]; SetupError otherwise."""
    out = []
    for tok in str(values).split(","):
        tok = tok.strip()
        if not tok.isdigit() or not lo <= int(tok) <= hi:
            raise SetupError("%s %r: expected comma-separated whole numbers "
                             "from %d to %d" % (name, tok, lo, hi))
        out.append(int(tok))
    return sorted(set(out))


def check_keys(text, has_roots=True):
    keys = [k.strip() for k in text.split(",")]
    for k in keys:
        if k not in KEYS:
            raise SetupError("--key %r: expected %s" % (k, "|".join(KEYS)))
        if k == "tree" and not has_roots:
            raise SetupError("--key tree: this recording has no target roots "
                             "(it was system-wide); record -- CMD or -p PID")
    return list(dict.fromkeys(keys))


def grid(records, keys, counts, windows_ms, max_calls, t0_ns=None, info=None,
         list_windows=None):
    """Replayer's points for a list of records (put in time order first;
    info, a dict, gets `late`)."""
    info = {} if info is None else info
    rp = Replayer(keys, counts, windows_ms, max_calls, list_windows)
    for batch in in_time_order([list(records)], info):
        rp.feed(batch)
    return rp.points(t0_ns)
