"""Start, output and shutdown on the host: --duration, SIGKILL, stale
entries, map-full reporting, the text table, --probe-features, status,
every link gone on exit."""

import json
import re
import signal
import subprocess
import time

import pytest

import probed
import readers
import wdrun
from readers import aggressive_cmd, normal_cmd, parse_report


def test_duration_ends_cleanly():
    # --duration counts from the start (programs attached, 'start' record
    # out); detaching and the summary take a fraction of a second.
    run = wdrun.Watchdog(["--action", "monitor", "--comm", "no_such_comm_x",
                          "--duration", "1.5"])
    run.wait_started()
    t = time.monotonic()
    res = run.finish(timeout=60)
    took = time.monotonic() - t
    assert res.rc == 0, res.stderr
    assert 1.4 <= took <= 1.5 + 3, "ran %.2f s after the start for --duration 1.5" % took
    assert res.events("stop")[0]["reason"] == "duration"
    assert res.summary["processes"] == []


def test_start_record_tells_backend_action_reason_and_timings():
    # auto: what this kernel's features imply (tests/probed.py), on any kernel.
    res = wdrun.run(["--comm", "no_such_comm_x", "--duration", "0.5"])
    s = res.start
    backend, action = probed.auto()
    assert (s["backend"], s["action"]) == (backend, action), probed.features()
    assert s["frontend"] == wdrun.frontend()
    # The reason names each stronger backend skipped, with its missing feature.
    assert s["reason"].startswith("backend: strongest available"), s["reason"]
    for b in probed.PREFERENCE[:probed.PREFERENCE.index(backend)]:
        assert "%s (%s)" % (b, probed.missing(b)) in s["reason"], (b, s["reason"])
    assert ("unavailable:" in s["reason"]) == (backend != "lsm"), s["reason"]
    assert ("deny impossible" in s["reason"]) == (action != "deny"), s["reason"]
    # watchdog.py compiles with BCC; ethoswd loads its prebuilt object.
    assert set(s["startup"]) == ({"total", "features", "import", "compile", "load_attach"}
                                 if wdrun.frontend() == "watchdog.py" else
                                 {"total", "features", "load", "attach"})
    # The backend's hooks on every read route (read family, sendfile64/
    # splice/copy_file_range), process exit, the io_uring submit tracepoint
    # where the backend needs it, throttle's SIGCONT watch: exactly those
    # (tests/probed.py: 11 for tracepoint + throttle with io_uring), and
    # nothing of another backend's kind.
    points = {a.rsplit(":", 1)[1] for a in s["attached"]}
    assert points == probed.attach_points(backend, action), (points, s["attached"])
    assert len(s["attached"]) == len(probed.attach_points(backend, action)), s["attached"]
    kinds = {a.split(":", 1)[0] for a in s["attached"]}
    assert kinds <= probed.attach_kinds(backend, action), s["attached"]
    if action == "throttle":
        assert s["escalation"].startswith("throttle escalates to kill"), s
    else:
        assert s["escalation"] is None, s


def _links_of(prog_ids):
    """BPF links and perf events that run one of prog_ids (bpftool's text
    output: its -j link list is empty for perf_event links here)."""
    out = []
    for args, pat in ((["link", "list"], r"^\d+: .*\bprog (\d+)"),
                      (["perf", "list"], r"\bprog_id (\d+)")):
        text = subprocess.run(["bpftool"] + args, check=True, capture_output=True,
                              text=True).stdout
        out += [ln for ln in text.splitlines()
                if (m := re.search(pat, ln)) and int(m.group(1)) in prog_ids]
    return out


@pytest.mark.parametrize("action", ["monitor", "default"])
def test_command_run_leaves_no_link_on_exit(action):
    """-- CMD (a short one): its status passes through, the stop record says the
    command exited, every attach point was taken down before the front end
    exited (all at once: src/detach.c wd_probe_detach(), ethoswd/probe.py
    run_all()): right after exit no link or perf event runs a program of
    ours.  The autouse fixture then sees the programs freed."""
    args = ["--action", "monitor"] if action == "monitor" else []
    run = wdrun.Watchdog(args, ["/bin/sh", "-c", "sleep 0.5; exit 3"])
    run.wait_started()
    ours = {prog_id for prog_id, _name in wdrun.attached_watchdog_progs()}
    assert ours and _links_of(ours), "nothing attached while running"
    res = run.finish(timeout=60)
    assert res.rc == 3, res.stderr
    assert res.events("stop")[0]["reason"].startswith("command exited"), res.records
    assert len(res.start["attached"]) >= 10, res.start["attached"]
    assert _links_of(ours) == []


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
    """Each backend's availability, missing feature and actions, and auto's
    choice, as the kernel's features imply them (tests/probed.py)."""
    r = subprocess.run(wdrun.argv0() + ["--probe-features", "--json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["features"] == probed.features()
    for b in probed.PREFERENCE:
        problem = probed.missing(b)
        assert f["backends"][b] == {"available": problem is None, "missing": problem,
                                    "actions": probed.actions(b) if problem is None else []}, b
    assert probed.backends(), "no backend works on this kernel: %s" % probed.features()
    assert (f["auto"]["backend"], f["auto"]["action"]) == probed.auto()
    text = subprocess.run(wdrun.argv0() + ["--probe-features"], capture_output=True,
                          text=True).stdout
    assert "bpf_override_return" in text and "BACKEND" in text


def test_command_exit_status_is_passed_through():
    assert wdrun.run(["--action", "monitor"], ["/bin/sh", "-c", "exit 7"]).rc == 7


def test_sigint_detaches_and_summarises(report):
    """SIGINT: exit 0, one summary with the counts of what ran and one stop
    record (the autouse fixture checks that nothing is left attached)."""
    rep = report("a")
    run = wdrun.Watchdog(["--action", "monitor", "--max-calls", "100",
                          "--comm", "aggressive_read"])
    run.wait_started()
    reader = readers.launch(aggressive_cmd(reads=300, report=rep, quiet=True))
    assert reader.wait(30) == 0
    res = run.finish(sig=signal.SIGINT)
    assert res.rc == 0 and res.events("stop")[0]["reason"] == "SIGINT", res.stderr
    kinds = [r.get("event") for r in res.records]
    assert kinds.count("summary") == kinds.count("stop") == 1, kinds
    row = res.summary_for(reader.pid)
    assert (row["total"], row["allowed"], row["limited"], row["state"]) == \
        (300, 100, 200, "exited"), row
