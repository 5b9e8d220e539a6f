"""`watchdog.py replay` and `watchdog.py export`: recordings, offline.

    watchdog.py replay FILE [--max-calls 10,25,...] [--window-ms 100,500]
                            [--key process,tree] [--count all --count sysinfo]
                            [--json] [-v]
    watchdog.py export FILE (--csv | --jsonl) [-o OUT]

replay runs ethoswd/replay.py (limiter.h's fixed window) over the file for
every grid point and prints, per point, how many budgets and windows would
be limited, how many calls refused, and when the first refusal comes
(ms after the recording started); -v lists the limited budgets and their
windows, --json writes one record per point with all of it.  export
writes the records as CSV or JSON lines.  No root, no BPF.
"""

import sys

from . import replay
from .abi import DEFS
from .cli import _Parser
from .errors import SetupError
from .recording import Recording, export
from .report import Reporter, _n
from .safetext import escape, one_line

GRID_CALLS = "10,25,50,100,200,400,1000"
GRID_WINDOWS = "100,500,1000"
HEAD = "%-16s %-8s %6s %6s %7s %7s %7s %9s %10s" % (
    "COUNT", "KEY", "WIN_MS", "MAX", "BUDGETS", "LIMITED", "WINDOWS",
    "REFUSED", "FIRST_MS")


def _parser(name):
    p = _Parser(prog="watchdog.py " + name)
    p.add_argument("file", metavar="FILE")
    if name == "export":
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--csv", action="store_true")
        g.add_argument("--jsonl", action="store_true")
        p.add_argument("-o", "--output", metavar="OUT")
        return p
    p.add_argument("--max-calls", default=GRID_CALLS, metavar="N[,N...]")
    p.add_argument("--window-ms", default=GRID_WINDOWS, metavar="MS[,MS...]")
    p.add_argument("--key", metavar="K[,K...]",
                   help="budget keys to replay (default: the recording's policy)")
    p.add_argument("--count", action="append", metavar="CLASS",
                   help="a read class to replay (repeatable; default: the "
                        "recording's policy): all, sysinfo, files, "
                        "sysinfo,files, fs:NAME[,NAME...]")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="list every limited budget and its windows")
    return p


def grid_args(a, has_roots, policy):
    """(keys, counts, windows, max_calls) from replay/sweep options."""
    calls = replay.check_grid("--max-calls", a.max_calls, 1,
                              DEFS["WD_MAX_CALLS_LIMIT"])
    wins = replay.check_grid("--window-ms", a.window_ms, 1,
                             DEFS["WD_WINDOW_MS_LIMIT"])
    keys = replay.check_keys(a.key or policy.get("key", "process"), has_roots)
    counts = a.count or [policy.get("count", "all")]
    for c in counts:
        replay.CountClass(c)        # SetupError on a bad class
    return keys, counts, wins, calls


def _text(points, verbose, t0):
    lines = [HEAD]
    for p in points:
        lines.append("%-16s %-8s %6d %6s %7s %7s %7s %9s %10s" % (
            p["count"][:16], p["key"], p["window_ms"], _n(p["max_calls"], 6),
            _n(p["budgets"], 7), _n(p["limited_budgets"], 7),
            _n(p["limited_windows"], 7), _n(p["refused"], 9),
            "-" if p["first_refusal_ms"] is None else "%.1f" % p["first_refusal_ms"]))
        if verbose:
            for ident, v in sorted(p["detail"].items()):
                wins = ", ".join("%.1f:%d+%d" % (((s - t0) & replay.U32) if t0 is not None
                                                 else s, a, l)
                                 for s, a, l in v["limited_windows"][:8])
                more = len(v["limited_windows"]) - 8
                lines.append("    %s %s: refused %d; windows (ms: allowed+limited) %s%s"
                             % (p["key"], replay.budget_label(ident), v["limited"], wins,
                                " +%d more" % more if more > 0 else ""))
    return lines


def _budget_fields(ident):
    """id, and for a shared key's budget its own key and uid (replay.budget_of)."""
    if not isinstance(ident, tuple):
        return {"id": ident}
    return {"budget_key": ident[0], "id": ident[1], "uid": ident[2]}


def _json_point(p):
    out = {k: v for k, v in p.items() if k != "detail"}
    out["limited"] = [{**_budget_fields(ident), "refused": v["limited"],
                       "allowed": v["allowed"], "peak": v["peak"],
                       "first_refusal_ns": v["first_refusal_ns"],
                       "windows": [{"start_ms": s, "allowed": a, "limited": l}
                                   for s, a, l in v["limited_windows"]]}
                      for ident, v in sorted(p["detail"].items())]
    return out


def run_replay(argv):
    a = _parser("replay").parse_args(argv)
    rec = Recording(a.file)
    roots = any(r.root for r in rec.records)
    keys, counts, wins, calls = grid_args(a, roots, rec.meta.get("policy", {}))
    t0_ns = rec.records[0].t_ns if rec.records else 0
    rep = Reporter(as_json=a.json)
    head = ("%s: %d calls, %s, lost %d%s" % (
        escape(a.file), len(rec.records),
        "complete" if rec.complete else "INCOMPLETE (no trailer: cut short)",
        rec.lost, " (results undercount)" if rec.lost else ""))
    rep._emit({"event": "recording", "file": a.file, "records": len(rec.records),
               "complete": rec.complete, "lost": rec.lost}, head)
    points = replay.grid(rec.records, keys, counts, wins, calls, t0_ns)
    if a.json:
        for p in points:
            rep._emit(dict(event="replay", **_json_point(p)), None)
    else:
        rep._emit({}, _text(points, a.verbose, (t0_ns // replay.MS) & replay.U32))
    return 0


def run_export(argv):
    a = _parser("export").parse_args(argv)
    rec = Recording(a.file)
    try:
        out = open(a.output, "w", newline="") if a.output else sys.stdout
    except OSError as e:
        raise SetupError("cannot write %s: %s" % (a.output, e.strerror)) from None
    with out if a.output else open(1, "w", closefd=False) as f:
        export(rec, f, "csv" if a.csv else "jsonl")
    if not rec.complete or rec.lost:
        sys.stderr.write("watchdog: %s\n" % one_line(
            "note: %s is %s, %d records lost" % (
                a.file, "complete" if rec.complete else "incomplete", rec.lost)))
    return 0


def main(argv, _launched=None):
    """argv[0] is "replay" or "export"; 0, or 2 on bad input."""
    try:
        return (run_replay if argv[0] == "replay" else run_export)(argv[1:])
    except SetupError as e:
        sys.stderr.write("watchdog: error: %s\n" % one_line(str(e)))
        return e.exit_status
    except BrokenPipeError:
        return 0
