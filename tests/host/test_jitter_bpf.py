"""--jitter's BPF modes on the host kernel (lockdown: bpf_probe_write_user
refused), through both front ends: quantize mode for a -p target and a
--comm target, and the refusals where a mode is not available.

Quantize mode holds a target's clock read (bounded spin in the BPF program
that runs before it: the syscall tracepoints, the uprobe on libc's
clock_gettime) until the next switch point of the clock's timeline; the
switch points sit every grain at half a grain (probe/jitter_hold.h), and
the value read is the kernel's.  So a target's MONOTONIC and CPU-time
readings fall just after b + G/2 for a multiple b of the grain, and any two
readings of a wall clock differ by a multiple of the grain; a process that
is not a target reads as before (its readings' phases spread over the
grain) and none of its reads is counted.  The program:
tests/progs/jb_target.c (dynamic: its clock_gettime goes through libc)."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

import readers
import wdrun
from readers import BIN_DIR

GRAIN = 100000           # ns: --jitter 100us
HALF = GRAIN // 2        # the holding modes' switch point in each grain
N = 200                  # readings per source
# How long after its switch point a held read may land: the BPF program's
# return, the uprobe's single-step and the read itself (measured here: see
# docs/jitter_bpf.md), with margin.
AFTER_NS = 25000
# Share of readings that must land there: an interrupt or a preemption
# between the hold and the read moves a reading (the kernel here does not
# preempt kernel code, so that is rare).
SHARE = 0.9
TARGET = BIN_DIR / "jb_target"
# Sources whose every reading is held to a switch point of its own clock's
# timeline: (source, unit ns).  getrusage SELF: user + system time (us).
# (getrusage THREAD is held too, but the kernel answers it from the
# thread's runtime as of its last scheduler update, without bringing it up
# to date: a stale value, at no switch point.)
AT_SWITCH = (("libc_monotonic", 1), ("sys_monotonic", 1), ("libc_thread_cputime", 1),
             ("libc_process_cputime", 1), ("sys_thread_cputime", 1), ("getrusage_self", 1))
# Wall clocks held to MONOTONIC's switch points: their differences are
# multiples of the grain (their offsets from MONOTONIC are not).
WALL = ("libc_realtime", "libc_boottime", "libc_monotonic_raw", "sys_gettimeofday")
# Target clock reads per N readings that the program sees (jb_target.c's
# sources): all but libc's gettimeofday (the vDSO IFUNC, out of reach) and
# clock_getres (libc answers it from the vDSO; quantize has nothing to hold).
SEEN_PER_N = 14


def _start_target(path=TARGET, mode="readings", n=N):
    return readers.jb_target_start(path, mode, n)


def _go(p, timeout=120):
    return readers.jb_target_go(p, timeout)


def _after_switch(values, unit=1):
    """Share of readings at most AFTER_NS past a switch point b + G/2."""
    return sum((v * unit - HALF) % GRAIN < AFTER_NS for v in values) / len(values)


def _diff_on_grain(values):
    """Share of consecutive differences within AFTER_NS of a multiple of G."""
    d = [(b - a) % GRAIN for a, b in zip(values, values[1:])]
    return sum(min(x, GRAIN - x) < AFTER_NS for x in d) / len(d)


def _jitter_event(res):
    ev = [r for r in res.records if r.get("event") == "jitter"]
    assert len(ev) == 1, res.records[-3:]
    return ev[0]


def _check_quantized(got):
    for source, unit in AT_SWITCH:
        share = _after_switch(got[source], unit)
        assert share >= SHARE, "%s: %.2f of readings at a switch point: %s" % (
            source, share, [(v * unit - HALF) % GRAIN for v in got[source][:40]])
    for source in WALL:
        share = _diff_on_grain(got[source])
        assert share >= SHARE, "%s: %.2f of differences on the grain" % (source, share)


def _run_quantized(args, target_path=TARGET):
    target, other = _start_target(target_path), _start_target()
    try:
        wd = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us"] + args(target))
        start = wd.wait_started()
        t0 = time.monotonic()
        got, free = _go(target), _go(other)
        took = time.monotonic() - t0
        res = wd.finish(sig=signal.SIGINT)
    finally:
        for p in (target, other):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert res.rc == 0, "rc %s, stderr:\n%s" % (res.rc, res.stderr)
    return start, got, free, _jitter_event(res), took


def _check_run(start, got, free, ev):
    jit = start["jitter"]
    assert jit["via"] == "quantize", jit
    assert "the kernel refuses bpf_probe_write_user" in jit["why"], jit
    assert jit["uprobes"] == 1, jit
    _check_quantized(got)
    # the non-target reads as before: its phases spread over the grain
    for source, unit in AT_SWITCH[:2]:
        assert _after_switch(free[source], unit) < 0.6, source
    # every target read seen, no other process's: the count is exact
    assert ev["reads"] == SEEN_PER_N * N, ev
    assert ev["spins"] >= 0.9 * ev["reads"], ev
    # bounded: at most a grain (and never over 100 us) a read, on average
    # well under (the spin ends at the switch point)
    assert ev["spin_ns"] <= ev["spins"] * GRAIN, ev
    # (the target has exited by the stop: its uprobes went with it)
    assert ev["uprobe_processes"] == 0 and ev["uprobe_failed"] == 0, ev
    assert ev["writes"] == 0, ev


def test_quantize_holds_a_pid_target_at_switch_points():
    start, got, free, ev, took = _run_quantized(lambda t: ["-p", str(t.pid)])
    _check_run(start, got, free, ev)
    print("WDMEASURE quantize -p: %d reads, %d held, %.1f us a hold, %.2f s" % (
        ev["reads"], ev["spins"], ev["spin_ns"] / max(ev["spins"], 1) / 1000, took))


def test_quantize_holds_a_comm_target(tmp_path):
    # a copy under a name of its own: --comm must not reach the other one
    path = tmp_path / "jbq_comm"
    shutil.copy(TARGET, path)
    start, got, free, ev, _ = _run_quantized(lambda t: ["--comm", "jbq_comm"], path)
    _check_run(start, got, free, ev)


@pytest.mark.parametrize("how", ["fork", "exec"])
def test_quantize_follows_a_pid_target_s_new_process(how):
    """A -p target's child (fork, and fork + exec of the program again)
    becomes a target: the front end attaches the child's own uprobe when
    task_newtask / sched_process_exec say so, and from then on the child's
    libc reads are held too.  Its reads before the attach are not (the
    documented gap: the stop line gives how long it lasted)."""
    target = _start_target(mode=how, n=10)
    try:
        wd = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us", "-p", str(target.pid)])
        wd.wait_started()
        out, _ = target.communicate("go\n", timeout=120)
        res = wd.finish(sig=signal.SIGINT)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    assert target.returncode == 0 and res.rc == 0, (target.returncode, res.stderr)
    child = json.loads(out.strip().splitlines()[-1])
    ev = _jitter_event(res)
    assert ev["forks_attached"] >= 1 and ev["uprobe_failed"] == 0, ev
    # After the attach every read waits for a switch point: the child's
    # reads in the last 100 ms of its 300 are held read by read.
    assert child["late_reads"] > 0 and child["late_held"] >= 0.9 * child["late_reads"], {
        k: child[k] for k in ("first_held_us", "late_reads", "late_held")}
    print("WDMEASURE quantize %s: the child's first read of 20 us or more %.0f us after the fork; "
          "attach %.1f us after the fork on average, at most %.1f us" % (
              how, child["first_held_us"], ev["attach_us_mean"], ev["attach_us_max"]))


def _refusal(args):
    p = subprocess.Popen([str(TARGET), "readings", "1"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    try:
        return wdrun.run(["--action", "monitor", "-p", str(p.pid)] + args, timeout=120)
    finally:
        p.kill()
        p.wait()


def test_a_grain_quantize_cannot_hold_is_refused_with_the_reason():
    res = _refusal(["--jitter", "1ms"])
    assert res.rc == 2, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(wdrun.prefix() + "error: --jitter 1000us: this kernel refuses "
                           "bpf_probe_write_user ("), line
    assert "lockdown integrity" in line and line.endswith(
        "quantize mode holds a reader at most 100us a read: give a grain of at most 100us"), line
    assert not res.records or all(r.get("event") != "start" for r in res.records)


def test_write_mode_is_refused_here_with_the_reason():
    res = _refusal(["--jitter", "100us", "--jitter-via", "write"])
    assert res.rc == 2, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(wdrun.prefix() + "error: --jitter-via write: this kernel refuses "
                           "bpf_probe_write_user ("), line
    assert line.endswith("lockdown integrity); use --jitter-via quantize"), line


def test_probe_features_lists_the_bpf_modes():
    res = wdrun.run(["--probe-features"], timeout=120)
    assert res.rc == 0, res.stderr
    feats = [r for r in res.records if r.get("event") == "features"][0]
    bpf = feats["jitter"]["bpf"]
    assert bpf["write"]["available"] is False and "lockdown integrity" in \
        bpf["write"]["detail"], bpf["write"]
    assert bpf["quantize"] == {"available": True, "max_grain_ns": 100000}
    statuses = {r["status"] for r in bpf["rows"]["quantize"]}
    assert statuses == {"quantized", "counted", "out of reach"}, statuses
    assert os.path.exists(str(TARGET))


def test_sigkill_of_the_watchdog_leaves_the_target_running_unmediated():
    """A BPF mode cannot fail closed (docs/jitter_bpf.md): the kernel
    detaches the programs with the killed watchdog's descriptors; the
    target goes on, its clocks as before (nothing_left_attached checks
    the programs are gone)."""
    target = _start_target()
    try:
        wd = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us", "-p", str(target.pid)])
        wd.wait_started()
        wd.kill()
        assert wdrun.wait_detached(5) == []
        got = _go(target)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    assert _after_switch(got["libc_monotonic"]) < 0.6
    assert _after_switch(got["sys_thread_cputime"]) < 0.6
