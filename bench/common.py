"""What every bench script shares: paths, the safe limits, logging, errors.

The bench scripts (bench.py, policy_bench.py, breakdown.py) run from
bench/ with this directory on sys.path, so its modules import by plain
name; importing this one also puts the repository root on sys.path for
ethoswd and tests/wdrun.py.
"""

import os
import statistics
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
for _p in (REPO, os.path.join(REPO, "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

WORKER_BIN = os.path.join(BENCH_DIR, "bin", "syscall_bench")
REF_SOURCE = os.path.join(BENCH_DIR, "ref_probe.c")
RESULTS = os.path.join(BENCH_DIR, "results")

SAFE_MAX_CALLS = 4000000000     # per window: unreachable, nothing is stopped
WINDOW_MS = 1000

# Rounds, chunks and chunk length of a run (--quick: about a minute).
FULL = dict(rounds=11, chunks=80, chunk_s=0.001, stat_rounds=7, startup_runs=7)
QUICK = dict(rounds=5, chunks=40, chunk_s=0.001, stat_rounds=3, startup_runs=3)


class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def default_out():
    """Where results go: $BENCH_OUT, else bench/results."""
    return os.environ.get("BENCH_OUT", RESULTS)


def quick_default():
    """--quick's default: QUICK=1 in the environment (make passes it)."""
    return os.environ.get("QUICK", "") not in ("", "0")


def start_bcc():
    """Root, pseudo filesystems, BCC and kernel headers: the bcc module."""
    from ethoswd import environment
    environment.require_root()
    if not os.path.exists(WORKER_BIN):
        raise BenchError("%s is missing: run make -C bench" % WORKER_BIN)
    environment.mount_pseudo_filesystems()
    bcc = environment.import_bcc()
    environment.require_headers()
    return bcc


def run_main(main):
    """sys.exit(main()), with a BenchError as one line and exit status 1."""
    try:
        sys.exit(main())
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
