#!/usr/bin/python3
"""bench.py - what the watchdog costs: per call, per event, at start-up, at scale.

    sudo make bench                        # about 2.5 minutes here
    sudo make bench QUICK=1                # about a minute, fewer rounds
    sudo /usr/bin/python3 bench/bench.py [--quick] [--rounds N] [--out DIR]

Run as root with the Python that has BCC (/usr/bin/python3).  Prints
Markdown tables and writes them to bench/results/latest.md, with every
raw sample in bench/results/latest.json.

Safety: nothing here can stop a process.  Enforcing configurations are
always restricted to one benchmark process (the worker, or a sleeping
process of ours) and use a limit of 4e9 calls per window, which cannot be
reached; only "monitor" (which never acts) runs system-wide.  While any
syscall tracepoint is attached, every process's syscalls are slower
(section 2 of the output measures by how much).

Method
------
One long-lived worker, bench/bin/syscall_bench in "serve" mode pinned to
the last CPU (this script runs on the others), runs timed loops on
request: N 1-byte read()s of /dev/zero, or N syscall(SYS_getpid).  Each
configuration below is attached, the worker runs a warm-up and then
CHUNKS timed chunks of about 1 ms of each kind, and the configuration is
detached.  A chunk's CLOCK_MONOTONIC time counts only if the worker was
not preempted during it (no involuntary context switch: this machine is
shared, and a chunk that lost the CPU measures the other load, not the
syscall); the measurement is the median of those chunks (of all chunks if
fewer than 5 ran undisturbed).  A round runs every configuration once, in
a freshly shuffled order; the tables report the median over the rounds, so
slow drift and other load hit every configuration alike.

Configurations (per backend that works here, from ethoswd.features):
  none                     no BPF program attached
  ref-empty                an empty program on syscalls:sys_enter_<read*>
  ref-tp / ref-rawtp       bench/ref_probe.c: hash lookup-or-init by TGID
                           plus an atomic add, on the syscall tracepoints /
                           on the raw sys_enter tracepoint
  ref-kprobe / ref-lsm     the same counter on the kprobe / LSM hook
  wd-B-monitor-target      the watchdog (probe/), backend B, counting only
                           the worker (--pid)
  wd-B-monitor-all         the same, system-wide (every process counted)
  wd-B-ACTION-target       enforcing (throttle, deny) on the worker only,
                           under the limit
  wd-B-ACTION-other        enforcing on another (sleeping) process: what the
                           worker pays as a bystander it does not target
  wd-...-nN                scaling: N processes tracked (fake entries
                           written into wd_state besides the worker's)
  wd-B-monitor-all-mapfull system-wide monitor with wd_state full of fake
                           entries: every call is untracked (map_full)

Cost per event inside the kernel comes from a second pass with
kernel.bpf_stats_enabled=1 (run_time_ns / run_cnt of each program, read
from the program's fdinfo and cross-checked once against `bpftool -j prog
show id`), restored afterwards.  Start-up is timed from exec of
`watchdog.py --json ... -- CMD` to its "start" record; `-- /bin/true`
end to end (endtoend.py), for both front ends against /bin/true alone,
from exec to exit (detach included).  After each
measurement (and before it, if the last check found any) `bpftool -j
perf` is checked for other processes' programs on syscall tracepoints:
they would put even the "none" baseline on the tracing slow path, so such
samples are dropped and counted.

Code: this file is main() only.  machine.py (the machine, fdinfo,
bpftool, sysctls), worker.py (the worker), configs.py (what is measured,
and its programs), phases.py (the measurement loops), frontend.py
(watchdog.py's start-up and map-full check), endtoend.py (a whole
`-- /bin/true` run of each front end), report.py (analysis and
the Markdown tables); common.py holds the paths and limits.
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (also puts the repository on sys.path)
from configs import Loader  # noqa: E402
from ethoswd import features  # noqa: E402
from machine import loadavg, machine_info  # noqa: E402
from phases import measure_all  # noqa: E402
from report import analyse, render, write_results  # noqa: E402
from worker import pick_cpu, workers  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=common.quick_default(),
                    help="fewer rounds, about a minute (also QUICK=1)")
    ap.add_argument("--rounds", type=int, help="override the number of rounds")
    ap.add_argument("--cpu", type=int, default=None,
                    help="CPU for the worker (default: the last; -1: not pinned)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=common.default_out())
    ap.add_argument("--skip-startup", action="store_true")
    a = ap.parse_args()
    p = dict(common.QUICK if a.quick else common.FULL, quick=a.quick)
    p["rounds"] = a.rounds or p["rounds"]
    bcc = common.start_bcc()
    t_start = time.monotonic()
    info = machine_info()
    feats = features.Features()
    cpu = pick_cpu(a.cpu)
    p["cpu"] = cpu if cpu is not None else "any"
    p["seed"] = a.seed if a.seed is not None else int(time.time())
    loader = Loader(bcc, feats, {})
    try:
        with workers(cpu, sleeper=True) as (worker, other):
            loader.pids = {"target": worker.pid, "other": other.pid}
            res = measure_all(worker, loader, feats, info, p, random.Random(p["seed"]),
                              a.skip_startup)
        analyse(res)
        text = render(res)
    finally:
        loader.close()
    info["loadavg_end"] = loadavg()
    info["bench_seconds"] = round(time.monotonic() - t_start, 1)
    text += "\nBenchmark wall time %.0f s.\n" % info["bench_seconds"]
    write_results(a.out, "latest", text,
                  {"machine": info, "params": p, "compile_s": res.compile_s,
                   "raw_calls": res.calls, "raw_stats": res.stats, "startup": res.startup,
                   "endtoend": res.endtoend,
                   "map_full_cli": res.mapfull_cli, "analysis": res.analysis})
    # Targets are reported, never asserted; a broken front end is an error.
    return 1 if res.front_end_errors else 0


if __name__ == "__main__":
    common.run_main(main)
