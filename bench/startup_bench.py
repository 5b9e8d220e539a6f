#!/usr/bin/python3
"""Start-up and per-call cost of the two front ends, side by side (root).

Start-up is exec to enforcing: from starting the front end to its JSON
`start` record, which it writes once every program is attached.
watchdog.py compiles the probe with BCC first; ethoswd loads its prebuilt
CO-RE object.  Per-call cost: the ns per 1-byte /dev/zero read() of a
worker (syscall_bench, 1-byte reads in chunks, the median of the chunks
no context switch disturbed) launched as each front end's `-- CMD` under
the seed rule in monitor mode with an unreachable limit, against the same
worker with no BPF at all, in alternating order.  Both front ends attach
the same probe source, so the added cost should match within noise.

    sudo /usr/bin/python3 bench/startup_bench.py [--runs N] [--reads N]

In a QEMU guest (make bench-vm runs it in both):
    vm/run.py --kernel debian -- /usr/bin/python3 bench/startup_bench.py --runs 3
Writes results/startup.md and results/startup.json (--out DIR).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
PY = "/usr/bin/python3"
FRONTENDS = {"watchdog.py": [PY, os.path.join(REPO, "watchdog.py")],
             "ethoswd": [os.path.join(REPO, "build", "ethoswd")]}
WORKER = os.path.join(BENCH_DIR, "bin", "syscall_bench")
# Never reached: the run measures the probe's cost, not enforcement.
NO_LIMIT = ["--action", "monitor", "--max-calls", "4000000000", "--window-ms", "1000"]


def startup_once(argv):
    """Seconds from exec to the `start` record, and the record."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv + ["--json", "--comm", "no_such_comm_b", "--duration", "0.3"]
                         + NO_LIMIT[:2], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    start = None
    for line in p.stdout:
        rec = json.loads(line)
        if rec.get("event") == "start":
            start = time.monotonic() - t0, rec
            break
    p.stdout.read()
    err = p.stderr.read()
    if p.wait() != 0 or start is None:
        raise SystemExit("startup_bench: %s failed: %s" % (argv[-1], err.strip()))
    return start


def worker_ns(prefix, reads, chunks):
    """Median ns per read of the undisturbed chunks of one worker run."""
    out = subprocess.run(prefix + [WORKER, "read", str(reads), str(chunks)],
                         capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("read "))
    fields = [f.split("/") for f in line.split()[3:]]
    quiet = [float(ns) for ns, cs in fields if cs == "0"] or [float(ns) for ns, _ in fields]
    return statistics.median(quiet)


def measure(runs, reads, chunks):
    data = {"kernel": platform.release(), "load": os.getloadavg(), "startup": {},
            "per_call": {"none": []}}
    for name in FRONTENDS:
        data["startup"][name] = []
        data["per_call"][name] = []
    for _ in range(runs):
        for name, argv in FRONTENDS.items():
            secs, rec = startup_once(argv)
            data["startup"][name].append(secs)
            data.setdefault("choice", {})[name] = "%s/%s" % (rec["backend"], rec["action"])
        for name, argv in [("none", None)] + list(FRONTENDS.items()):
            prefix = [] if argv is None else argv + NO_LIMIT + ["--"]
            data["per_call"][name].append(worker_ns(prefix, reads, chunks))
    return data


def render(d):
    med = {k: statistics.median(v) for k, v in d["startup"].items()}
    call = {k: statistics.median(v) for k, v in d["per_call"].items()}
    added = {k: call[k] - call["none"] for k in FRONTENDS}
    lines = ["# Start-up and per-call cost: watchdog.py vs ethoswd", "",
             "Kernel %s, load %.2f %.2f %.2f, %d runs each (median, min-max)."
             % ((d["kernel"],) + tuple(d["load"]) + (len(d["startup"]["ethoswd"]),)), "",
             "| front end | backend/action | start-up (exec to enforcing) | x ethoswd |"
             " read() ns | added ns | added x watchdog.py |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name in FRONTENDS:
        s = d["startup"][name]
        lines.append("| %s | %s | %.3f s (%.3f-%.3f) | %.1f | %.0f | %+.0f | %.2f |" % (
            name, d["choice"][name], med[name], min(s), max(s), med[name] / med["ethoswd"],
            call[name], added[name], added[name] / added["watchdog.py"]
            if added["watchdog.py"] > 0 else float("nan")))
    lines += ["", "No BPF: %.0f ns per read." % call["none"], ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reads", type=int, default=200000)
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("startup_bench: must run as root")
    for name, argv in FRONTENDS.items():
        if not os.access(argv[-1], os.R_OK):
            sys.exit("startup_bench: %s is missing (make ethoswd)" % argv[-1])
    d = measure(a.runs, a.reads, a.chunks)
    text = render(d)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "startup.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "startup.json"), "w") as f:
        json.dump(d, f, indent=1)


if __name__ == "__main__":
    main()
