"""No process is left stopped when the service is killed whole (issue 17,
section 8): `systemctl kill -s KILL` or the stop timeout's SIGKILL kills
the watchdog and its guardian together, so the guardian cannot resume what
throttle stopped.  The watchdog keeps them in its --state-file, and the
unit's ExecStopPost (taken from packaging/ethoswd.service) resumes them,
but never a process that got the PID of one of them since."""

import json
import os
import signal
import subprocess
import time

import readers
import unitsandbox
import wdrun
from readers import aggressive_cmd, parse_report

UNIT = wdrun.REPO / "packaging" / "ethoswd.service"
SPAWN_AS = str(readers.BIN_DIR / "spawn_as")


def _stop_post(state):
    """The unit's ExecStopPost command line for this front end, resuming
    from `state`; ethoswd's runs in the unit's sandbox, as systemd runs it."""
    conf = unitsandbox.settings(str(UNIT))
    start, = conf["ExecStart"]
    line, = conf["ExecStopPost"]
    argv = line.split()
    assert argv[0] == "@SBINDIR@/ethoswd" and argv[1:] == ["--resume-stopped", start.split()[2]]
    argv = wdrun.argv0() + ["--json", argv[1], state]
    if wdrun.frontend() == "ethoswd":
        return unitsandbox.command(str(UNIT), argv)
    return argv


def _resume(state):
    r = subprocess.run(_stop_post(state), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["event"] == "resume" and rec["file"] == state, rec
    assert not os.path.exists(state)
    return rec


def _wait(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pred()


def _listed(state, pid):
    try:
        with open(state) as f:
            return any(line.split()[0] == str(pid) for line in f.readlines()[1:])
    except OSError:
        return False


def _children(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
            out += [int(c) for c in f.read().split()]
    return out


def test_a_unit_sigkill_leaves_no_process_stopped(tmp_path, report):
    rep, state = report("agg"), str(tmp_path / "stopped")
    proc = readers.launch(aggressive_cmd(duration_ms=3000, report=rep, wait=True, quiet=True))
    run = wdrun.Watchdog(["--action", "throttle", "--max-calls", "100", "--window-ms",
                          "60000", "--state-file", state, "-p", str(proc.pid)])
    run.wait_started()
    readers.go(proc)
    assert _wait(lambda: wdrun.proc_state(proc.pid) == "T"), "reader never stopped"
    assert _wait(lambda: _listed(state, proc.pid)), open(state).read()
    # As systemd kills the unit's cgroup: the watchdog and its guardian (its
    # only child with -p) get SIGKILL, and neither runs in between.
    guardian, = _children(run.proc.pid)
    for pid in (run.proc.pid, guardian):
        os.kill(pid, signal.SIGSTOP)
    for pid in (run.proc.pid, guardian):
        os.kill(pid, signal.SIGKILL)
    assert run.finish().rc == -signal.SIGKILL
    assert not wdrun.wait_detached(10)
    time.sleep(0.3)
    assert wdrun.proc_state(proc.pid) == "T", "resumed before ExecStopPost: nothing tested"
    rec = _resume(state)
    assert rec["resumed"] == [proc.pid] and rec["skipped"] == [], rec
    assert proc.wait(30) == 0
    assert parse_report(rep)["state"] == "done"


def _reuse_pid(pid):
    """A stopped `sleep` holding PID `pid` (spawn_as: clone3 set_tid)."""
    for _ in range(50):
        sp = subprocess.Popen([SPAWN_AS, str(pid), "/bin/sleep", "30"])
        if _wait(lambda: os.path.exists("/proc/%d" % pid) or sp.poll() is not None, 5) \
                and sp.poll() is None:
            os.kill(pid, signal.SIGSTOP)
            assert _wait(lambda: wdrun.proc_state(pid) == "T")
            return sp
        assert sp.wait() == 3, "spawn_as failed"   # 3: PID not free yet
        time.sleep(0.1)
    raise AssertionError("PID %d never became free" % pid)


def test_a_reused_pid_is_never_resumed(tmp_path):
    """The listed process exited and its PID went to another process,
    stopped by someone else: it stays stopped.  A PID no process has is
    skipped too.  (Start times are in clock ticks, 10 ms: the listed
    process lives longer than that, as one throttle stopped does.)"""
    state = str(tmp_path / "stopped")
    old = subprocess.Popen(["/bin/sleep", "30"])
    with open("/proc/%d/stat" % old.pid) as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    time.sleep(0.05)
    old.kill()
    old.wait()
    sp = _reuse_pid(old.pid)
    try:
        gone = subprocess.Popen(["/bin/true"])
        gone.wait()
        with open(state, "w") as f:
            f.write("ethoswd-stopped 1\n%d %s\n%d 1\n" % (old.pid, start, gone.pid))
        rec = _resume(state)
        assert rec["resumed"] == [] and sorted(rec["skipped"]) == sorted([old.pid, gone.pid])
        time.sleep(0.2)
        assert wdrun.proc_state(old.pid) == "T"
    finally:
        os.kill(old.pid, signal.SIGKILL)
        sp.wait()
