"""`watchdog.py replay` and `watchdog.py export`: recordings, offline.

    watchdog.py replay FILE [--max-calls 10,25,...] [--window-ms 100,500]
                            [--key process,tree] [--count all --count sysinfo]
                            [--json] [-v]
    watchdog.py export FILE (--csv | --jsonl) [-o OUT]

replay runs ethoswd/research/replay.py (limiter.h's fixed window) over the file for
every grid point and prints, per point, how many budgets and windows would
be limited, how many calls refused, and when the first refusal comes
(ms after the recording's first call); -v lists the limited budgets and
their windows, --json writes one record per point with all of it.  export
writes the records as CSV or JSON lines.  No root, no BPF.  Both stream
the file (memory grows with the budgets, not the records) and check it as
they go (ethoswd/research/recording.py), so a bad file is one line and exit 2
before anything is printed; export -o writes a temporary file next to
OUT and renames it, so OUT is never left half-written.
"""

import os
import sys
import tempfile

from . import replay
from ..abi import DEFS
from ..cli import Parser
from ..errors import SetupError
from .recording import Recording, export
from ..report import Reporter, num
from ..safetext import escape, one_line

GRID_CALLS = "10,25,50,100,200,400,1000"
GRID_WINDOWS = "100,500,1000"
LIST_WINDOWS = 8        # limited windows -v lists per budget
HEAD = "%-16s %-8s %6s %6s %7s %7s %7s %9s %10s" % (
    "COUNT", "KEY", "WIN_MS", "MAX", "BUDGETS", "LIMITED", "WINDOWS",
    "REFUSED", "FIRST_MS")


def _parser(name):
    p = Parser(prog="watchdog.py " + name)
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
            p["count"][:16], p["key"], p["window_ms"], num(p["max_calls"], 6),
            num(p["budgets"], 7), num(p["limited_budgets"], 7),
            num(p["limited_windows"], 7), num(p["refused"], 9),
            "-" if p["first_refusal_ms"] is None else "%.1f" % p["first_refusal_ms"]))
        if verbose:
            for ident, v in sorted(p["detail"].items()):
                wins = ", ".join("%.1f:%d+%d" % (((s - t0) & replay.U32) if t0 is not None
                                                 else s, a, l)
                                 for s, a, l in v["limited_windows"][:LIST_WINDOWS])
                more = v["windows"] - LIST_WINDOWS
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
    # Keys and classes are checked before the pass; tree needs roots, known after it.
    keys, counts, wins, calls = grid_args(a, True, rec.meta.get("policy", {}))
    rp = replay.Replayer(keys, counts, wins, calls, None if a.json else LIST_WINDOWS)
    info = {}
    for batch in replay.in_time_order(rec.chunks(markers=False), info):
        rp.feed(batch)
    if "tree" in keys:
        replay.check_keys("tree", rp.has_roots)
    t0_ns = rp.t0_ns or 0
    rep = Reporter(as_json=a.json)
    notes = ["results undercount:"] if rec.lost or info["late"] else []
    if rec.lost:
        notes.append("%d records lost" % rec.lost)
    if info["late"]:
        notes.append("%d records more than %d ms out of time order left out"
                     % (info["late"], replay.REORDER_MS))
    head = "%s: %d calls, %s, lost %d%s" % (
        escape(a.file), rec.count,
        "complete" if rec.complete else "INCOMPLETE (no trailer: cut short)",
        rec.lost, " (%s)" % " ".join(notes) if notes else "")
    rep.emit({"event": "recording", "file": a.file, "records": rec.count,
              "complete": rec.complete, "lost": rec.lost, "late": info["late"]}, head)
    points = rp.points(t0_ns)
    if a.json:
        for p in points:
            rep.emit(dict(event="replay", **_json_point(p)), None)
    else:
        rep.emit({}, _text(points, a.verbose, (t0_ns // replay.MS) & replay.U32))
    return 0


class _Output:
    """Where export writes: OUT through a temporary file in its directory,
    renamed over OUT by commit() and removed by abandon(), so OUT is
    whole or untouched; an OUT that is a device or a FIFO directly;
    standard output without -o."""

    def __init__(self, path):
        self.path, self.tmp = path, None
        try:
            if path is None:
                self.f = open(1, "w", closefd=False)
            elif os.path.exists(path) and not os.path.isfile(path):
                self.f = open(path, "w", newline="")
            else:
                fd, self.tmp = tempfile.mkstemp(
                    prefix=".%s." % os.path.basename(path), suffix=".tmp",
                    dir=os.path.dirname(path) or ".")
                self.f = os.fdopen(fd, "w", newline="")
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)       # as open() would make it
        except OSError as e:
            self.abandon()
            raise self.error(e) from None

    def error(self, e):
        return SetupError("cannot write %s: %s" % (self.path or "standard output",
                                                   e.strerror or e))

    def commit(self):
        self.f.close()
        if self.tmp:
            os.replace(self.tmp, self.path)
            self.tmp = None

    def abandon(self):
        try:
            self.f.close()
        except (OSError, AttributeError):
            pass
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


def run_export(argv):
    a = _parser("export").parse_args(argv)
    rec = Recording(a.file)
    if a.output is None:
        # Standard output cannot be taken back: check the whole file first.
        for _ in rec.chunks():
            pass
    out = _Output(a.output)
    try:
        export(rec, out.f, "csv" if a.csv else "jsonl")
        out.commit()
    except BrokenPipeError:
        out.abandon()
        raise
    except OSError as e:
        out.abandon()
        raise out.error(e) from None
    except BaseException:
        out.abandon()
        raise
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
    except OSError as e:        # writing the results (reading is a SetupError)
        sys.stderr.write("watchdog: error: cannot write standard output: %s\n"
                         % one_line(e.strerror or str(e)))
        return 2
