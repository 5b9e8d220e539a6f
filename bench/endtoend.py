"""`-- /bin/true` end to end: what a whole short run of each front end
costs, detach included (bench.py's front-end phase, section 4b).

Each round runs, in turn, /bin/true alone (the baseline), then
`FRONT_END --json [--action monitor] -- /bin/true` for both front ends
and both actions (monitor, and the automatic one, which enforces on the
command only): wall time from exec to exit, and from exec to the JSON
`start` record (start-up).  The rest, exit minus start, is the command,
the detach and the summary; the detach dominates it (each tracepoint's
release waits for the kernel's grace periods: docs/performance.md).
"""

import json
import os
import subprocess
import time

from common import BenchError, REPO, log, median

PY = "/usr/bin/python3"
FRONTENDS = {"ethoswd": [os.path.join(REPO, "build", "ethoswd")],
             "watchdog.py": [PY, os.path.join(REPO, "watchdog.py")]}
ACTIONS = {"monitor": ["--action", "monitor"], "auto": []}
TRUE = "/bin/true"


def run_once(argv):
    """(exec to exit s, exec to the start record s or None, exit status)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    start = None
    for line in p.stdout:
        if start is None and line.startswith("{"):
            try:
                if json.loads(line).get("event") == "start":
                    start = time.monotonic() - t0
            except ValueError:
                pass
    rc = p.wait()
    return time.monotonic() - t0, start, rc


def measure(runs):
    """{"true": [s...], "FRONT/ACTION": {"wall": [...], "start": [...]}}."""
    out = {"true": []}
    for _ in range(runs):
        out["true"].append(run_once([TRUE])[0])
        for name, argv in FRONTENDS.items():
            for action, flags in ACTIONS.items():
                wall, start, rc = run_once(argv + ["--json"] + flags + ["--", TRUE])
                if rc != 0 or start is None:
                    raise BenchError("%s %s -- /bin/true: exit %s, start record %s"
                                     % (name, action, rc, "seen" if start else "missing"))
                row = out.setdefault("%s/%s" % (name, action), {"wall": [], "start": []})
                row["wall"].append(wall)
                row["start"].append(start)
    for key, row in out.items():
        if key != "true":
            log("-- /bin/true end to end, %s: %.3f s (start-up %.3f s)"
                % (key, median(row["wall"]), median(row["start"])))
    return out


def summary(e2e):
    """[(key, wall median, min, max, start median, rest median)] per row."""
    rows = []
    for key, row in e2e.items():
        if key == "true":
            continue
        rest = [w - s for w, s in zip(row["wall"], row["start"])]
        rows.append((key, median(row["wall"]), min(row["wall"]), max(row["wall"]),
                     median(row["start"]), median(rest)))
    return rows
