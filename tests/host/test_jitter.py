"""--jitter in launcher mode on the host kernel, through both front ends:
every clock the command's tree has reads as multiples of the grain and
never runs backwards (static and dynamic builds, clamp and pause); the ways
around the mediation fail; threads, children and grandchildren are
mediated; pause gives every read a fresh switch point; throttle's stops
behave as without ptrace; the command's exit status comes through; a
SIGKILLed watchdog fails closed (the tree is killed, nothing attached,
nothing stopped).  The programs: tests/progs/clock_probe.c."""

import math
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import wdrun
from readers import BIN_DIR, aggressive_cmd

GRAIN = 100000  # ns: --jitter 100us
PROBES = {"static": BIN_DIR / "clock_probe", "dynamic": BIN_DIR / "clock_probe_dyn"}
# tests/progs/clock_probe.c sources, their units in ns (None: TSC cycles).
UNIT_NS = {"ns": 1, "us": 1000, "s": 10 ** 9, "ticks": 10 ** 7, "cs": 10 ** 7,
           "cycles": None}
SOURCES = ("realtime", "monotonic", "process_cputime", "thread_cputime", "monotonic_raw",
           "realtime_coarse", "monotonic_coarse", "boottime", "tai", "cpuclockid",
           "pthread_cpuclockid", "clock_getres", "gettimeofday", "time", "times",
           "times_cpu", "getrusage_self", "getrusage_thread", "rdtsc", "rdtscp",
           "proc_stat", "proc_schedstat", "thread_schedstat", "uptime", "sysinfo",
           "adjtimex", "vsyscall_gettimeofday", "int80_clock_gettime", "getitimer_left",
           "timerfd_left")
COUNTING_DOWN = ("getitimer_left", "timerfd_left")


def _run(mode, args, build="dynamic", action="monitor", timeout=300):
    res = wdrun.run(["--action", action, "--jitter", "100us", "--jitter-mode", mode],
                    [PROBES[build]] + [str(a) for a in args], timeout=timeout)
    assert res.rc == 0, "rc %s, stderr:\n%s" % (res.rc, res.stderr)
    return res


def _tsc_cycles_per_grain():
    """The TSC's cycles per grain, from the kernel's own figure."""
    with open("/proc/cpuinfo") as f:
        mhz = next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    return mhz * GRAIN / 1000


def _assert_clamped(source, unit, values):
    """Multiples of the grain (in the source's unit), and in order."""
    steps = [b - a for a, b in zip(values, values[1:])]
    if source in COUNTING_DOWN:
        assert all(s <= 0 for s in steps), (source, values)
    else:
        assert all(s >= 0 for s in steps), "%s ran backwards: %s" % (source, values)
    if UNIT_NS[unit] is None:
        # TSC cycles: one common step of at least a grain's worth
        step = 0
        for v in values:
            step = math.gcd(step, v)
        assert step >= 0.9 * _tsc_cycles_per_grain(), (source, step, values)
        return
    per = UNIT_NS[unit]
    assert all(v * per % GRAIN == 0 for v in values), \
        "%s: not multiples of %d ns: %s" % (source, GRAIN, values)


def _vsyscall_mapped():
    with open("/proc/self/maps") as f:
        return any(line.rstrip().endswith("[vsyscall]") for line in f)


@pytest.mark.parametrize("build", sorted(PROBES))
@pytest.mark.parametrize("mode", ["clamp", "pause"])
def test_every_clock_reads_multiples_of_the_grain(mode, build):
    res = _run(mode, ["readings", 8], build)
    got = {r["source"]: r for r in res.records if "source" in r}
    assert sorted(got) == sorted(SOURCES), sorted(set(SOURCES) ^ set(got))
    # an ia32 system call from a 64-bit process: refused, not answered raw
    assert got["int80_clock_gettime"].get("error") == "ENOSYS", got["int80_clock_gettime"]
    # the vsyscall page: read only where this kernel maps it (Debian's boot
    # with vsyscall=none; clock_probe then says ENOENT)
    if not _vsyscall_mapped():
        assert got.pop("vsyscall_gettimeofday").get("error") == "ENOENT", got
    for name, r in got.items():
        if name == "int80_clock_gettime":
            continue
        assert "values" in r, r
        _assert_clamped(name, r["unit"], r["values"])
    assert set(got["clock_getres"]["values"]) == {GRAIN}
    # the start record says what is covered
    jit = res.start["jitter"]
    assert (jit["grain_ns"], jit["mode"]) == (GRAIN, mode) and jit["supervisor"] > 0
    assert {c["status"] for c in jit["clocks"]} == {"clamped", "refused", "out of reach"}


EXPECTED_HOSTILE = {
    "vdso_in_maps": "absent", "vvar_in_maps": "absent", "auxv_sysinfo_ehdr": "absent",
    "prctl_set_tsc_enable": "EPERM", "arch_prctl_map_vdso": "EPERM",
    "perf_event_open": "EACCES", "clone3": "ENOSYS", "clone_untraced": "EPERM",
    "io_uring_setup": "EPERM", "seccomp_new_listener": "EPERM", "open_proc_sched": "EACCES",
    "clock_settime": "EINVAL", "adjtimex_set": "EPERM", "clock_gettime_bad_id": "EINVAL",
    "clock_gettime_bad_pointer": "EFAULT", "clock_gettime_null": "EFAULT",
    "gettimeofday_null": "ok"}


@pytest.mark.parametrize("build", sorted(PROBES))
def test_ways_around_the_mediation_fail(build):
    """No [vdso]/[vvar] to call or read, no way to turn rdtsc back on or map
    the vDSO again, no untraced child, no listener of its own, no perf
    clock; errors as the kernel gives them."""
    res = _run("clamp", ["hostile"], build)
    got = {r["attempt"]: r["result"] for r in res.records if "attempt" in r}
    assert got == EXPECTED_HOSTILE


@pytest.mark.parametrize("mode", ["clamp", "pause"])
def test_threads_children_and_grandchildren_are_mediated(mode):
    res = _run(mode, ["tree"])
    rows = [r for r in res.records if "who" in r and "monotonic" in r]
    assert sorted(r["who"] for r in rows) == ["child", "grandchild", "main", "thread1",
                                              "thread2"]
    for r in rows:
        assert r["monotonic"] % GRAIN == 0 and r["thread_cputime"] % GRAIN == 0, r
    _assert_clamped("rdtsc", "cycles", sorted(r["rdtsc"] for r in rows))
    assert [r["child_status"] for r in res.records if "child_status" in r] == [0]


def test_pause_gives_every_read_a_fresh_switch_point():
    """Under pause a reading is the one from the next switch point on: two
    reads around 10 us of work differ by at least one grain, most often by
    exactly one; under clamp most of them read the same."""
    diffs = {}
    for mode in ("clamp", "pause"):
        res = _run(mode, ["pairs", 200, 10], build="static")
        diffs[mode] = next(r["diffs"] for r in res.records if "diffs" in r)
        assert all(d % GRAIN == 0 for d in diffs[mode]), diffs[mode]
    assert min(diffs["pause"]) >= GRAIN, diffs["pause"]
    assert diffs["pause"].count(GRAIN) >= len(diffs["pause"]) // 2, diffs["pause"]
    assert diffs["clamp"].count(0) >= len(diffs["clamp"]) // 2, diffs["clamp"]


def test_throttle_stops_and_resumes_a_traced_reader(report):
    """SIGSTOP and SIGCONT reach a traced reader as without ptrace (the
    supervisor lets group-stops be: PTRACE_LISTEN)."""
    rep = report("agg")
    run = wdrun.Watchdog(["--action", "throttle", "--max-calls", "100", "--window-ms", "300",
                          "--jitter", "100us"],
                         aggressive_cmd(duration_ms=2500, report=rep, quiet=True))
    start = run.wait_started()
    pid = start["targets"][0]
    states = set()
    while run.proc.poll() is None:
        states.add(wdrun.proc_state(pid))
        time.sleep(0.005)
    res = run.finish()
    assert res.rc == 0, res.stderr
    assert states & {"T", "t"}, states  # "t": group-stopped, as a tracee
    assert res.summary_for(pid)["limited_windows"] >= 2


@pytest.mark.parametrize("cmd,status", [("exit 7", 7), ("kill -TERM $$", 143)])
def test_command_exit_status_is_passed_through(cmd, status):
    res = wdrun.run(["--action", "monitor", "--jitter", "1ms"], ["/bin/sh", "-c", cmd])
    assert res.rc == status, res.stderr


def _gone(pid):
    """Not running: no such process, or a zombie."""
    return wdrun.proc_state(pid) in (None, "Z", "X")


def test_sigkill_of_the_watchdog_fails_closed():
    """The watchdog dies: its supervisor ends, and with it (PTRACE_O_EXITKILL)
    the whole tree: no process of it reads another clock, unclamped or
    not, none is left stopped, nothing is left attached."""
    run = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us"],
                         [PROBES["dynamic"], "spin", 120000])
    start = run.wait_started()
    cmd_pid, sup = start["targets"][0], start["jitter"]["supervisor"]
    time.sleep(0.3)
    assert not _gone(cmd_pid) and not _gone(sup)
    run.kill()
    deadline = time.monotonic() + 10
    while not (_gone(cmd_pid) and _gone(sup)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(sup), "the supervisor outlived the watchdog"
    assert _gone(cmd_pid), "the command outlived its supervisor"
    assert wdrun.proc_state(cmd_pid) not in ("T", "t")
    # the autouse fixture asserts that nothing is left attached


def test_the_supervisor_killed_alone_kills_the_tree():
    """Fail closed from the other side: the supervisor dies (here SIGKILL),
    the command is killed with it (137), the watchdog reports its exit."""
    run = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us"],
                         [PROBES["static"], "spin", 120000])
    start = run.wait_started()
    time.sleep(0.3)
    os.kill(start["jitter"]["supervisor"], signal.SIGKILL)
    res = run.finish(timeout=30)
    assert res.rc == 128 + signal.SIGKILL, res.stderr


@pytest.mark.frontends("ethoswd")
def test_missing_supervisor_is_one_line_and_nothing_runs(tmp_path):
    """ethoswd looks for ethos-clockd next to itself: without it, one line
    naming the fix, status 2, the command never run, nothing attached."""
    exe = tmp_path / "ethoswd"
    exe.write_bytes(wdrun.ETHOSWD.read_bytes())
    exe.chmod(0o755)
    marker = tmp_path / "ran"
    p = subprocess.run([str(exe), "--action", "monitor", "--jitter", "100us", "--",
                        "/bin/sh", "-c", "touch %s" % marker],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert p.stderr == ("ethoswd: error: --jitter needs %s/ethos-clockd: run make clockd "
                        "(or ./install.sh)\n" % tmp_path)
    assert not marker.exists()


def test_sigkill_of_the_watchdog_leaves_no_throttled_process_stopped(report):
    """A reader the throttle stopped, then the watchdog killed: the tree
    dies with the supervisor; nothing is left stopped."""
    rep = report("agg")
    run = wdrun.Watchdog(["--action", "throttle", "--max-calls", "100", "--window-ms", "60000",
                          "--jitter", "100us"],
                         aggressive_cmd(duration_ms=60000, report=rep, quiet=True))
    pid = run.wait_started()["targets"][0]
    deadline = time.monotonic() + 20
    while wdrun.proc_state(pid) not in ("T", "t") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert wdrun.proc_state(pid) in ("T", "t"), "the reader was never stopped"
    run.kill()
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "state %s" % wdrun.proc_state(pid)


def test_user_command_is_mediated_and_sees_only_what_it_could():
    """--jitter with -u nobody: the supervisor's set-up runs in the gated
    child while it is still root, then the child takes nobody's ids and
    drops its capabilities (launcher.py, launch.c).  The command runs as
    nobody with no capabilities, its clocks read in grains, and a mediated
    /proc/PID/stat of a root process (this test's) hides what the kernel
    hides from nobody (code and stack addresses: 1 1 0), while its own
    shows them: the supervisor reads for it with its ids."""
    # the checkout (a clone in /root) and pytest's tmp_path are 0700
    tmp = tempfile.mkdtemp(prefix="wd-jitter-", dir="/tmp")
    try:
        os.chmod(tmp, 0o755)
        probe = shutil.copy2(PROBES["dynamic"], tmp)
        _user_command(probe)
    finally:
        shutil.rmtree(tmp)


def _user_command(probe):
    script = ('grep -E "^(Uid|CapEff):" /proc/self/status; '
              'echo root $(cut -d" " -f26-28 /proc/%d/stat); '
              'echo self $(cut -d" " -f26-28 /proc/self/stat); '
              'exec %s readings 4' % (os.getpid(), probe))
    res = wdrun.run(["--action", "monitor", "--jitter", "100us", "-u", "nobody"],
                    ["/bin/sh", "-c", script])
    assert res.rc == 0, res.stderr
    assert res.start["user"] == "nobody" and res.start["jitter"]["grain_ns"] == GRAIN
    lines = [" ".join(x.split()) for x in res.other_lines]
    assert lines[:3] == ["Uid: 65534 65534 65534 65534", "CapEff: 0000000000000000",
                         "root 1 1 0"], res.other_lines
    assert lines[3].startswith("self ") and lines[3] != "self 1 1 0", lines[3]
    got = {r["source"]: r for r in res.records if "source" in r}
    for name in ("monotonic", "thread_cputime", "gettimeofday", "rdtsc", "proc_stat",
                 "proc_schedstat", "uptime"):
        _assert_clamped(name, got[name]["unit"], got[name]["values"])
