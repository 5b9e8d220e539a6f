#!/usr/bin/python3
"""The cost of the policy knobs: read classes and budget keys, measured
side by side with the reference probe in the same run (root).

One worker process makes 1-byte reads of /dev/zero ("zero") and 1-byte
preads of /proc/version ("proc").  Each configuration is attached in turn,
in a shuffled order per round, and the worker's ns per call is timed in
chunks (worker.estimate(): the median of the undisturbed chunks).  The
added cost of a configuration is its ns per call minus the no-BPF
baseline's; the ratio divides that by the reference counter's added cost
for the same kind of call.

Under `--count sysinfo` a /dev/zero read is an uncounted call (the goal is
at most 1.2x the reference's added cost: the probe must look at the file
and let it go) and a /proc read a counted one.  The key rows count every
read and charge it to a tree, user or cgroup budget.  Each configuration
also says how many of the worker's calls it counted, so a class that
counted the wrong reads shows up as a wrong count, not as a fast row.

    sudo /usr/bin/python3 bench/policy_bench.py [--quick] [--rounds N]

Writes results/policy.md and results/policy.json beside bench.py's files.
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (also puts the repository on sys.path)
from common import median  # noqa: E402
from configs import Config, Loader, ref_config  # noqa: E402
from ethoswd import cli, features  # noqa: E402
from machine import bpf_stats, machine_info, prog_stats  # noqa: E402
from phases import rounds  # noqa: E402
from report import md_table, write_results  # noqa: E402
from worker import calls_per_chunk, estimate, pick_cpu, size_chunks, warm_n, workers  # noqa

MODES = ("zero", "proc")
WORKER_MODE = {"zero": "read", "proc": "procread"}
GOAL_UNCOUNTED = 1.2
# (name, what, watchdog.py options of the policy)
POLICIES = [
    ("wd-all-process", "count all, key process (the seed rule)", ()),
    ("wd-sysinfo-process", "count sysinfo, key process", ("--count", "sysinfo")),
    ("wd-sysinfo-files", "count sysinfo + 3 --file, key process",
     ("--count", "sysinfo", "--file", "/etc/hostname", "--file",
      "/etc/os-release", "--file", "/etc/passwd")),
    ("wd-all-tree", "count all, key tree", ("--key", "tree")),
    ("wd-all-uid", "count all, key uid", ("--key", "uid")),
    ("wd-all-cgroup", "count all, key cgroup", ("--key", "cgroup")),
]


def build(loader, backend, worker_pid):
    """none, the reference counter, and the watchdog under each policy, on
    the backend auto would pick (monitor: nothing is ever refused)."""
    configs = [Config("none", "no BPF program"), ref_config(backend)]
    for name, label, argv in POLICIES:
        pol = cli.parse(list(argv) + ["-p", str(worker_pid)]).policy
        configs.append(Config("wd", label, backend=backend, scope="target", policy=pol,
                              name=name))
    return [loader.load(c) for c in configs]


def _sample(c, worker, p, n):
    """{mode: (ns per call, ns per program run or None, share counted or None)}."""
    out = {}
    for mode in MODES:
        wm = WORKER_MODE[mode]
        worker.chunks(wm, warm_n(p, n[mode]), 2)
        base = c.counted(worker.pid)
        hot = c.hot_prog()
        t0, r0 = prog_stats(hot[1]) if hot else (0, 0)
        est = estimate(worker.chunks(wm, n[mode], p["chunks"]))
        t1, r1 = prog_stats(hot[1]) if hot else (0, 0)
        got = c.counted(worker.pid)
        out[mode] = (est[0], (t1 - t0) / (r1 - r0) if r1 > r0 else None,
                     (got - base) / (n[mode] * p["chunks"]) if base is not None else None)
    return out


def measure(configs, worker, p, n, rng):
    """ns per call (wall, the worker's view) and, with kernel.bpf_stats_enabled
    on for the whole run, ns per run of the hot program (the kernel's view,
    less disturbed by a busy machine)."""
    res, counted, runs = ({c.name: {m: [] for m in MODES} for c in configs} for _ in range(3))
    with bpf_stats():
        for c, _, s in rounds(configs, p["rounds"], rng, lambda c: _sample(c, worker, p, n)):
            for mode, (ns, run, share) in s.items():
                res[c.name][mode].append(ns)
                if run is not None:
                    runs[c.name][mode].append(run)
                if share is not None:
                    counted[c.name][mode].append(share)
    return res, counted, runs


def analyse(configs, res, counted, runs):
    med = {c.name: {m: median(res[c.name][m]) for m in MODES} for c in configs}
    ref = next(c for c in configs if c.kind == "ref").name
    rows = []
    for c in configs:
        row = {"name": c.name, "label": c.label}
        for m in MODES:
            added = med[c.name][m] - med["none"][m]
            ref_added = med[ref][m] - med["none"][m]
            share = counted[c.name][m]
            run = median(runs[c.name][m]) if runs[c.name][m] else None
            ref_run = median(runs[ref][m]) if runs[ref][m] else None
            row[m] = {"ns": med[c.name][m], "added": added,
                      "ratio": added / ref_added if ref_added > 0 else None,
                      "counted": median(share) if share else None,
                      "run_ns": run,
                      "run_ratio": run / ref_run if run and ref_run else None}
        rows.append(row)
    return rows


def _cell(v, fmt):
    return "-" if v is None else fmt % v


def render(info, p, backend, rows):
    table = [[r["name"], r["label"]] + sum(
        ([_cell(r[m]["added"], "%+.0f"), _cell(r[m]["ratio"], "%.2f"),
          _cell(r[m]["run_ns"], "%.0f"), _cell(r[m]["run_ratio"], "%.2f"),
          _cell(r[m]["counted"], "%.2f")] for m in MODES), [])
        for r in rows if r["name"] != "none"]
    base = next(r for r in rows if r["name"] == "none")
    sysinfo = next(r for r in rows if r["name"] == "wd-sysinfo-process")["zero"]
    unc, unc_run = sysinfo["ratio"], sysinfo["run_ratio"]
    out = ["# Policy cost (bench/policy_bench.py)", "",
           "Kernel %s, %s; backend %s, action monitor, the worker is the only "
           "target; %d rounds of %d chunks.  Baseline without BPF: %.0f ns per "
           "/dev/zero read, %.0f ns per /proc/version pread." % (
               info["kernel"], info["cpu_model"], backend, p["rounds"],
               p["chunks"], base["zero"]["ns"], base["proc"]["ns"]), "",
           "`added` is ns per call over the baseline, as the worker sees it; "
           "`x ref` divides it by the reference counter's added cost for the "
           "same call.  `run` is the hot program's own ns per run from "
           "kernel.bpf_stats_enabled (on for every row), and `x ref` beside it "
           "the same ratio.  `counted` is the share of the worker's calls the "
           "configuration counted (1.00 = every call, 0.00 = none).", "",
           md_table(["config", "what", "zero added", "x ref", "zero run",
                     "x ref", "zero counted", "proc added", "x ref",
                     "proc run", "x ref", "proc counted"], table,
                    ["l", "l"] + ["r"] * 10),
           "Goal: an uncounted call (a /dev/zero read under `--count sysinfo`) "
           "costs at most %.1fx the reference's added cost: measured %s added "
           "(%s), %s per program run (%s)." % (
               GOAL_UNCOUNTED, _cell(unc, "%.2fx"),
               "met" if unc is not None and unc <= GOAL_UNCOUNTED else "NOT met",
               _cell(unc_run, "%.2fx"),
               "met" if unc_run is not None and unc_run <= GOAL_UNCOUNTED else "NOT met")]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=common.quick_default())
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=common.default_out())
    a = ap.parse_args()
    p = dict(common.QUICK if a.quick else common.FULL)
    p["rounds"] = a.rounds or p["rounds"]
    bcc = common.start_bcc()
    info = machine_info()
    feats = features.Features()
    backend, _action, _why = features.choose(feats, "auto", "auto")
    t0 = time.monotonic()
    loader = Loader(bcc, feats, {}, ref_families=[backend])
    try:
        with workers(pick_cpu()) as (worker, _):
            step = size_chunks(worker, p)
            n = {m: calls_per_chunk(worker, p, WORKER_MODE[m], step)[0] for m in MODES}
            loader.pids = {"target": worker.pid}
            configs = build(loader, backend, worker.pid)
            res, counted, runs = measure(configs, worker, p, n, random.Random(
                a.seed if a.seed is not None else int(t0)))
    finally:
        loader.close()
    rows = analyse(configs, res, counted, runs)
    text = render(info, p, backend, rows)
    text += "\nWall time %.0f s.\n" % (time.monotonic() - t0)
    write_results(a.out, "policy", text,
                  {"machine": info, "params": p, "backend": backend,
                   "raw": res, "counted": counted, "runs": runs, "rows": rows})
    return 0


if __name__ == "__main__":
    common.run_main(main)
