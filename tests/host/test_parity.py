"""Both front ends compared on what needs the kernel (issue 18 section 2;
the refusals made before anything loads are in
tests/unit/test_frontend_parity.py): every --backend x --action pair, the
hidden --ebpf, a Ctrl-C during start-up, and the end of --duration while
the launched command still runs.  Each test runs once (it runs both front
ends itself); the conftest checks nothing is left attached."""

import os
import re
import signal
import subprocess

import pytest

import parity
import wdrun

ONCE = pytest.mark.frontends("ethoswd")     # runs both; once (and under ASan)


@ONCE
@pytest.mark.parametrize("backend", ["auto", "lsm", "kprobe", "tracepoint"])
def test_backend_and_action_choices_agree(backend):
    for action in ("auto", "deny", "throttle", "kill", "monitor"):
        ans = parity.answers(["--backend", backend, "--action", action, "--", "true"],
                             timeout=120)
        if ans["watchdog.py"].rc == 2:
            parity.same_refusal(ans)
            continue
        chosen = {}
        for name, a in ans.items():
            assert a.rc == 0, a
            chosen[name] = [ln.split(": ", 1)[1] for ln in a.lines
                            if re.match(r"\S+: backend \w+, action \w+: ", ln)]
        assert chosen["watchdog.py"] == chosen["ethoswd"] and chosen["ethoswd"], chosen


def _settings(answer, head):
    line = [ln for ln in answer.stdout.splitlines() if ln.startswith(head)]
    assert len(line) == 1, answer
    flags = line[0][len(head):].split()
    # -I and the BTF offsets are watchdog.py's alone (ethoswd: CO-RE).
    return [re.sub(r"^-DWD_SELF_TGID=\d+$", "-DWD_SELF_TGID=N", f) for f in flags
            if not f.startswith(("-I", "-DWD_OFF_"))]


@ONCE
@pytest.mark.parametrize("args", [
    ["--action", "monitor", "--", "true"],
    ["--action", "kill", "--count", "sysinfo", "--comm", "a", "--exclude-comm", "b"],
    ["--profile", "fingerprint", "--action", "throttle", "--map-size", "100", "-p", "1"],
    ["--key", "uid", "--exclude-exe", "/bin/sh", "--count", "files", "--file", "/etc/passwd"],
], ids=["cmd", "comm", "fingerprint", "files"])
def test_ebpf_prints_the_same_settings_and_loads_nothing(args):
    if "-p" in args:
        args = args[:-1] + [str(os.getpid())]
    ans = parity.answers(["--ebpf"] + args)
    for a in ans.values():
        assert a.rc == 0, a
    py = _settings(ans["watchdog.py"], "// cflags: ")
    c = _settings(ans["ethoswd"], "// settings: ")
    assert py == c and any(f.startswith("-DWD_KEY=") for f in py), (py, c)
    assert "#include" in ans["watchdog.py"].stdout      # the source follows
    assert "enforcing" not in ans["ethoswd"].stderr


@ONCE
def test_ctrl_c_during_start_up_exits_130_with_nothing_attached():
    # strace raises SIGINT at the first bpf(2) call: the features probe.
    # (LeakSanitizer cannot run under ptrace: off for the ASan build.)
    ans = parity.answers(["--action", "monitor", "--", "true"],
                         wrap=["strace", "-qq", "-f", "-e", "trace=bpf", "-o", "/dev/null",
                               "-e", "inject=bpf:signal=INT:when=1"],
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    for name, a in ans.items():
        assert a.rc == 130 and a.stdout == "", a
        assert a.lines == [parity.PREFIX[name] + "interrupted during start-up; nothing "
                           "left attached"], a


def _gone(pid):
    return wdrun.proc_state(pid) in (None, "Z")


@ONCE
def test_duration_ending_first_leaves_the_command_running_and_says_so():
    stops = {}
    for name in wdrun.FRONTENDS:
        wdrun.use(name)
        res = wdrun.run(["--action", "monitor", "--duration", "1"],
                        ["sh", "-c", "exec sleep 60 >/dev/null 2>&1"])
        pid = res.start["targets"][0]
        try:
            assert res.rc == 0, res.stderr
            stop = res.events("stop")[0]
            assert (stop["reason"], stop["command_running"]) == ("duration", pid), stop
            assert wdrun.proc_state(pid) in ("S", "R"), "the command did not run on"
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                assert f.read().split(b"\0")[0] == b"sleep"
        finally:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        text = subprocess.run(parity.argv0(name) + ["--action", "monitor", "--duration",
                                                    "0.5", "--", "sh", "-c",
                                                    "exec sleep 60 >/dev/null 2>&1"],
                              capture_output=True, text=True, timeout=120)
        assert text.returncode == 0, text.stderr
        last = text.stderr.splitlines()[-1]
        pid = int(re.search(r"\(pid (\d+)\)", last).group(1))
        os.kill(pid, signal.SIGKILL)
        stops[name] = last.replace(str(pid), "N").split(": ", 1)[1]
    wdrun.use("ethoswd")
    assert stops["watchdog.py"] == stops["ethoswd"] == (
        "stopped: duration; all programs detached; the command (pid N) is still "
        "running, no longer limited"), stops
