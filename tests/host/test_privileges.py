"""Privilege is decided by the effective capability set, not the user id
(issue 17 section 6): root without CAP_BPF is told that it lacks CAP_BPF
(not that the kernel cannot), and a user given exactly the capabilities
the refusals name runs the watchdog.  setpriv (util-linux) drops
capabilities from root's bounding set, or runs as nobody with ambient
ones."""

import re
import subprocess
import time

import readers
import wdrun

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
# What loading and attaching needs here for a user who is not root
# (tracefs is mode 0700, root's); throttle adds CAP_KILL.
NEEDED = "+bpf,+perfmon,+dac_read_search"


def as_nobody(caps):
    return NOBODY + ["--inh-caps", caps, "--ambient-caps", caps]


def refusal(wrap, args):
    r = subprocess.run(wrap + wdrun.argv0() + args, capture_output=True, text=True,
                       timeout=120)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and r.stdout == "", r
    assert lines[0].startswith(wdrun.prefix() + "error: missing capabilit"), lines
    return lines[0]


def test_root_without_cap_bpf_is_told_it_lacks_cap_bpf():
    line = refusal(["setpriv", "--bounding-set", "-bpf,-sys_admin"],
                   ["--action", "monitor", "--", "true"])
    assert re.search(r"\(uid 0\): CAP_BPF \(load BPF programs and maps\); this process "
                     r"runs as root without it", line), line
    assert "kernel" not in line.split("CAP_BPF", 1)[1].split(";")[0]


def test_root_without_cap_perfmon_is_told_so():
    line = refusal(["setpriv", "--bounding-set", "-perfmon,-sys_admin"],
                   ["--action", "monitor", "--", "true"])
    assert "(uid 0): CAP_PERFMON (attach tracing programs);" in line


def test_cap_sys_admin_stands_in_for_cap_bpf_and_cap_perfmon():
    res = wdrun.run(["--action", "monitor"], ["true"],
                    wrap=["setpriv", "--bounding-set", "-bpf,-perfmon"])
    assert res.rc == 0 and res.start is not None, res.stderr


def test_throttle_without_cap_kill_is_refused_naming_it():
    line = refusal(["setpriv", "--bounding-set", "-kill"],
                   ["--action", "throttle", "--", "true"])
    assert "(uid 0): CAP_KILL (--action throttle resumes stopped processes" in line
    assert "CAP_BPF" not in line


def test_user_without_cap_dac_read_search_is_told_tracefs():
    line = refusal(as_nobody("+bpf,+perfmon"), ["--action", "monitor", "--", "true"])
    assert re.search(r"\(uid 65534\): CAP_DAC_READ_SEARCH \(read tracefs: \S+ is closed "
                     r"to this user\); run it as root", line), line


def test_user_with_the_named_capabilities_runs_and_the_command_gets_none():
    res = wdrun.run(["--action", "monitor"],
                    ["sh", "-c", "grep ^Cap /proc/self/status; head -c 1 /etc/passwd "
                     ">/dev/null"], wrap=as_nobody(NEEDED))
    assert res.rc == 0 and res.start is not None, res.stderr
    caps = dict(line.strip().split(":\t") for line in res.other_lines)
    # The command must not inherit the watchdog's ambient capabilities.
    for name in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(caps[name], 16) == 0, caps
    assert sum(r["total"] for r in res.summary["processes"]) > 0


def test_user_without_cap_kill_cannot_throttle():
    line = refusal(as_nobody(NEEDED), ["--action", "throttle", "--", "true"])
    assert "(uid 65534): CAP_KILL (" in line and "CAP_BPF" not in line


def test_user_with_cap_kill_throttles_and_resumes_a_root_process(report):
    rep = report("agg")
    reader = readers.launch(readers.aggressive_cmd(duration_ms=20000, report=rep,
                                                   quiet=True))
    try:
        run = wdrun.Watchdog(["--action", "throttle", "--max-calls", "100",
                              "--window-ms", "60000", "-p", str(reader.pid)],
                             wrap=as_nobody(NEEDED + ",+kill"))
        run.wait_started()
        assert run.wait_for(lambda r: r.get("event") == "limit", 30), "never limited"
        deadline = time.monotonic() + 20
        while wdrun.proc_state(reader.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wdrun.proc_state(reader.pid) == "T", "the root reader was never stopped"
        res = run.finish(sig=15)
        assert res.rc == 0, res.stderr
        # SIGCONT from uid 65534 to a root process: only CAP_KILL allows it.
        deadline = time.monotonic() + 5
        while wdrun.proc_state(reader.pid) == "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wdrun.proc_state(reader.pid) not in ("T", None)
    finally:
        reader.kill()
        reader.wait()
