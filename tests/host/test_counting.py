"""Counting on the host kernel (tracepoint backend, monitor action):
exact counts, window resets, would-limit arithmetic, 8-thread exactness."""

import os
import subprocess

import pytest

import readers
import wdrun
from readers import aggressive_cmd, parse_report

MONITOR = ["--backend", "tracepoint", "--action", "monitor"]


@pytest.mark.parametrize("variant", readers.VARIANTS)
def test_every_read_counted_once(report, variant):
    rep = report("agg")
    res = wdrun.run(MONITOR + ["--max-calls", "1000000"],
                    aggressive_cmd(reads=5000, variant=variant, report=rep, quiet=True))
    r = parse_report(rep)
    assert res.rc == 0, res.stderr
    assert r["totals"] == {"ok": 5000, "eperm": 0, "other": 0}
    row = res.summary_for(r["pid"])
    assert (row["total"], row["allowed"], row["limited"]) == (5000, 5000, 0)


def test_the_gate_read_is_never_the_command_s(report):
    """The gated child reads its gate after it says "ok"; a child held
    between the two (WD_GATE_TEST_DELAY_US, as a loaded machine may hold
    it) past the probe's attach must not have that read counted as the
    command's: the front end waits for the child to sit in the read before
    it attaches.  The hold is longer than either front end takes from the
    child's "ok" to the attach (watchdog.py: BCC's compile), shorter than
    the wait's 5 s bound.  Before the wait: 5 001."""
    rep = report("gate")
    env = dict(os.environ, WD_GATE_TEST_DELAY_US="3000000")
    res = wdrun.run(MONITOR + ["--max-calls", "1000000"],
                    aggressive_cmd(reads=5000, report=rep, quiet=True), env=env)
    r = parse_report(rep)
    assert res.rc == 0, res.stderr
    row = res.summary_for(r["pid"])
    assert (row["total"], row["allowed"]) == (5000, 5000), row


def test_eight_threads_counted_exactly(report):
    rep = report("agg8")
    res = wdrun.run(MONITOR + ["--max-calls", "1000000"],
                    aggressive_cmd(threads=8, reads=80000, report=rep, quiet=True))
    r = parse_report(rep)
    assert r["totals"]["ok"] == 80000
    row = res.summary_for(r["pid"])
    assert (row["total"], row["allowed"], row["limited"]) == (80000, 80000, 0)
    assert res.summary["health"] == {"map_full": 0, "contended": 0, "events_lost": 0,
                                     "targets_full": 0, "stops_full": 0}


def test_monitor_would_limit_matches_the_limiter(report):
    """3 bursts of 250 reads, each in its own 300 ms window: the limiter must
    allow 100 and limit 150 per burst; monitor reports that and changes nothing."""
    rep = report("bursts")
    res = wdrun.run(MONITOR + ["--max-calls", "100", "--window-ms", "300"],
                    aggressive_cmd(reads=250, bursts=3, gap_ms=700, report=rep, quiet=True))
    r = parse_report(rep)
    assert [b["ok"] for b in r["bursts"]] == [250, 250, 250]   # nothing changed
    row = res.summary_for(r["pid"])
    assert (row["allowed"], row["limited"], row["limited_windows"]) == (300, 450, 3)
    assert len(res.events("limit")) >= 1


def test_window_resets_under_continuous_load(report):
    """8 threads reading for 2 s, 100 calls per 200 ms window: every window
    fills, so allowed is exactly 100 per window and never more."""
    rep = report("cont")
    res = wdrun.run(MONITOR + ["--max-calls", "100", "--window-ms", "200"],
                    aggressive_cmd(threads=8, duration_ms=2000, report=rep, quiet=True))
    r = parse_report(rep)
    row = res.summary_for(r["pid"])
    assert row["total"] == r["totals"]["ok"]
    assert row["limited_windows"] >= 8, row
    # Every full window allowed exactly 100; the last may be cut short.
    assert 0 <= row["allowed"] - 100 * row["limited_windows"] < 100, row
    assert res.summary["health"]["contended"] == 0


def test_limit_and_clear_lines(report):
    rep = report("lines")
    res = wdrun.run(MONITOR + ["--max-calls", "50", "--window-ms", "200"],
                    aggressive_cmd(reads=120, bursts=2, gap_ms=1200, report=rep, quiet=True))
    pid = parse_report(rep)["pid"]
    seq = [r["event"] for r in res.records
           if r.get("pid") == pid and r.get("event") in ("limit", "clear", "exit")]
    assert seq == ["limit", "clear", "limit", "exit"], seq
    first = res.events("limit")[0]
    assert first["action"] == "monitor" and first["comm"] == "aggressive_read"


def test_limits_change_live_without_recompile(report):
    """The documented bpftool command rewrites wd_config while running."""
    rep = report("live")
    proc = readers.launch(aggressive_cmd(reads=300, report=rep, wait=True, quiet=True))
    run = wdrun.Watchdog(MONITOR + ["--max-calls", "1000", "-p", str(proc.pid)])
    run.wait_started()
    # max_calls 50, window_ms 500: two little-endian u32s.
    subprocess.run(["bpftool", "map", "update", "name", "wd_config", "key", "hex",
                    "00", "00", "00", "00", "value", "hex", "32", "00", "00", "00",
                    "f4", "01", "00", "00"], check=True)
    readers.go(proc)
    proc.wait(30)
    row = run.finish().summary_for(proc.pid)
    assert (row["allowed"], row["limited"]) == (50, 250)
