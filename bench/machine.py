"""Facts about the machine, and the kernel's view of BPF programs and maps.

machine_info() describes the run for the report; the rest reads the
kernel's counters (/proc/self/fdinfo, bpftool) and sysctls.
"""

import contextlib
import json
import os
import platform
import subprocess
import time

from ethoswd import bpfsys

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def _cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def _virt():
    virt = []
    if os.path.exists("/usr/bin/systemd-detect-virt"):
        for flag in ("--vm", "--container"):
            out = subprocess.run(["systemd-detect-virt", flag], capture_output=True,
                                 text=True).stdout.strip()
            if out and out != "none":
                virt.append(("VM " if flag == "--vm" else "container ") + out)
    return ", ".join(virt) or "none detected"


def loadavg():
    """The 1, 5 and 15 minute load averages, as strings."""
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def machine_info():
    with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
        clocksource = f.read().strip()
    import bcc
    return {"nproc": os.cpu_count(), "cpu_model": _cpu_model(),
            "kernel": platform.release(), "arch": platform.machine(),
            "virt": _virt(), "clocksource": clocksource,
            "bcc": getattr(bcc, "__version__", "?"),
            "python": platform.python_version(),
            "vm_kernel": os.environ.get("WATCHDOG_VM_KERNEL", ""),
            "loadavg_start": " ".join(loadavg()),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def is_emulated(info):
    """A QEMU TCG guest (the project's VM bed): relative numbers only."""
    return "QEMU TCG" in info["cpu_model"] or bool(info["vm_kernel"])


def bpftool_json(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout or "null")


def fdinfo(fd):
    out = {}
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def prog_id(fd):
    return int(fdinfo(fd)["prog_id"])


def prog_stats(fd):
    """(run_time_ns, run_cnt) of one program, from /proc/self/fdinfo: the
    same kernel counters `bpftool prog show` prints, without starting
    bpftool (which loads a BPF iterator each time: slow in a TCG guest)."""
    fi = fdinfo(fd)
    return int(fi.get("run_time_ns", 0)), int(fi.get("run_cnt", 0))


def bpftool_prog_stats(prog_id):
    """The same counters through `bpftool -j prog show id` (a cross-check)."""
    info = bpftool_json("prog", "show", "id", str(prog_id))
    if info is None:
        return None
    # bpftool leaves both fields out while they are zero.
    return int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0))


def map_memlock(map_fd):
    mid = int(fdinfo(map_fd)["map_id"])
    info = bpftool_json("map", "show", "id", str(mid))
    if info is not None:
        return int(info["bytes_memlock"])
    return int(fdinfo(map_fd).get("memlock", 0))


def hash_memlock(key_size, value_size, max_entries):
    """bytes_memlock of an empty BPF hash map made as wd_state is
    (BPF_F_NO_PREALLOC, probe/compat.h WD_DYN_HASH): create one, read its
    fdinfo, close it.  Entries add to it as processes are tracked."""
    fd, _err = bpfsys.map_create_fd(bpfsys.MAP_HASH, key_size, value_size, max_entries,
                                    flags=1)
    if fd < 0:
        return None
    try:
        return int(fdinfo(fd).get("memlock", 0))
    finally:
        os.close(fd)


def read_sysctl(path):
    with open(path) as f:
        return f.read().strip()


def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write(value)


@contextlib.contextmanager
def bpf_stats(on=True):
    """kernel.bpf_stats_enabled set (on) for the block, then restored;
    yields the value it had before."""
    old = read_sysctl(STATS_SYSCTL)
    write_sysctl(STATS_SYSCTL, "1" if on else "0")
    try:
        yield old
    finally:
        write_sysctl(STATS_SYSCTL, old)


def foreign_syscall_hooks():
    """Other processes' BPF programs on syscall tracepoints, as strings."""
    found = []
    for e in bpftool_json("perf") or []:
        tp = e.get("tracepoint", "")
        if e.get("pid") != os.getpid() and tp.startswith(("sys_enter", "sys_exit")):
            found.append("pid %s: %s %s" % (e.get("pid"), e.get("fd_type"), tp))
    return sorted(set(found))
