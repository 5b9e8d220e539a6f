#!/usr/bin/python3
"""What the service costs real work: wall time of read-heavy everyday
commands with the service's profile attached system-wide in MONITOR mode,
against no watchdog (root).

    sudo /usr/bin/python3 bench/macro_bench.py [--pairs N] [--only tar|make|git-status|unit]

The service runs `ethoswd --config /etc/default/ethoswd`, whose profile is
fingerprint; here that is `build/ethoswd --profile fingerprint --action
monitor`: every read on the machine goes through the probe, and nothing
is ever stopped (the start record's action is checked: anything but
monitor is killed at once and the run fails).  Each workload runs once
to warm the caches, then in pairs A B A B ...: A with no watchdog, B with
the watchdog attached (started before, stopped with SIGINT after; the
start-up and detach are outside the timed command).  Wall time and CPU
time (user + system of the command and its children: on a shared machine
less disturbed by other load than wall time); the ratio is B/A pair by
pair; the table gives medians and min-max.

Workloads: tar of /usr/include into a pipe (tar skips reading files when
it writes to /dev/null itself), `make -B` of tests/progs, `git status` on a
git repository holding a copy of /usr/include (made once under
/tmp/ethoswd-macro), and a slice of the unit suite.
Writes results/macro.md and results/macro.json (--out DIR).
"""

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from common import REPO, median  # noqa: E402
from report import write_results  # noqa: E402

PY = "/usr/bin/python3"
ETHOSWD = os.path.join(REPO, "build", "ethoswd")
SERVICE = [ETHOSWD, "--profile", "fingerprint", "--action", "monitor", "--interval", "60",
           "--json"]
GIT_TREE = "/tmp/ethoswd-macro/include"
UNIT_SLICE = ["tests/unit/test_policy.py", "tests/unit/test_config.py",
              "tests/unit/test_report.py"]
WORKLOADS = {
    "tar": ("tar of /usr/include, to a pipe",
            ["sh", "-c", "tar -cf - /usr/include 2>/dev/null | cat >/dev/null"]),
    "make": ("make -B of tests/progs",
             ["make", "-s", "-B", "-C", os.path.join(REPO, "tests", "progs")]),
    "git-status": ("git status, a copy of /usr/include",
                   ["git", "-C", GIT_TREE, "status", "--porcelain"]),
    "unit": ("unit tests: " + ", ".join(os.path.basename(f) for f in UNIT_SLICE),
             [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + UNIT_SLICE),
}


def git_tree():
    """A git repository holding a copy of /usr/include, committed."""
    if os.path.isdir(os.path.join(GIT_TREE, ".git")):
        return
    shutil.rmtree(GIT_TREE, ignore_errors=True)
    shutil.copytree("/usr/include", GIT_TREE, symlinks=True)
    git = ["git", "-C", GIT_TREE, "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(git + args, check=True, stdout=subprocess.DEVNULL)


def timed(argv):
    """(wall s, CPU s: user + system of the command and its children)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc = subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        sys.exit("macro_bench: %s exited %d" % (" ".join(argv), rc))
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


class Service:
    """The service profile attached system-wide in monitor mode."""

    def __enter__(self):
        self.p = subprocess.Popen(SERVICE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        for line in self.p.stdout:
            rec = json.loads(line) if line.startswith("{") else {}
            if rec.get("event") == "start":
                if rec.get("action") != "monitor":
                    self.p.kill()
                    sys.exit("macro_bench: the watchdog chose %s, not monitor: stopped"
                             % rec.get("action"))
                self.start = rec
                return self
        sys.exit("macro_bench: the watchdog did not start (exit %s)" % self.p.wait())

    def __exit__(self, *exc):
        self.p.send_signal(signal.SIGINT)
        self.p.stdout.read()
        if self.p.wait(60) != 0:
            sys.exit("macro_bench: the watchdog exited %d" % self.p.returncode)


def measure(pairs, names):
    out = {"kernel": platform.release(), "load_start": os.getloadavg(), "pairs": pairs,
           "service": SERVICE, "workloads": {}}
    for name in names:
        label, argv = WORKLOADS[name]
        timed(argv)                       # warm-up: caches, compiler, imports
        a, b = [], []
        for _ in range(pairs):
            a.append(timed(argv))
            with Service():
                b.append(timed(argv))
        out["workloads"][name] = {"label": label, "argv": argv, "none": a, "monitor": b}
        print("macro_bench: %s: %.3f s -> %.3f s wall" % (
            label, median([w for w, _ in a]), median([w for w, _ in b])), file=sys.stderr)
    out["load_end"] = os.getloadavg()
    return out


def _cells(a, b):
    """'A median', 'B median', 'B/A pair by pair: median (min-max)'."""
    r = [y / x for x, y in zip(a, b)]
    return ["%.3f" % median(a), "%.3f" % median(b),
            "%.3f (%.3f-%.3f)" % (median(r), min(r), max(r))]


def render(d):
    rows = []
    for name, w in d["workloads"].items():
        a, b = w["none"], w["monitor"]
        cells = (_cells([x[0] for x in a], [x[0] for x in b]) +
                 _cells([x[1] for x in a], [x[1] for x in b]))
        rows.append("| %s | %s |" % (w["label"], " | ".join(cells)))
    return "\n".join([
        "# What the service costs real work", "",
        "Kernel %s, load %.2f at start, %.2f at end; %d pairs A B per workload, after one "
        "warm-up run. A: no watchdog. B: `%s` attached system-wide (monitor: counts, never "
        "acts). Seconds, medians; B/A pair by pair, median (min-max). CPU: user + system "
        "time of the command and its children, less disturbed than wall time by other "
        "load on a shared machine."
        % (d["kernel"], d["load_start"][0], d["load_end"][0], d["pairs"],
           " ".join(["ethoswd"] + d["service"][1:])), "",
        "| workload | wall A | wall B | wall B/A | CPU A | CPU B | CPU B/A |",
        "|---|---:|---:|---:|---:|---:|---:|"] + rows + [""])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS),
                    help="run only this workload (repeatable)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("macro_bench: must run as root")
    if not os.access(ETHOSWD, os.X_OK):
        sys.exit("macro_bench: %s is missing (make ethoswd)" % ETHOSWD)
    git_tree()
    d = measure(a.pairs, a.only or list(WORKLOADS))
    write_results(a.out, "macro", render(d), d)


if __name__ == "__main__":
    main()
