"""Phase 3: the real front end, watchdog.py, run as a user runs it.

Start-up is timed from exec of `watchdog.py --json ... -- CMD` to its
"start" record; the map-full check runs it with --map-size 1 and looks
for the warnings.  The process is run by tests/wdrun.py's Watchdog (the
host and VM suites' helper), which collects the JSON records.
"""

import subprocess
import time

import wdrun
from common import SAFE_MAX_CALLS, WINDOW_MS, WORKER_BIN, BenchError, log

MAPFULL_READS = 20000
LIMITS = ["--max-calls", str(SAFE_MAX_CALLS), "--window-ms", str(WINDOW_MS)]


def run_watchdog(args, cmd, timeout=120, on_start=None):
    """Run watchdog.py --json (with `-- cmd` if given); on_start() is called
    at its "start" record.  Returns (wall to 'start' s or None, Result)."""
    t0 = time.monotonic()
    run = wdrun.Watchdog(args, cmd)
    start = run.wait_for(lambda r: r.get("event") == "start", timeout)
    wall = time.monotonic() - t0 if start is not None else None
    if start is not None and on_start:
        on_start()
    try:
        res = run.finish(max(1, t0 + timeout - time.monotonic()))
    except AssertionError as e:         # did not exit in time: killed
        raise BenchError(str(e).splitlines()[0])
    return wall, res


def measure_startup(p):
    runs = []
    for i in range(p["startup_runs"]):
        wall, res = run_watchdog(LIMITS, [WORKER_BIN, "read", "1000"])
        start = res.start
        if wall is None or start is None:
            raise BenchError("watchdog did not start (rc %s): %s"
                             % (res.rc, res.stderr.strip()[-500:]))
        s = dict(start["startup"])
        s["wall"] = wall
        s["interpreter"] = wall - s["total"]
        s["backend"], s["action"] = start["backend"], start["action"]
        runs.append(s)
        log("start-up run %d: %.3f s (%s/%s)" % (i + 1, wall, s["backend"], s["action"]))
    return runs


def _health_outcome(res, counter):
    warns = [r for r in res.events("warning") if r.get("counter") == counter]
    summ = next(iter(res.events("summary")), {})
    return {"rc": res.rc, "counter": counter, "warnings": len(warns),
            "first_warning": warns[0]["message"] if warns else None,
            "reported": (summ.get("health") or {}).get(counter, 0),
            "stderr_tail": res.stderr.strip()[-300:]}


def map_full_cli():
    """The front end with --map-size 1: what it cannot track must be reported.

    System-wide (monitor): once one process holds the only entry, every
    other process's calls are untracked and counted as map_full.  With a
    command (enforcing, under the limit): the command holds the entry, so
    its two children cannot get one; they are counted as targets_full."""
    out = {"reads_per_child": MAPFULL_READS}

    def two_readers():
        for _ in range(2):
            subprocess.run([WORKER_BIN, "read", str(MAPFULL_READS)],
                           stdout=subprocess.DEVNULL)
    _, res = run_watchdog(["--action", "monitor", "--map-size", "1", "--interval", "0.2",
                           "--duration", "1.5"], None, on_start=two_readers)
    out["system_wide"] = _health_outcome(res, "map_full")
    script = "%s read %d & %s read %d; wait" % (WORKER_BIN, MAPFULL_READS,
                                                WORKER_BIN, MAPFULL_READS)
    _, res = run_watchdog(LIMITS + ["--map-size", "1", "--interval", "0.2"],
                          ["/bin/sh", "-c", script])
    out["targeted"] = _health_outcome(res, "targets_full")
    return out


def front_end_phase(p, skip_startup):
    """Start-up runs and the map-full check: (startup runs, map-full
    outcome or None, {what: error}).  The front end is measured as it
    is; if it fails, the results say so instead of losing the rest."""
    errors, startup, mf = {}, [], None
    try:
        startup = [] if skip_startup else measure_startup(p)
    except BenchError as e:
        errors["start-up"] = str(e)
        log("error: %s" % e)
    try:
        log("map-full check through the front end")
        mf = map_full_cli()
    except (BenchError, OSError, ValueError) as e:
        errors["map-full check"] = str(e)
        log("error: %s" % e)
    return startup, mf, errors
