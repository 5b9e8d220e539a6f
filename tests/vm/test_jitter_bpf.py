"""--jitter's write mode in a guest whose kernel lets BPF write user memory
(bpf_probe_write_user; the Debian 12 guest: lockdown none), through both
front ends: a -p target's clock values are rewritten to the keyed clamp at
the read's return (the syscall tracepoints' exit, the uretprobe on libc's
clock_gettime and clock_getres), so every reading of the clocks the write
mode covers is a multiple of the grain and never runs backwards, and
clock_getres answers the grain; a process that is not a target reads the
kernel's values.  Where the kernel refuses the helper, --jitter-via write
is refused with the kernel's reason.  The program: tests/progs/jb_target.c
(dynamic: its clock_gettime goes through libc)."""

import signal
import subprocess

import readers
import wdrun
from conftest import KERNELS, kernel
from readers import BIN_DIR

GRAIN = 100000  # ns: --jitter 100us
N = 50
TARGET = BIN_DIR / "jb_target"
# (source, unit in ns) of every reading write mode rewrites.
CLAMPED = (("libc_monotonic", 1), ("libc_realtime", 1), ("libc_boottime", 1),
           ("libc_monotonic_raw", 1), ("libc_monotonic_coarse", 1),
           ("libc_thread_cputime", 1), ("libc_process_cputime", 1), ("sys_monotonic", 1),
           ("sys_thread_cputime", 1), ("sys_gettimeofday", 1), ("getrusage_self", 1),
           ("getrusage_thread", 1))


def _start_target():
    # the guest runs under TCG: slow, so a longer wait past the calibration
    return readers.jb_target_start(TARGET, "readings", N, settle=1)


def _go(p):
    return readers.jb_target_go(p, 600)


def test_write_mode_rewrites_a_pid_target_s_clocks():
    assert KERNELS[kernel()].get("jitter_write"), (
        "this guest's kernel (%s) is expected to refuse bpf_probe_write_user: "
        "test_write_mode_refused_with_the_reason covers it" % kernel())
    target, other = _start_target(), _start_target()
    try:
        wd = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us", "-p", str(target.pid)])
        start = wd.wait_started(600)
        got, free = _go(target), _go(other)
        res = wd.finish(600, sig=signal.SIGINT)
    finally:
        for p in (target, other):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert res.rc == 0, "rc %s, stderr:\n%s" % (res.rc, res.stderr)
    jit = start["jitter"]
    assert jit["via"] == "write" and "the kernel allows bpf_probe_write_user" in jit["why"], jit
    assert jit["uprobes"] == 1, jit
    for source, unit in CLAMPED:
        vals = [v * unit for v in got[source]]
        assert all(v % GRAIN == 0 for v in vals), "%s: not multiples of the grain: %s" % (
            source, vals[:10])
        assert all(b >= a for a, b in zip(vals, vals[1:])), "%s ran backwards" % source
    assert got["libc_getres"] == [GRAIN] * N
    # the non-target reads the kernel's values
    assert sum(v % GRAIN == 0 for v in free["libc_monotonic"]) <= 2, free["libc_monotonic"]
    # (the kernel's resolution: 1 ns with high-resolution timers, a tick without)
    assert free["libc_getres"][0] in (1, 4000000), free["libc_getres"][0]
    ev = [r for r in res.records if r.get("event") == "jitter"][0]
    assert ev["writes"] >= len(CLAMPED) * N and ev["write_fail"] == 0, ev
    # (the target has exited by the stop: its uprobes went with it)
    assert ev["uprobe_processes"] == 0 and ev["uprobe_failed"] == 0, ev


def test_write_mode_refused_with_the_reason():
    """Where the kernel refuses the helper: --jitter-via write is refused
    with the kernel's words; where it allows it, auto picks write."""
    p = subprocess.Popen([str(TARGET), "readings", "1"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    try:
        res = wdrun.run(["--action", "monitor", "-p", str(p.pid), "--jitter", "100us",
                         "--jitter-via", "write", "--duration", "1"], timeout=600)
    finally:
        p.kill()
        p.wait()
    if KERNELS[kernel()].get("jitter_write"):
        assert res.rc == 0, res.stderr
        start = [r for r in res.records if r.get("event") == "start"][0]
        assert start["jitter"]["via"] == "write", start["jitter"]
        return
    assert res.rc == 2, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(wdrun.prefix() + "error: --jitter-via write: this kernel refuses "
                           "bpf_probe_write_user ("), line


# The sources a system-wide run reaches: the system calls (no uprobes: they
# are placed per target process, and system-wide has none).
# Clock sources the x86 vDSO reads in user space.
VDSO_CLOCKSOURCES = ("tsc", "kvm-clock", "hyperv_clocksource_tsc_page")
SYSCALLS = ("sys_monotonic", "sys_thread_cputime", "sys_gettimeofday", "getrusage_self")


def test_system_wide_write_mode_rewrites_every_process_s_clock_syscalls():
    """No -p, no --comm: every process's clock system calls come back
    clamped, its libc (vDSO) clocks do not (docs/jitter_bpf.md: "System-wide
    ... the system calls only").  A process started after the watchdog."""
    wd = wdrun.Watchdog(["--action", "monitor", "--jitter", "100us"])
    try:
        start = wd.wait_started(600)
        got = _go(_start_target())
    finally:
        res = wd.finish(600, sig=signal.SIGINT)
    assert res.rc == 0, "rc %s, stderr:\n%s" % (res.rc, res.stderr)
    jit = start["jitter"]
    assert jit["via"] == "write" and jit["uprobes"] == 0, jit
    for source in SYSCALLS:
        vals = got[source]
        assert all(v % GRAIN == 0 for v in vals), "%s: %s" % (source, vals[:10])
        assert all(b >= a for a, b in zip(vals, vals[1:])), "%s ran backwards" % source
    # libc's MONOTONIC: the vDSO answers it only on a clock source it can
    # read (the TSC, kvm-clock); on another (QEMU TCG gives the guests hpet
    # or acpi_pm) libc falls back to the system call, which is rewritten.
    libc = got["libc_monotonic"]
    with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
        source = f.read().strip()
    if source in VDSO_CLOCKSOURCES:
        assert sum(v % GRAIN == 0 for v in libc) <= 2, (source, libc[:10])
    else:
        assert all(v % GRAIN == 0 for v in libc), (source, libc[:10])
    ev = [r for r in res.records if r.get("event") == "jitter"][0]
    assert ev["writes"] >= len(SYSCALLS) * N and ev["write_fail"] == 0, ev
