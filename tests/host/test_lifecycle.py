"""Start, output and shutdown on the host: --duration, SIGKILL, stale
entries, map-full reporting, the text table, --probe-features, status."""

import json
import signal
import subprocess
import time

import wdrun
from readers import aggressive_cmd, normal_cmd, parse_report


def test_duration_ends_cleanly():
    t = time.monotonic()
    res = wdrun.run(["--action", "monitor", "--comm", "no_such_comm_x", "--duration", "1.5"])
    assert res.rc == 0
    assert 1.4 <= time.monotonic() - t < 60
    assert res.events("stop")[0]["reason"] == "duration"
    assert res.summary["processes"] == []


def test_start_record_tells_backend_action_reason_and_timings():
    res = wdrun.run(["--comm", "no_such_comm_x", "--duration", "0.5"])
    s = res.start
    assert (s["backend"], s["action"]) == ("tracepoint", "throttle")
    assert s["frontend"] == wdrun.frontend()
    assert "unavailable: lsm" in s["reason"] and "kprobe" in s["reason"]
    # watchdog.py compiles with BCC; ethoswd loads its prebuilt object.
    assert set(s["startup"]) == ({"total", "features", "import", "compile", "load_attach"}
                                 if wdrun.frontend() == "watchdog.py" else
                                 {"total", "features", "load", "attach"})
    # read family, sendfile64/splice/copy_file_range, the io_uring submit
    # tracepoint, process exit, and throttle's SIGCONT watch
    points = {a.rsplit(":", 1)[1] for a in s["attached"]}
    assert {"sys_enter_read", "sys_enter_pread64", "sys_enter_readv",
            "sys_enter_preadv", "sys_enter_preadv2", "sys_enter_sendfile64",
            "sys_enter_splice", "sys_enter_copy_file_range",
            "sched_process_exit", "signal_generate"} <= points, points
    assert len(s["attached"]) == 11, s["attached"]
    assert s["escalation"].startswith("throttle escalates to kill"), s


def test_sigkill_of_the_watchdog_leaves_nothing_attached(report):
    run = wdrun.Watchdog(["--action", "monitor", "--max-calls", "100"],
                         aggressive_cmd(duration_ms=3000, report=report("a"), quiet=True))
    run.wait_started()
    assert wdrun.attached_watchdog_progs()
    run.kill()
    # the autouse fixture asserts that nothing is left attached


def test_exited_process_entry_is_removed(report):
    rep = report("n")
    cmd = ["/bin/sh", "-c", '"$0" "$@"; sleep 1.2'] + normal_cmd(
        rate=50, total_ms=800, report=rep, quiet=True)
    res = wdrun.run(["--action", "monitor", "-i", "0.2"], cmd)
    pid = parse_report(rep)["pid"]
    seen = [any(p["pid"] == pid for p in r["processes"]) for r in res.events("interval")]
    assert True in seen, "never tracked"
    assert seen[-2:] == [False, False], seen   # gone from the map after exit
    assert res.summary_for(pid)["state"] == "exited"
    assert res.summary_for(pid)["total"] == 40


def _holder_then_aggressive():
    """A normal reader that takes the map's only entry, then an aggressive one."""
    return ["/bin/sh", "-c", '%s & sleep 0.3; "$0" "$@"; wait' % " ".join(
        normal_cmd(rate=100, total_ms=1500, quiet=True))] + aggressive_cmd(reads=300, quiet=True)


def test_full_map_is_reported_not_silent():
    # System-wide mode (comm filter): the aggressive reader finds the map full.
    run = wdrun.Watchdog(["--action", "monitor", "--max-calls", "100", "--map-size", "1",
                          "--comm", "normal_reader", "--comm", "aggressive_read"])
    run.wait_started()
    subprocess.run(_holder_then_aggressive(), check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    res = run.finish(sig=signal.SIGINT)
    warns = [w for w in res.events("warning") if w.get("counter") == "map_full"]
    assert warns and "NOT limited" in warns[0]["message"]
    assert res.summary["health"]["map_full"] == 300
    assert not res.rows_by_comm("aggressive_read")


def test_full_map_for_a_child_of_a_target_is_reported():
    # Target mode: the shell and its first child fill the map; the
    # aggressive reader, a later child, cannot get an entry.
    res = wdrun.run(["--action", "monitor", "--max-calls", "100", "--map-size", "2"],
                    _holder_then_aggressive())
    warns = [w for w in res.events("warning") if w.get("counter") == "targets_full"]
    assert warns and "NOT limited" in warns[0]["message"]
    assert res.summary["health"]["targets_full"] >= 1
    assert not res.rows_by_comm("aggressive_read")


def test_text_table_fits_80_columns(report):
    r = subprocess.run(wdrun.argv0() + ["--action", "monitor", "-i", "0.3", "--"] +
                       aggressive_cmd(duration_ms=1500, report=report("a"), quiet=True),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(ln.split()[:2] == ["PID", "COMM"] for ln in lines)
    assert any("LIMIT" in ln and "aggressive_read" in ln for ln in lines)
    assert any(ln.startswith("Summary:") for ln in lines)
    assert max(len(ln) for ln in lines) < 80, max(lines, key=len)


def test_probe_features_on_this_kernel():
    r = subprocess.run(wdrun.argv0() + ["--probe-features", "--json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["backends"]["tracepoint"]["available"]
    assert f["backends"]["tracepoint"]["actions"] == ["throttle", "kill", "monitor"]
    assert "kprobes" in f["backends"]["kprobe"]["missing"]
    assert "EPERM" in f["backends"]["lsm"]["missing"]
    assert (f["auto"]["backend"], f["auto"]["action"]) == ("tracepoint", "throttle")
    text = subprocess.run(wdrun.argv0() + ["--probe-features"], capture_output=True,
                          text=True).stdout
    assert "bpf_override_return" in text and "BACKEND" in text


def test_command_exit_status_is_passed_through():
    assert wdrun.run(["--action", "monitor"], ["/bin/sh", "-c", "exit 7"]).rc == 7


def test_sigint_detaches_and_summarises(report):
    run = wdrun.Watchdog(["--action", "monitor", "--comm", "aggressive_read"])
    run.wait_started()
    res = run.finish(sig=signal.SIGINT)
    assert res.rc == 0 and res.events("stop")[0]["reason"] == "SIGINT"
    assert res.summary is not None
