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
"""

from .abi import DEFS
from .errors import SetupError
from .policy import KEYS, parse_count

MS = 1000000
U32 = 0xFFFFFFFF
ROOT_CGROUP, ROOT_UID = DEFS["WD_ROOT_CGROUP_ID"], DEFS["WD_ROOT_UID"]


def budget_of(rec, key):
    """The budget a recorded call is charged to under `key`, as the live
    probe keys it; None for a call the probe never sees (tree key, no
    root: not a target's call)."""
    if key == "process":
        return rec.tgid
    if key == "tree":
        return ("tree", rec.root, rec.uid) if rec.root else None
    if key == "uid" and rec.uid != ROOT_UID:
        return ("uid", rec.uid, rec.uid)
    if key == "cgroup" and rec.cgroup != ROOT_CGROUP:
        return ("cgroup", rec.cgroup, rec.uid)
    return ("process", rec.tgid, None)


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
        return self.all or rec.magic in self.magics or (self.files and rec.listed)


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
        now = (r.t_ns // MS) & U32
        wins = state.get(ident)
        if wins is None:
            wins = state[ident] = [Window(0)]
        cur = wins[-1]
        if (now - cur.start_ms) & U32 >= window_ms:
            cur = Window(now)
            wins.append(cur)
        cur.times.append(r.t_ns)
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


def grid(records, keys, counts, windows_ms, max_calls, t0_ns=0):
    """Every grid point: a list of dicts (count, key, window_ms,
    max_calls, budgets, limited_budgets, limited_windows, refused,
    allowed, first_refusal_ms (after t0_ns, or None), peak, detail:
    {budget id: verdict} of the limited budgets)."""
    records = sorted(records, key=lambda r: r.t_ns)
    out = []
    for ctext in counts:
        cls = CountClass(ctext)
        for key in keys:
            for wms in windows_ms:
                per = windows(records, key, cls, wms)
                for mc in max_calls:
                    v = {b: verdict(w, mc) for b, w in per.items()}
                    hit = {b: x for b, x in v.items() if x["limited"]}
                    firsts = [x["first_refusal_ns"] for x in hit.values()]
                    out.append({
                        "count": cls.label, "key": key, "window_ms": wms,
                        "max_calls": mc, "budgets": len(v),
                        "limited_budgets": len(hit),
                        "limited_windows": sum(len(x["limited_windows"])
                                               for x in hit.values()),
                        "refused": sum(x["limited"] for x in hit.values()),
                        "allowed": sum(x["allowed"] for x in v.values()),
                        "first_refusal_ms": (round((min(firsts) - t0_ns) / MS, 3)
                                             if firsts else None),
                        "peak": max((x["peak"] for x in v.values()), default=0),
                        "detail": hit})
    return out
