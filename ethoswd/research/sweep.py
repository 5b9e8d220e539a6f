"""`watchdog.py sweep`: record a corpus of real programs once, replay a
grid of limits, and write the results (CSV, JSON, Markdown, PNG plots).

    watchdog.py sweep CORPUS [-o DIR] [--max-calls ...] [--window-ms ...]
                             [--key K,...] [--count CLASS ...] [--json]
    watchdog.py sweep CORPUS --verify --max-calls N --window-ms MS [policy flags]

Record: the recorder (ethoswd/research/recorder.py) is attached once, with no
target; each run of each command (ethoswd/research/corpus.py) is forked held at a
gate, added as a target root, released and recorded until it exits.  The
one recording (DIR/sweep.wdrec) keeps each run's root and time span.
Then every run is replayed (ethoswd/research/replay.py) over the grid.  A program
counts as limited at a grid point by its worst run for the question
asked: an everyday or sysinfo program is limited if ANY of its runs is,
a fingerprinter is caught only if EVERY run is.

Verify (ethoswd/research/verify.py): each command runs twice, unrestricted and
under the live watchdog, and the report compares exit status, wall time
and stdout.  Each run has its own process group, killed as a whole on
timeout and once its shell exited (ethoswd/research/corpus.py).  Root is checked
before anything is created, and the scratch directory (WD_TMP) is removed
on every way out.

Progress goes to stderr: a bar on a terminal, else a line per run;
--json writes JSON lines on stdout instead.
"""

import csv
import json
import os
import shutil
import sys
import tempfile
import time

from .. import REPO_ROOT
from . import corpus, replay
from .corpus import Progress
from ..cli import Parser, parse as parse_watchdog
from ..errors import SetupError
from .offline import GRID_CALLS, grid_args
from .recording import ROOT, T_NS, Recording, Writer
from ..report import Reporter
from ..safetext import escape, one_line
from .verify import verify

KEYS_DEFAULT = "process,tree"
COUNTS_DEFAULT = ["all", "sysinfo", "sysinfo,files"]
WINDOWS_DEFAULT = "100,500,1000"
HEADLINE_WINDOW = 500
SETTLE_S = 0.2


def _parser():
    p = Parser(prog="watchdog.py sweep",
               usage="%(prog)s CORPUS [-o DIR] [grid options] [--json]\n"
                     "       %(prog)s CORPUS --verify --max-calls N --window-ms MS "
                     "[policy flags]")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("-o", "--out", metavar="DIR", default="sweep-out")
    p.add_argument("--max-calls", default=GRID_CALLS, metavar="N[,N...]")
    p.add_argument("--window-ms", default=WINDOWS_DEFAULT, metavar="MS[,MS...]")
    p.add_argument("--key", default=KEYS_DEFAULT, metavar="K[,K...]")
    p.add_argument("--count", action="append", metavar="CLASS")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only these programs of the corpus (repeatable)")
    p.add_argument("--repeat", metavar="N", help="override every repeat count")
    p.add_argument("--verify", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-plots", action="store_true")
    return p


def _programs(a):
    progs = corpus.load(a.corpus)
    if a.only:
        unknown = set(a.only) - {p.name for p in progs}
        if unknown:
            raise SetupError("--only %s: not in %s" % (sorted(unknown)[0], a.corpus))
        progs = [p for p in progs if p.name in a.only]
    if a.repeat is not None:
        n = replay.check_grid("--repeat", a.repeat, 1, 100)
        for p in progs:
            p.repeat = n[0]
    return progs


# -- record ----------------------------------------------------------------
def _run_one(rec, prog, tmp):
    """Fork, target, release and record one run: its segment.  The run
    has its own process group (set by the parent while the child waits at
    the gate), killed as a whole on timeout and once the shell exited."""
    from ..launcher import GatedChild
    old = os.getcwd()
    os.chdir(REPO_ROOT)
    user = prog.runas
    os.environ["WD_TMP"] = corpus.scratch(tmp, user)
    try:
        child = GatedChild(corpus.wrap(prog.cmd), user)
    finally:
        os.chdir(old)
    try:
        os.setpgid(child.pid, child.pid)
        rec.add_target(child.pid)
        start = time.monotonic_ns()
        child.release()
        deadline = time.monotonic() + prog.timeout
        timed_out = False
        while not corpus.exited(child.pid):
            rec.pump(20)
            if time.monotonic() > deadline:
                timed_out = True
                break
    finally:
        corpus.kill_group(child.pid)
        child.abort()           # if never released: it exits unrun
        while child.poll() is None:
            time.sleep(0.005)
    end_wait = time.monotonic() + SETTLE_S
    while time.monotonic() < end_wait:
        rec.pump(20)
    rec.drain()
    end = time.monotonic_ns()
    return {"name": prog.name, "class": prog.cls, "cmd": prog.cmd,
            "user": prog.user, "root": child.pid, "start_ns": start, "end_ns": end,
            "seconds": round((end - start) / 1e9 - SETTLE_S, 3),
            "status": child.status, "timed_out": timed_out,
            "output_capped": child.status == corpus.CAPPED_STATUS}


def record_corpus(progs, path, rep, tmp):
    """Attach once, record every run: the Recording read back."""
    from .recorder import Recorder, base_meta, prepare
    from ..policy import Policy
    bcc, feats = prepare(rep)
    writer = Writer(path)
    pol = Policy("sweep", 1, 1, "all", None, [], "tree", [], [])
    rec = Recorder(bcc, feats, pol, writer, filter_targets=True)
    meta = base_meta(pol, rec.files)
    segments = []
    progress = Progress(rep, sum(p.repeat for p in progs))
    try:
        for prog in progs:
            for run in range(1, prog.repeat + 1):
                if prog.missing:
                    progress.step(prog.name, run, prog.repeat, "done",
                                  skipped="%s not installed" % prog.missing)
                    continue
                progress.step(prog.name, run, prog.repeat, "running")
                seg = _run_one(rec, prog, tmp)
                seg["run"] = run
                segments.append(seg)
                progress.step(prog.name, run, prog.repeat, "done",
                              status=seg["status"], seconds=seg["seconds"])
    finally:
        rec.drain()
        rec.close()
        meta.update(segments=segments, corpus=[vars(p) for p in progs])
        writer.close(meta)
    return Recording(path)


# -- analyse ---------------------------------------------------------------
def _segment_points(recording, keys, counts, wins, calls):
    """One streamed pass: each run's records (its root's calls within its
    time span) replayed over the grid; [(segment, calls, points)]."""
    segs = recording.segments()
    players = [replay.Replayer(keys, counts, wins, calls, list_windows=0) for _ in segs]
    spans, anywhere = {}, []
    for i, seg in enumerate(segs):
        where = anywhere if seg.get("root") is None else spans.setdefault(seg["root"], [])
        where.append((seg["start_ns"], seg["end_ns"], i))
    info = {}
    for batch in replay.in_time_order(recording.chunks(markers=False), info):
        parts = {}
        for r in batch:
            for where in (spans.get(r[ROOT], ()), anywhere):
                for lo, hi, i in where:
                    if lo <= r[T_NS] <= hi:
                        parts.setdefault(i, []).append(r)
        for i, part in parts.items():
            players[i].feed(part)
    recording.late = info["late"]
    return [(seg, rp.records, rp.points(seg["start_ns"]))
            for seg, rp in zip(segs, players)]


def analyse(recording, keys, counts, wins, calls):
    """Replay every run: (rows, programs, shares).

    rows: one per run and grid point (CSV); programs: per program, its
    runs and peaks; shares: per (count, key, window, max_calls), the share
    of each class's programs limited (see the module doc)."""
    rows, programs = [], {}
    for seg, ncalls, points in _segment_points(recording, keys, counts, wins, calls):
        prog = programs.setdefault(seg["name"], {
            "name": seg["name"], "class": seg["class"], "cmd": seg.get("cmd"),
            "runs": [], "peaks": {}, "limited": {}})
        prog["runs"].append({"run": seg["run"], "status": seg.get("status"),
                             "seconds": seg.get("seconds"), "calls": ncalls,
                             "timed_out": seg.get("timed_out", False)})
        for p in points:
            pk = "%s|%s|%d" % (p["count"], p["key"], p["window_ms"])
            prog["peaks"][pk] = max(prog["peaks"].get(pk, 0), p["peak"])
            gk = pk + "|%d" % p["max_calls"]
            prog["limited"].setdefault(gk, []).append(bool(p["limited_budgets"]))
            rows.append({"program": seg["name"], "class": seg["class"],
                         "run": seg["run"], "status": seg.get("status"),
                         "seconds": seg.get("seconds"), "calls": ncalls,
                         **{k: p[k] for k in ("count", "key", "window_ms",
                                              "max_calls", "peak", "budgets",
                                              "limited_budgets",
                                              "limited_windows", "refused",
                                              "first_refusal_ms")}})
    shares = []
    for ctext in counts:
        label = replay.CountClass(ctext).label
        for key in keys:
            for w in wins:
                for mc in calls:
                    gk = "%s|%s|%d|%d" % (label, key, w, mc)
                    entry = {"count": label, "key": key, "window_ms": w,
                             "max_calls": mc}
                    for cls in corpus.CLASSES:
                        members = [p for p in programs.values() if p["class"] == cls]
                        hit = [(all if cls == "fingerprint" else any)(
                            p["limited"].get(gk, [False])) for p in members]
                        entry[cls] = round(sum(hit) / len(hit), 4) if hit else None
                        entry[cls + "_limited"] = sorted(
                            p["name"] for p, h in zip(members, hit) if h)
                    shares.append(entry)
    for p in programs.values():
        p["limited"] = {k: v for k, v in p["limited"].items()}
    return rows, list(programs.values()), shares


def headline(shares, key="tree", window=HEADLINE_WINDOW):
    """Markdown: share of fingerprinters caught / everyday / sysinfo
    programs limited, per count class and max_calls, at one key and window."""
    pts = [s for s in shares if s["key"] == key and s["window_ms"] == window]
    if not pts:
        return ""
    calls = sorted({s["max_calls"] for s in pts})
    counts = list(dict.fromkeys(s["count"] for s in pts))
    out = ["Key `%s`, window %d ms: share of fingerprinters caught (every run "
           "limited) / everyday programs limited (any run) / sysinfo tools "
           "limited (any run)." % (key, window), "",
           "| count | " + " | ".join("max %d" % c for c in calls) + " |",
           "| --- |" + " --- |" * len(calls)]
    fmt = lambda v: "-" if v is None else "%d%%" % round(100 * v)  # noqa: E731
    for c in counts:
        cells = []
        for mc in calls:
            s = [x for x in pts if x["count"] == c and x["max_calls"] == mc][0]
            cells.append("%s / %s / %s" % (fmt(s["fingerprint"]), fmt(s["everyday"]),
                                           fmt(s["sysinfo"])))
        out.append("| %s | %s |" % (c, " | ".join(cells)))
    return "\n".join(out) + "\n"


def peak_table(programs, counts, key="tree", window=HEADLINE_WINDOW):
    """Markdown: per program, its peak calls per window for each class."""
    out = ["| program | class | runs | status | calls (max run) | " +
           " | ".join("peak %s" % c for c in counts) + " |",
           "| --- | --- | --- | --- | --- |" + " --- |" * len(counts)]
    for p in sorted(programs, key=lambda p: (corpus.CLASSES.index(p["class"]), p["name"])):
        st = sorted({r["status"] for r in p["runs"]})
        out.append("| %s | %s | %d | %s | %d | %s |" % (
            escape(p["name"]).replace("|", "\\|"), p["class"], len(p["runs"]),
            ",".join(map(str, st)), max(r["calls"] for r in p["runs"]),
            " | ".join(str(p["peaks"].get("%s|%s|%d" % (c, key, window), "-"))
                       for c in counts)))
    return "\n".join(out) + "\n"


def write_results(out, recording, rows, programs, shares, counts, grid, plots):
    os.makedirs(out, exist_ok=True)
    files = {}
    path = os.path.join(out, "results.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["program"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    files["csv"] = path
    meta = {k: v for k, v in recording.meta.items() if k != "segments"}
    path = os.path.join(out, "results.json")
    with open(path, "w") as f:
        json.dump({"recording": meta, "grid": grid, "programs": programs,
                   "shares": shares, "lost": recording.lost, "late": recording.late,
                   "complete": recording.complete}, f, indent=1, sort_keys=True)
    files["json"] = path
    path = os.path.join(out, "summary.md")
    key = "tree" if "tree" in grid["keys"] else grid["keys"][0]
    window = HEADLINE_WINDOW if HEADLINE_WINDOW in grid["windows_ms"] else grid["windows_ms"][0]
    with open(path, "w") as f:
        f.write("# Sweep: %s, kernel %s, %d records, %d lost\n\n" % (
            escape(meta.get("host", "")), escape(meta.get("kernel", "")),
            recording.count, recording.lost))
        f.write(headline(shares, key, window) + "\n")
        f.write(peak_table(programs, [replay.CountClass(c).label for c in counts],
                           key, window))
    files["summary"] = path
    if plots:
        from . import plots as plotting
        files.update(plotting.draw(out, programs, shares, grid, key, window))
    return files


def _checked_args(argv):
    """Everything about the arguments and the corpus, checked before
    anything is created or attached: (a, rest, progs, grid or None)."""
    a, rest = _parser().parse_known_args(argv)
    progs = _programs(a)
    if a.verify:
        for flag in ("--max-calls", "--window-ms"):
            if flag not in argv:
                raise SetupError("--verify needs %s (one value)" % flag)
        # The policy flags are the watchdog's own: check them as it will.
        opts = parse_watchdog(rest + ["--max-calls", a.max_calls,
                                      "--window-ms", a.window_ms, "--", "true"])
        a.max_calls, a.window_ms = opts.policy.max_calls, opts.policy.window_ms
        return a, rest, progs, None
    if rest:
        raise SetupError("unknown option %s (policy flags go with --verify)" % rest[0])
    a.count = a.count or COUNTS_DEFAULT
    return a, rest, progs, grid_args(a, True, {})


def _sweep(a, progs, grid_points, rep, tmp):
    keys, counts, wins, calls = grid_points
    os.makedirs(a.out, exist_ok=True)
    recording = record_corpus(progs, os.path.join(a.out, "sweep.wdrec"), rep, tmp)
    rows, programs, shares = analyse(recording, keys, counts, wins, calls)
    grid = {"keys": keys, "counts": counts, "windows_ms": wins, "max_calls": calls}
    plots = not a.no_plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            rep.warn("python3-matplotlib is missing (./install.sh --research): no plots")
            plots = False
    files = write_results(a.out, recording, rows, programs, shares, counts, grid, plots)
    files["recording"] = recording.path
    rep.emit(dict(event="sweep", records=recording.count, lost=recording.lost,
                  files=files),
             ["sweep: %d runs, %d records, lost %d" % (
                 len(recording.segments()), recording.count, recording.lost)] +
             ["  %-9s %s" % (k, escape(v)) for k, v in sorted(files.items())])


def main(argv, _launched=None):
    """sweep: 0, or 2 on bad input.  The arguments, the corpus and root
    are checked before anything is created; the scratch directory goes on
    every way out."""
    from ..environment import require_root
    try:
        a, rest, progs, grid_points = _checked_args(argv)
        rep = Reporter(as_json=a.json)
        require_root()
        tmp = tempfile.mkdtemp(prefix="wd-sweep-")
        try:
            if a.verify:
                verify(progs, a, rest, rep, tmp)
            else:
                _sweep(a, progs, grid_points, rep, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0
    except SetupError as e:
        sys.stderr.write("watchdog: error: %s\n" % one_line(str(e)))
        return e.exit_status
