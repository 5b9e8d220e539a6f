"""-EPERM enforcement on real kernels, for each deny backend the kernel has.

Windows are long (2 s) and bursts short, because TCG makes every syscall
slow: a burst of a few hundred reads must finish well inside one window.
"""

import signal
import subprocess

import pytest

import readers
import wdrun
from conftest import KERNELS, kernel
from readers import aggressive_cmd, normal_cmd, parse_report

WINDOW_MS = 2000
GAP_MS = 2300   # > one window: each burst starts a new window


def deny(backend, *more):
    return ["--backend", backend, "--action", "deny", "--max-calls", "100",
            "--window-ms", str(WINDOW_MS)] + list(more)


def test_auto_picks_deny_and_says_why():
    res = wdrun.run(["--comm", "no_such_comm_x", "--duration", "0.5"], timeout=300)
    assert res.rc == 0, res.stderr
    assert (res.start["backend"], res.start["action"]) == (KERNELS[kernel()]["auto"], "deny")


def test_missing_backend_is_refused_with_reason():
    backend, reason = KERNELS[kernel()]["refused"]
    r = subprocess.run(wdrun.argv0() + ["--backend", backend],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "backend %s is not available" % backend in r.stderr and reason in r.stderr


def test_exactly_max_calls_per_window_and_normal_untouched(deny_backend, report):
    a, n = report("agg"), report("norm")
    cmd = ["/bin/sh", "-c", '%s & "$0" "$@"; wait' % " ".join(
        normal_cmd(rate=10, total_ms=4000, report=n, quiet=True))] + \
        aggressive_cmd(reads=250, bursts=3, gap_ms=GAP_MS, report=a, quiet=True)
    res = wdrun.run(deny(deny_backend), cmd, timeout=600)
    ra, rn = parse_report(a), parse_report(n)
    # Each burst: 100 reads succeed, the other 150 fail with EPERM; the next
    # window allows 100 again.
    assert [(b["ok"], b["eperm"], b["other"]) for b in ra["bursts"]] == [(100, 150, 0)] * 3
    assert rn["state"] == "done" and rn["totals"] == {"ok": 40, "eperm": 0, "other": 0}
    row = res.summary_for(ra["pid"])
    assert (row["allowed"], row["limited"], row["limited_windows"]) == (300, 450, 3)
    assert res.summary_for(rn["pid"])["limited"] == 0


def test_eight_threads_never_exceed_the_limit(deny_backend, report):
    a = report("agg8")
    res = wdrun.run(deny(deny_backend), aggressive_cmd(
        threads=8, reads=1600, bursts=2, gap_ms=GAP_MS, report=a, quiet=True), timeout=600)
    r = parse_report(a)
    assert [(b["ok"], b["eperm"]) for b in r["bursts"]] == [(100, 1500)] * 2
    row = res.summary_for(r["pid"])
    assert (row["allowed"], row["limited"]) == (200, 3000)


def test_eight_threads_continuous_load(deny_backend, report):
    a = report("cont")
    res = wdrun.run(deny(deny_backend), aggressive_cmd(
        threads=8, duration_ms=4500, report=a, quiet=True), timeout=600)
    r = parse_report(a)
    row = res.summary_for(r["pid"])
    assert row["limited_windows"] >= 2
    assert r["totals"]["ok"] == row["allowed"]
    # Every full window allowed exactly 100; the last may be cut short.
    assert 0 <= row["allowed"] - 100 * row["limited_windows"] < 100, row
    assert r["totals"]["eperm"] == row["limited"] and r["totals"]["other"] == 0
    assert res.summary["health"]["contended"] == 0


@pytest.mark.parametrize("variant", readers.VARIANTS)
def test_every_read_variant_is_denied(deny_backend, variant, report):
    a = report("v")
    wdrun.run(deny(deny_backend), aggressive_cmd(
        reads=150, variant=variant, report=a, quiet=True), timeout=600)
    assert parse_report(a)["totals"] == {"ok": 100, "eperm": 50, "other": 0}


def test_overlayfs_file_counts_once_per_read(deny_backend, report):
    # The guest root is 9p + a tmpfs overlay: a repository file is read
    # through overlayfs, where file_permission fires twice per read.
    path = str(wdrun.REPO / "README.md")
    with open("/proc/mounts") as f:
        assert any(line.split()[1] == "/" and line.split()[2] == "overlay" for line in f)
    a = report("ovl")
    wdrun.run(deny(deny_backend), aggressive_cmd(
        reads=250, file=path, report=a, quiet=True), timeout=600)
    assert parse_report(a)["totals"] == {"ok": 100, "eperm": 150, "other": 0}


def test_system_wide_deny_spares_other_processes(deny_backend, report):
    """No target filter: every process is limited (only pytest's own
    python3 is excluded so the test can read the watchdog's output)."""
    a, n = report("agg"), report("norm")
    run = wdrun.Watchdog(deny(deny_backend, "--exclude-comm", "python3"))
    run.wait_started(timeout=300)
    pa = readers.launch(aggressive_cmd(reads=300, report=a, quiet=True))
    pn = readers.launch(normal_cmd(rate=10, total_ms=1500, report=n, quiet=True))
    pa.wait(300)
    pn.wait(300)
    res = run.finish(sig=signal.SIGINT, timeout=300)
    assert parse_report(a)["totals"] == {"ok": 100, "eperm": 200, "other": 0}
    assert parse_report(n)["totals"] == {"ok": 15, "eperm": 0, "other": 0}
    assert res.summary_for(pa.pid)["limited"] == 200
    assert all(r["pid"] != 1 for r in res.summary["processes"])


def test_sigkill_of_the_watchdog_ends_enforcement_at_once(deny_backend, report):
    a1, a2 = report("before"), report("after")
    run = wdrun.Watchdog(deny(deny_backend, "--comm", "aggressive_read",
                              "--window-ms", "60000"))
    run.wait_started(timeout=300)
    subprocess.run(aggressive_cmd(reads=200, report=a1, quiet=True), check=True, timeout=300)
    assert parse_report(a1)["totals"]["eperm"] == 100
    run.kill()
    # Straight after the kill, with no grace period: reads succeed again.
    subprocess.run(aggressive_cmd(reads=200, report=a2, quiet=True), check=True, timeout=300)
    assert parse_report(a2)["totals"] == {"ok": 200, "eperm": 0, "other": 0}
