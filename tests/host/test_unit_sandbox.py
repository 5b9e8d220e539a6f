"""ethoswd under the sandbox packaging/ethoswd.service asks systemd for
(tests/unitsandbox.py: its capability bounding set, no new privileges,
its system-call filter with MemoryDenyWriteExecute, read-only /sys and
/proc/sys), since these machines do not run systemd as PID 1: what the
unit takes away must not be what the service needs.  And the same sandbox
with CAP_BPF (and CAP_SYS_ADMIN, which stands for it) or bpf() taken away
refuses, so these checks can fail."""

import json
import subprocess

import pytest

import readers
import unitsandbox
import wdrun
from readers import aggressive_cmd, parse_report

pytestmark = pytest.mark.frontends("ethoswd")   # the service's binary

UNIT = str(wdrun.REPO / "packaging" / "ethoswd.service")
STORM = str(readers.BIN_DIR / "sigcont_storm")


def _sandboxed(unit, args, cmd=None):
    argv = [str(wdrun.ETHOSWD), "--json"] + list(args) + (["--"] + cmd if cmd else [])
    return unitsandbox.command(unit, argv)


def _run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_probe_features_are_the_same_inside(tmp_path):
    inside = _run(unitsandbox.command(UNIT, [str(wdrun.ETHOSWD), "--probe-features"]))
    outside = _run([str(wdrun.ETHOSWD), "--probe-features"])
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout == outside.stdout


def test_throttle_escalation_and_state_file_work_inside(tmp_path, report):
    """Load and attach (throttle, the host's strongest action), the
    guardian's fork, the probe's stops and SIGKILL, the front end's SIGCONT,
    the state file: all within the unit's sandbox."""
    rep, state = report("agg"), str(tmp_path / "stopped")
    sh = '"$0" "$@" & %s $! & wait' % STORM
    r = _run(_sandboxed(UNIT, ["--action", "throttle", "--max-calls", "100",
                               "--state-file", state],
                        ["/bin/sh", "-c", sh] + aggressive_cmd(duration_ms=3000, report=rep,
                                                               quiet=True)))
    assert r.returncode == 0, r.stderr
    res = wdrun.Result(r.returncode, [json.loads(line) for line in r.stdout.splitlines()
                                      if line.startswith("{")], r.stderr)
    assert res.start["action"] == "throttle", res.start
    assert [e["pid"] for e in res.events("escalate")] == [parse_report(rep)["pid"]]
    with open(state) as f:
        assert f.read() == "ethoswd-stopped 1\n"   # emptied at the clean exit


def _without(tmp_path, old, new):
    text = open(UNIT).read()
    assert old in text
    path = tmp_path / "weakened.service"
    path.write_text(text.replace(old, new))
    return str(path)


@pytest.mark.parametrize("old,new,why", [
    # CAP_SYS_ADMIN would do for CAP_BPF: both go.  The front end checks its
    # capabilities before it loads anything and names the missing one.
    ("CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN ",
     "CapabilityBoundingSet=CAP_PERFMON ", "missing capability in the effective set "
     "(uid 0): CAP_BPF"),
    ("SystemCallFilter=@system-service bpf ", "SystemCallFilter=@system-service ",
     "Operation not permitted")])
def test_the_sandbox_can_refuse(tmp_path, old, new, why):
    r = _run(_sandboxed(_without(tmp_path, old, new),
                        ["--action", "monitor", "--comm", "no_such_comm_x", "--duration",
                         "0.5"]))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert why in r.stderr, r.stderr
