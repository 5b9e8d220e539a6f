#!/usr/bin/python3
"""Measure what each backend does with each io_uring route on this kernel,
for the table in docs/watchdog_guide.md section 2 (not a test: it asserts
nothing; tests/host/test_uring_routes.py and tests/vm/test_routes.py do).

    tests/uring_table.py BACKEND...        e.g. tracepoint, or lsm tracepoint

Runs tests/progs/bin/route_reader under build/ethoswd (make progs ethoswd
first) at 100 calls per window, 300 requests per route, a source file in a
fresh directory under /tmp, and prints one markdown row per route x backend
x action: "ok/eperm/other" of the 300, what the watchdog counted, whether
the reader was killed, and for uring-batch / uring-sqpoll the reads that
completed and the bytes the linked writes copied (from the -o file).
Loads BPF: on the shared host, run it under wd-lock.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import readers  # noqa: E402
import wdrun  # noqa: E402

ROUTES = ("uring-read", "uring-read+async", "uring-splice", "uring-tee", "uring-batch",
          "uring-sqpoll", "uring-readv-fixed", "uring-read-multishot")
ACTIONS = {"lsm": ("monitor", "deny", "throttle", "kill"),
           "kprobe": ("monitor", "deny", "throttle", "kill"),
           "tracepoint": ("monitor", "throttle", "kill")}
N, LIMIT = 300, 100


def cell(backend, action, route, tmp):
    src = readers.route_source(tmp)
    out = os.path.join(tmp, "out")
    if os.path.exists(out):
        os.unlink(out)
    if route == "uring-read-multishot":
        src = "/proc/cpuinfo"   # pollable: a regular file is refused (EBADFD)
    # Throttle: a window long enough that 300 single requests do not all
    # fit, short enough that a stopped reader is resumed soon.
    window = "2000" if action in ("throttle", "kill") else "60000"
    res = wdrun.run(["--backend", backend, "--action", action, "--max-calls", str(LIMIT),
                     "--window-ms", window], readers.route_cmd(route, N, src, out=out),
                    timeout=900)
    got = readers.route_results(res.other_lines).get("route")
    pid = res.start["targets"][0]
    rows = [r for r in res.summary["processes"] if r["pid"] == pid]
    counted = sum(r["total"] for r in rows)
    if got is None:
        what = "killed (rc %d)" % res.rc
    elif got["setup"]:
        what = "setup refused (errno %d)" % got["setup"]
    else:
        what = "%d ok, %d EPERM, %d other" % (got["ok"], got["eperm"], got["other"])
        if got["other"]:
            what += " (errno %d)" % got["first_other"]
    if route in ("uring-batch", "uring-sqpoll") and os.path.exists(out):
        reads, copies = readers.route_outcome(out, N)
        what += "; %d reads completed" % reads
        if route == "uring-sqpoll":
            what += ", %d copied" % copies
    return "| %s | %s | %s | %s | %d |" % (route, backend, action, what, counted)


def main(backends):
    wdrun.use("ethoswd")
    print("| route | backend | action | %d requests | counted |" % N)
    print("|---|---|---|---|---|")
    for backend in backends:
        for action in ACTIONS[backend]:
            for route in ROUTES:
                with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
                    print(cell(backend, action, route, tmp), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["tracepoint"])
