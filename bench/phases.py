"""Measurement phases: each configuration attached in turn, in interleaved
rounds, while the worker runs timed chunks.

measure_all() is bench.py's whole run.  Phase 1 (measure_calls): wall ns
per read() and per getpid(), what the probe counted, with samples dropped
while another process has BPF on the syscall tracepoints.  Phase 2
(measure_stats): in-kernel ns per event from kernel.bpf_stats_enabled.
Phase 3, the front end, is in frontend.py.  rounds() is the loop of both
phases, and of policy_bench.py and breakdown.py too.
"""

import time

from common import BenchError, log
from configs import SCALE_SIZES, bench_configs
from ethoswd.abi import DEFS
import endtoend
from frontend import front_end_phase
from machine import (bpf_stats, bpftool_prog_stats, foreign_syscall_hooks, hash_memlock,
                     prog_stats)
from report import Results
from worker import calls_per_chunk, estimate, share_cpus, size_chunks, warm_n


def rounds(configs, n_rounds, rng, measure, label="round", before=None):
    """For each of n_rounds rounds, every configuration in a fresh shuffled
    order: before() (if given) while nothing is attached, then attach,
    measure(c), detach.  Yields (config, before's value, measure's value)
    after each detach."""
    for r in range(n_rounds):
        order = list(configs)
        rng.shuffle(order)
        log("%s %d/%d" % (label, r + 1, n_rounds))
        for c in order:
            pre = before() if before else None
            c.attach()
            try:
                got = measure(c)
            finally:
                c.detach()
            yield c, pre, got


class Quiet:
    """Other processes' BPF programs on syscall tracepoints put even the
    "none" baseline on the tracing slow path: a sample taken while any
    were attached is dropped.  before() (rounds()' hook) waits, within a
    budget, for the last check's hooks to go; seen(before's value) checks
    again after the measurement and returns every hook seen around it."""

    def __init__(self, budget=60.0, max_wait=20.0):
        self.budget, self.max_wait = budget, max_wait
        self.hooks = foreign_syscall_hooks()

    def before(self):
        # The check after the previous measurement is this one's "before".
        if not self.hooks:
            return []
        t0 = time.monotonic()
        hooks = self.hooks
        while hooks and time.monotonic() - t0 < min(self.max_wait, self.budget):
            time.sleep(0.5)
            hooks = foreign_syscall_hooks()
        self.budget -= time.monotonic() - t0
        return hooks

    def seen(self, before_hooks):
        self.hooks = foreign_syscall_hooks()
        return sorted(set(before_hooks) | set(self.hooks))


def _calls_sample(c, worker, p):
    """One configuration's phase-1 sample, while it is attached."""
    n_read, n_getpid = p["n_read"], p["n_getpid"]
    worker.chunks("read", warm_n(p, n_read), 2)     # warm-up
    base, mf0 = c.counted(worker.pid), c.map_full()
    reads = estimate(worker.chunks("read", n_read, p["chunks"]))
    got, mf = c.counted(worker.pid), c.map_full()
    pids = estimate(worker.chunks("getpid", n_getpid, p["chunks"]))
    made = n_read * p["chunks"]
    return {"read": reads, "getpid": pids,
            # The serve loop's own stdin reads add a few calls.
            "counted": (got - base) / made if base is not None else None,
            "map_full": (mf - mf0) / made if mf0 is not None else None}


def measure_calls(configs, worker, p, rng):
    res = {c.name: {"read": [], "getpid": [], "counted": [], "map_full": [],
                    "clean": [], "dropped": 0, "foreign": []} for c in configs}
    quiet = Quiet()
    for c, before_hooks, s in rounds(configs, p["rounds"], rng,
                                     lambda c: _calls_sample(c, worker, p), before=quiet.before):
        seen = quiet.seen(before_hooks)
        rec = res[c.name]
        if seen:
            rec["dropped"] += 1
            rec["foreign"] = sorted(set(rec["foreign"]) | set(seen))
            continue
        rec["read"].append(s["read"][0])
        rec["getpid"].append(s["getpid"][0])
        rec["clean"].append(min(s["read"][1], s["getpid"][1]))
        for k in ("counted", "map_full"):
            if s[k] is not None:
                rec[k].append(s[k])
    return res


def stats_sample(c, worker, p, n, mode="read"):
    """(ns per run, runs, prog_id, fd) of c's hot program over p["chunks"]
    chunks of n calls (kernel.bpf_stats_enabled must be on)."""
    pid, fd = c.hot_prog()
    t0, n0 = prog_stats(fd)
    worker.chunks(mode, n, p["chunks"])
    t1, n1 = prog_stats(fd)
    return ((t1 - t0) / (n1 - n0) if n1 > n0 else None), n1 - n0, pid, fd


def measure_stats(configs, worker, p, rng):
    """Phase 2; returns (results, kernel.bpf_stats_enabled as it was)."""
    n_read = p["n_read"]
    made = n_read * p["chunks"]
    bpf = [c for c in configs if c.kind != "none"]
    res = {c.name: {"ns_per_event": [], "events": [], "worker_share": []} for c in bpf}
    check = None

    def sample(c):
        worker.chunks("read", warm_n(p, n_read), 2)
        return stats_sample(c, worker, p, n_read)

    with bpf_stats() as old:
        for c, _, (ns, events, pid, fd) in rounds(bpf, p["stat_rounds"], rng, sample,
                                                  label="bpf_stats round"):
            if check is None:
                # Detached, so the counters hold still: bpftool must agree.
                check = {"config": c.name, "fdinfo": prog_stats(fd),
                         "bpftool": bpftool_prog_stats(pid)}
            if ns is not None:
                rec = res[c.name]
                rec["ns_per_event"].append(ns)
                rec["events"].append(events)
                rec["worker_share"].append(min(1.0, made / events))
    if check and check["bpftool"] is not None:
        check["agree"] = tuple(check["bpftool"]) == tuple(check["fdinfo"])
    res["_bpftool_check"] = check
    return res, old


def measure_all(worker, loader, feats, info, p, rng, skip_startup=False):
    """bench.py's measurements: the chunks sized to this machine, every
    configuration built (by loader) and measured, then the front end.
    Returns the Results, not yet analysed; p gets the chunk sizes."""
    step = size_chunks(worker, p)
    p["n_read"], ns_r = calls_per_chunk(worker, p, "read", step)
    p["n_getpid"], ns_g = calls_per_chunk(worker, p, "getpid", step)
    log("machine: %d CPU %s, kernel %s; clock step %.0f ns; read %.0f ns, "
        "getpid %.0f ns; %d chunks of %d / %d calls" % (
            info["nproc"], info["cpu_model"], info["kernel"], step, ns_r,
            ns_g, p["chunks"], p["n_read"], p["n_getpid"]))
    configs, available, skipped, primary, compile_s = bench_configs(loader, feats)
    calls = measure_calls(configs, worker, p, rng)
    stats, stats_old = measure_stats(configs, worker, p, rng)
    res = Results(info, p, configs, calls, stats, stats_old, compile_s, available,
                  skipped, primary)
    sizes = next(c for c in configs if c.kind == "wd").probe.state_sizes()
    res.sized_memlock = {n: hash_memlock(*sizes, n)
                         for n in SCALE_SIZES + (DEFS["WD_MAX_PIDS"],)}
    share_cpus(worker)     # start-up: the whole machine
    res.startup, res.mapfull_cli, res.front_end_errors = front_end_phase(p, skip_startup)
    if not skip_startup:
        try:
            res.endtoend = endtoend.measure(p["startup_runs"])
        except (BenchError, OSError) as e:
            res.front_end_errors["-- /bin/true end to end"] = str(e)
            log("error: %s" % e)
    return res
