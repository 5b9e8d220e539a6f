"""The worker: one bench/bin/syscall_bench process, one PID, driven over a pipe.

It runs timed loops on request (N 1-byte reads of /dev/zero, N
getpid()s, N preads of /proc/version) and answers each chunk's ns per
call and involuntary context switches.  workers() starts it pinned to
the last CPU, keeps this script off that CPU, and can start a second,
sleeping process (a target that is not the worker).
"""

import contextlib
import os
import select
import signal
import subprocess

from common import WORKER_BIN, BenchError, median

MIN_CLEAN = 5           # undisturbed chunks needed to use only those
MAX_CALLS_PER_CHUNK = 5000000


def estimate(chunks):
    """(ns per call, undisturbed share) from worker chunks: the median of
    the chunks that ran without an involuntary context switch, or of all
    chunks if too few did."""
    clean = [ns for ns, csw in chunks if csw == 0]
    use = clean if len(clean) >= min(MIN_CLEAN, len(chunks)) else [ns for ns, _ in chunks]
    return median(use), len(clean) / len(chunks)


class Worker:
    """bench/bin/syscall_bench serve, pinned to one CPU (None: not pinned)."""

    def __init__(self, cpu):
        argv = [WORKER_BIN] + (["-c", str(cpu)] if cpu is not None else []) + ["serve"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.proc.pid
        self.cpu = cpu

    def chunks(self, mode, n, k=1, timeout=120):
        """k chunks of n calls of `mode` ("read", "getpid", "procread"): a
        list of (ns per call, involuntary context switches during the chunk)."""
        self.proc.stdin.write("%s %d %d\n" % (mode, n, k))
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            # Only a bug could stop it; never leave it stopped.
            os.kill(self.pid, signal.SIGCONT)
            raise BenchError("worker did not answer %s %d in %d s" % (mode, n, timeout))
        words = self.proc.stdout.readline().split()
        if len(words) != 3 + k or "error" in words:
            raise BenchError("worker: %s %d %d failed: %r" % (mode, n, k, words[:8]))
        out = []
        for w in words[3:]:
            ns, _, csw = w.partition("/")
            out.append((float(ns), int(csw)))
        return out

    def clock_step(self):
        """Smallest step of the worker's CLOCK_MONOTONIC, in ns."""
        self.proc.stdin.write("clockres\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline().split()[1])

    def run(self, mode, n, k=1):
        """Estimated ns per call (see estimate())."""
        return estimate(self.chunks(mode, n, k))[0]

    def close(self):
        try:
            os.kill(self.pid, signal.SIGCONT)
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()


def pick_cpu(requested=None):
    """The worker's CPU: `requested`, else the last one we may run on if
    there are several; None (-1 requested, or one CPU): not pinned."""
    cpus = sorted(os.sched_getaffinity(0))
    cpu = requested if requested is not None else (cpus[-1] if len(cpus) > 1 else None)
    return None if cpu is not None and cpu < 0 else cpu


@contextlib.contextmanager
def workers(cpu, sleeper=False):
    """(worker, sleeper process or None) for the block; this process runs
    off the worker's CPU meanwhile (share_cpus() gives it back early)."""
    cpus = set(os.sched_getaffinity(0))
    worker = Worker(cpu)
    # A process that only sleeps: a target that is not the worker.
    other = subprocess.Popen([WORKER_BIN, "wait"]) if sleeper else None
    if cpu is not None:
        # Keep this script (and bpftool) off the worker's CPU while measuring.
        os.sched_setaffinity(0, cpus - {cpu})
    worker.all_cpus = cpus
    try:
        yield worker, other
    finally:
        worker.close()
        if other is not None:
            other.kill()
            other.wait()
        os.sched_setaffinity(0, cpus)


def share_cpus(worker):
    """Run this process on every CPU again (the worker's too)."""
    os.sched_setaffinity(0, worker.all_cpus)


def calibrate(worker, mode, step):
    """A first ns/call estimate from chunks lasting at least 20 clock steps."""
    n = 5000
    while True:
        ns = worker.run(mode, n, 5)
        if ns > 0 and n * ns >= 20 * step:
            return ns
        n *= 4


def size_chunks(worker, p):
    """Fit the chunks to the clock: a chunk lasts about p["chunk_s"] and at
    least 50 clock steps (some VM kernels run on the jiffies clocksource:
    4 ms steps); with a coarse clock, fewer but longer chunks keep the time
    per measurement.  Updates p (clock_step_ns, chunk_s, chunks)."""
    step = worker.clock_step()
    p["clock_step_ns"] = step
    budget = p["chunks"] * p["chunk_s"]
    p["chunk_s"] = max(p["chunk_s"], 50 * step / 1e9)
    p["chunks"] = max(5, min(p["chunks"], int(round(budget / p["chunk_s"]))))
    return step


def calls_per_chunk(worker, p, mode, step):
    """Calls of `mode` that last about one chunk (p["chunk_s"])."""
    ns = calibrate(worker, mode, step)
    return int(min(MAX_CALLS_PER_CHUNK, max(500, p["chunk_s"] * 1e9 / ns))), ns


def warm_n(p, n):
    """Calls for a ~1 ms warm-up chunk (chunks of n calls last chunk_s)."""
    return max(500, int(n * 0.001 / p["chunk_s"]))
