#!/usr/bin/python3
"""bench.py - what the watchdog costs: per call, per event, at start-up, at scale.

    sudo make bench                        # about 2.5 minutes here
    sudo make bench QUICK=1                # about a minute, fewer rounds
    sudo /usr/bin/python3 bench/bench.py [--quick] [--rounds N] [--out DIR]

Run as root with the Python that has BCC (/usr/bin/python3).  Prints
Markdown tables and writes them to bench/results/latest.md, with every
raw sample in bench/results/latest.json.

Safety: nothing here can stop a process.  Enforcing configurations are
always restricted to one benchmark process (the worker, or a sleeping
process of ours) and use a limit of 4e9 calls per window, which cannot be
reached; only "monitor" (which never acts) runs system-wide.  While any
syscall tracepoint is attached, every process's syscalls are slower
(section 2 of the output measures by how much).

Method
------
One long-lived worker, bench/bin/syscall_bench in "serve" mode pinned to
the last CPU (this script runs on the others), runs timed loops on
request: N 1-byte read()s of /dev/zero, or N syscall(SYS_getpid).  Each
configuration below is attached, the worker runs a warm-up and then
CHUNKS timed chunks of about 1 ms of each kind, and the configuration is
detached.  A chunk's CLOCK_MONOTONIC time counts only if the worker was
not preempted during it (no involuntary context switch: this machine is
shared, and a chunk that lost the CPU measures the other load, not the
syscall); the measurement is the median of those chunks (of all chunks if
fewer than 5 ran undisturbed).  A round runs every configuration once, in
a freshly shuffled order; the tables report the median over the rounds, so
slow drift and other load hit every configuration alike.

Configurations (per backend that works here, from ethoswd.features):
  none                     no BPF program attached
  ref-empty                an empty program on syscalls:sys_enter_<read*>
  ref-tp / ref-rawtp       bench/ref_probe.c: hash lookup-or-init by TGID
                           plus an atomic add, on the syscall tracepoints /
                           on the raw sys_enter tracepoint
  ref-kprobe / ref-lsm     the same counter on the kprobe / LSM hook
  wd-B-monitor-target      the watchdog (probe/), backend B, counting only
                           the worker (--pid)
  wd-B-monitor-all         the same, system-wide (every process counted)
  wd-B-ACTION-target       enforcing (throttle, deny) on the worker only,
                           under the limit
  wd-B-ACTION-other        enforcing on another (sleeping) process: what the
                           worker pays as a bystander it does not target
  wd-...-nN                scaling: N processes tracked (fake entries
                           written into wd_state besides the worker's)
  wd-B-monitor-all-mapfull system-wide monitor with wd_state full of fake
                           entries: every call is untracked (map_full)

Cost per event inside the kernel comes from a second pass with
kernel.bpf_stats_enabled=1 (run_time_ns / run_cnt of each program, read
from the program's fdinfo and cross-checked once against `bpftool -j prog
show id`), restored afterwards.  Start-up is timed from exec of
`watchdog.py --json ... -- CMD` to its "start" record.  After each
measurement (and before it, if the last check found any) `bpftool -j
perf` is checked for other processes' programs on syscall tracepoints:
they would put even the "none" baseline on the tracing slow path, so such
samples are dropped and counted.
"""

import argparse
import ctypes as ct
import json
import os
import platform
import random
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, REPO)

from ethoswd import environment, features  # noqa: E402
from ethoswd.cli import DEFS  # noqa: E402

WORKER_BIN = os.path.join(BENCH_DIR, "bin", "syscall_bench")
REF_SOURCE = os.path.join(BENCH_DIR, "ref_probe.c")
WATCHDOG = os.path.join(REPO, "watchdog.py")
PYTHON = "/usr/bin/python3"

SAFE_MAX_CALLS = 4000000000     # per window: unreachable, nothing is stopped
WINDOW_MS = 1000
FAKE_TGID_BASE = 0x40000000     # above PID_MAX_LIMIT: never a real process
SCALE_SIZES = (1, 1000, 50000)
FULL_MAP_SIZE = 1000
# Per-event cost of the hot-path program of each watchdog backend.
WD_HOT_FN = {"tracepoint": "wd_tracepoint", "kprobe": "wd_kprobe",
             "lsm": "lsm__file_permission"}
REF_FOR_BACKEND = {"tracepoint": "ref-tp", "kprobe": "ref-kprobe",
                   "lsm": "ref-lsm"}
TARGETS = {"added_vs_ref": 1.1, "stats_vs_ref": 1.2, "getpid_slowdown": 0.05,
           "startup_s": 1.5}

FULL = dict(rounds=11, chunks=80, chunk_s=0.001, stat_rounds=7, startup_runs=7)
QUICK = dict(rounds=5, chunks=40, chunk_s=0.001, stat_rounds=3, startup_runs=3)
MIN_CLEAN = 5           # undisturbed chunks needed to use only those


class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def estimate(chunks):
    """(ns per call, undisturbed share) from worker chunks: the median of
    the chunks that ran without an involuntary context switch, or of all
    chunks if too few did."""
    clean = [ns for ns, csw in chunks if csw == 0]
    use = clean if len(clean) >= min(MIN_CLEAN, len(chunks)) else [ns for ns, _ in chunks]
    return median(use), len(clean) / len(chunks)


# --------------------------------------------------------------------------
# The machine, bpftool and sysctl
# --------------------------------------------------------------------------

def machine_info():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    virt = []
    if os.path.exists("/usr/bin/systemd-detect-virt"):
        for flag in ("--vm", "--container"):
            out = subprocess.run(["systemd-detect-virt", flag], capture_output=True,
                                 text=True).stdout.strip()
            if out and out != "none":
                virt.append(("VM " if flag == "--vm" else "container ") + out)
    with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
        clocksource = f.read().strip()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    import bcc
    return {"nproc": os.cpu_count(), "cpu_model": model,
            "kernel": platform.release(), "arch": platform.machine(),
            "virt": ", ".join(virt) or "none detected", "clocksource": clocksource,
            "bcc": getattr(bcc, "__version__", "?"),
            "python": platform.python_version(),
            "vm_kernel": os.environ.get("WATCHDOG_VM_KERNEL", ""),
            "loadavg_start": load,
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
    """bytes_memlock of a BPF hash map as BCC's BPF_HASH creates it
    (preallocated, no flags): create one, read its fdinfo, close it."""
    libc = ct.CDLL(None, use_errno=True)
    attr = ct.create_string_buffer(72)
    struct.pack_into("<IIII", attr, 0, 1, key_size, value_size, max_entries)
    fd = libc.syscall(321, 0, attr, 72)     # bpf(BPF_MAP_CREATE), x86-64
    if fd < 0:
        return None
    try:
        return int(fdinfo(fd).get("memlock", 0))
    finally:
        os.close(fd)


STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def read_sysctl(path):
    with open(path) as f:
        return f.read().strip()


def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write(value)


def foreign_syscall_hooks():
    """Other processes' BPF programs on syscall tracepoints, as strings."""
    found = []
    for e in bpftool_json("perf") or []:
        tp = e.get("tracepoint", "")
        if e.get("pid") != os.getpid() and tp.startswith(("sys_enter", "sys_exit")):
            found.append("pid %s: %s %s" % (e.get("pid"), e.get("fd_type"), tp))
    return sorted(set(found))


# --------------------------------------------------------------------------
# The worker: one process, one PID, driven over a pipe
# --------------------------------------------------------------------------

class Worker:
    """bench/bin/syscall_bench serve, pinned to one CPU."""

    def __init__(self, cpu):
        argv = [WORKER_BIN] + (["-c", str(cpu)] if cpu is not None else []) + ["serve"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.proc.pid
        self.cpu = cpu

    def chunks(self, mode, n, k=1, timeout=120):
        """k chunks of n calls of `mode` ("read" or "getpid"): a list of
        (ns per call, involuntary context switches during the chunk)."""
        self.proc.stdin.write("%s %d %d\n" % (mode, n, k))
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            # Only a bug could stop it; never leave it stopped.
            os.kill(self.pid, signal.SIGCONT)
            raise BenchError("worker did not answer %s %d in %d s" % (mode, n, timeout))
        words = self.proc.stdout.readline().split()
        if len(words) != 3 + k or "error" in words:
            raise BenchError("worker: %s %d %d failed: %r" % (mode, n, k, words[:8]))
        out = []
        for w in words[3:]:
            ns, _, csw = w.partition("/")
            out.append((float(ns), int(csw)))
        return out

    def clock_step(self):
        """Smallest step of the worker's CLOCK_MONOTONIC, in ns."""
        self.proc.stdin.write("clockres\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline().split()[1])

    def run(self, mode, n, k=1):
        """Estimated ns per call (see estimate())."""
        return estimate(self.chunks(mode, n, k))[0]

    def close(self):
        try:
            os.kill(self.pid, signal.SIGCONT)
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------
# Configurations: attach / detach, hot-path program, what was counted
# --------------------------------------------------------------------------

def manual_bpf(bcc):
    class Manual(bcc.BPF):
        def _trace_autoload(self):   # attach explicitly, per measurement
            pass
    return Manual


class Config:
    """One thing to measure.  Subclasses attach and detach it."""
    role = "none"          # none | ref | wd
    backend = None         # attach-point family, for picking the reference
    hook = "-"
    note = ""

    def __init__(self, name, label):
        self.name, self.label = name, label

    def attach(self):
        pass

    def detach(self):
        pass

    def hot_prog(self):
        """(prog_id, fd) of the program that runs on each read, or None."""
        return None

    def counted(self, tgid):
        """Calls this configuration has counted for tgid (None: n/a)."""
        return None

    def close(self):
        pass


def _prog_of(bpf, fn):
    fd = bpf.funcs[fn.encode()].fd
    return int(fdinfo(fd)["prog_id"]), fd


class RefConfig(Config):
    role = "ref"

    def __init__(self, name, label, module, fn, points, backend, hook,
                 counts=True):
        super().__init__(name, label)
        self.module, self.fn, self.points = module, fn, points
        self.backend, self.hook, self.counts = backend, hook, counts

    def attach(self):
        b, fn = self.module, self.fn.encode()
        for kind, what in self.points:
            if kind == "tracepoint":
                b.attach_tracepoint(tp=what.encode(), fn_name=fn)
            elif kind == "raw":
                b.attach_raw_tracepoint(tp=what.encode(), fn_name=fn)
            elif kind == "kprobe":
                b.attach_kprobe(event=what.encode(), fn_name=fn)
            elif kind == "lsm":
                b.attach_lsm(fn_name=fn)

    def detach(self):
        b = self.module
        for kind, what in self.points:
            if kind == "tracepoint":
                b.detach_tracepoint(tp=what.encode())
            elif kind == "raw":
                b.detach_raw_tracepoint(tp=what.encode())
            elif kind == "kprobe":
                b.detach_kprobe(event=what.encode())
            elif kind == "lsm":
                b.detach_lsm(fn_name=self.fn.encode())

    def hot_prog(self):
        return _prog_of(self.module, self.fn)

    def counted(self, tgid):
        if not self.counts:
            return None
        t = self.module["ref_counts"]
        v = t.get(t.Key(tgid))
        return v.value if v is not None else 0


class WdConfig(Config):
    """The watchdog's own probe, built and driven through ethoswd.probe."""
    role = "wd"

    def __init__(self, name, label, bcc, feats, backend, action, targets,
                 map_size=DEFS["WD_MAX_PIDS"], fill=0, policy=None):
        super().__init__(name, label)
        from ethoswd.probe import Probe, cflags
        self.backend, self.action, self.targets = backend, action, list(targets)
        offsets = feats.offsets(backend, policy)
        flags = cflags(backend, action, os.getpid(), self.targets, [], [],
                       map_size, offsets, policy)
        self.probe = Probe(bcc, flags)
        self.probe.configure(SAFE_MAX_CALLS, WINDOW_MS, self.targets,
                             policy=policy)
        self.compile_s = self.probe.compile_s
        self.map_size, self.fill = map_size, fill
        if fill:
            fill_state(self.probe, fill)
        self.hook = {"tracepoint": "syscalls:sys_enter_read*",
                     "kprobe": "kprobe __x64_sys_read*",
                     "lsm": "lsm file_permission"}[backend]

    def attach(self):
        self.probe.attach(self.backend)

    def detach(self):
        self.probe.detach()

    def hot_prog(self):
        return _prog_of(self.probe.bpf, WD_HOT_FN[self.backend])

    def counted(self, tgid):
        if self.probe.key != "process":
            v = self.probe.shares().get(tgid)
            return (v.allowed + v.limited) if v is not None else 0
        t = self.probe.bpf["wd_state"]
        v = t.get(t.Key(tgid))      # one lookup: entries() would copy the map
        return (v.allowed + v.limited) if v is not None else 0

    def map_full(self):
        return self.probe.health()[DEFS["WD_H_MAP_FULL"]]

    def memlock(self):
        """bytes_memlock of wd_state, and of all the probe's maps."""
        total, state = 0, 0
        for name in ("wd_config", "wd_state", "wd_health", "wd_events",
                     "wd_targets", "wd_comm_in", "wd_comm_out"):
            fd = self.probe.map_fd(name)
            if fd is not None:
                m = map_memlock(fd)
                total += m
                if name == "wd_state":
                    state = m
        return state, total

    def close(self):
        self.probe.close()


def fill_state(probe, count):
    """Write `count` fake processes into wd_state (keys no real PID can have)."""
    t = probe.bpf["wd_state"]
    keys = (t.Key * count)()
    vals = (t.Leaf * count)()
    now_ms = (time.monotonic_ns() // 1000000) & 0xFFFFFFFF
    for i in range(count):
        keys[i].id = FAKE_TGID_BASE + i
        vals[i].window = now_ms << 32
        vals[i].comm = b"fake"
    try:
        t.items_update_batch(keys, vals)
    except Exception:   # kernels without batch ops: one at a time
        for i in range(count):
            t[keys[i]] = vals[i]


# --------------------------------------------------------------------------
# Building the list of configurations for this kernel
# --------------------------------------------------------------------------

def build_configs(bcc, feats, worker_pid, other_pid):
    available = [b for b in ("tracepoint", "kprobe", "lsm")
                 if not feats.backend_problem(b)]
    skipped = {b: feats.backend_problem(b) for b in ("tracepoint", "kprobe", "lsm")
               if feats.backend_problem(b)}
    if not available:
        raise BenchError("no watchdog backend works here: %s" % skipped)
    primary, primary_act, _ = features.choose(feats, "auto", "auto")

    ref_flags = []
    if "kprobe" in available:
        ref_flags.append("-DREF_KPROBE")
    if "lsm" in available:
        ref_flags.append("-DREF_LSM")
    t0 = time.monotonic()
    ref_mod = manual_bpf(bcc)(src_file=REF_SOURCE.encode(), cflags=ref_flags)
    ref_compile = time.monotonic() - t0
    tps = [("tracepoint", "syscalls:sys_enter_" + s) for s in features.READ_SYSCALLS]

    tp_hook = "syscalls:sys_enter_read*"
    configs = [Config("none", "no BPF program")]
    configs.append(RefConfig("ref-empty", "empty program, syscall tracepoints",
                             ref_mod, "ref_empty", tps, "tracepoint", tp_hook,
                             counts=False))
    configs.append(RefConfig("ref-tp", "reference counter, syscall tracepoints",
                             ref_mod, "ref_tp", tps, "tracepoint", tp_hook))
    configs.append(RefConfig("ref-rawtp", "reference counter, raw sys_enter",
                             ref_mod, "ref_rawtp", [("raw", "sys_enter")],
                             "rawtp", "raw_tracepoint sys_enter"))
    if "kprobe" in available:
        kp = [("kprobe", ref_mod.get_syscall_fnname(s.encode()).decode())
              for s in features.READ_SYSCALLS]
        configs.append(RefConfig("ref-kprobe", "reference counter, kprobes",
                                 ref_mod, "ref_kprobe", kp, "kprobe",
                                 "kprobe __x64_sys_read*"))
    if "lsm" in available:
        configs.append(RefConfig("ref-lsm", "reference counter, LSM file_permission",
                                 ref_mod, "lsm__file_permission",
                                 [("lsm", "file_permission")], "lsm",
                                 "lsm file_permission"))

    compile_s = {"ref_probe.c": ref_compile}
    # "kill" is left out: under the limit its path is throttle's (the two
    # differ only in the signal sent at call max_calls + 1).
    for b in available:
        acts = ["monitor"] + [a for a in ("deny", "throttle")
                              if not feats.action_problem(b, a)]
        for act in acts:
            for scope in (("target", "all") if act == "monitor" else ("target",)):
                name = "wd-%s-%s-%s" % (b, act, scope)
                label = "watchdog %s %s, %s" % (
                    b, act, "worker only (--pid)" if scope == "target" else "system-wide")
                log("compiling %s" % name)
                c = WdConfig(name, label, bcc, feats, b, act,
                             [worker_pid] if scope == "target" else [])
                compile_s[name] = c.compile_s
                configs.append(c)
    # The worker as a bystander: enforcing on another process only.
    name = "wd-%s-%s-other" % (primary, primary_act)
    log("compiling %s" % name)
    configs.append(WdConfig(name, "watchdog %s %s on another process; the worker "
                            "is not a target" % (primary, primary_act), bcc, feats,
                            primary, primary_act, [other_pid]))
    # Scaling and a full map, on the backend and action `auto` would pick.
    for n in SCALE_SIZES[1:]:
        name = "wd-%s-%s-n%d" % (primary, primary_act, n)
        log("compiling %s and writing %d fake entries" % (name, n - 1))
        configs.append(WdConfig(name, "watchdog, %d processes tracked" % n, bcc,
                                feats, primary, primary_act, [worker_pid],
                                fill=n - 1))
    # A full map: system-wide (with targets, a process without an entry is
    # simply not a target) and monitor, the only action allowed system-wide.
    name = "wd-%s-monitor-all-mapfull" % primary
    log("compiling %s (--map-size %d, filled)" % (name, FULL_MAP_SIZE))
    configs.append(WdConfig(name, "watchdog monitor system-wide, wd_state full "
                            "(--map-size %d)" % FULL_MAP_SIZE, bcc, feats, primary,
                            "monitor", [], map_size=FULL_MAP_SIZE,
                            fill=FULL_MAP_SIZE))
    return configs, available, skipped, (primary, primary_act), ref_mod, compile_s


# --------------------------------------------------------------------------
# Phase 1: ns per call, interleaved rounds
# --------------------------------------------------------------------------

def wait_quiet(budget, max_wait=20.0):
    """Wait (within the remaining budget) until no foreign syscall hooks."""
    hooks = foreign_syscall_hooks()
    t0 = time.monotonic()
    while hooks and time.monotonic() - t0 < min(max_wait, budget[0]):
        time.sleep(0.5)
        hooks = foreign_syscall_hooks()
    budget[0] -= time.monotonic() - t0
    return hooks


def warm_n(p, n):
    """Calls for a ~1 ms warm-up chunk (chunks of n calls last chunk_s)."""
    return max(500, int(n * 0.001 / p["chunk_s"]))


def calibrate(worker, mode, step):
    """A first ns/call estimate from chunks lasting at least 20 clock steps."""
    n = 5000
    while True:
        ns = worker.run(mode, n, 5)
        if ns > 0 and n * ns >= 20 * step:
            return ns
        n *= 4


def measure_calls(configs, worker, p, n_read, n_getpid, rng):
    res = {c.name: {"read": [], "getpid": [], "counted": [], "map_full": [],
                    "clean": [], "dropped": 0, "foreign": []} for c in configs}
    budget = [60.0]     # seconds we are willing to wait for foreign hooks
    hooks = foreign_syscall_hooks()
    for r in range(p["rounds"]):
        order = list(configs)
        rng.shuffle(order)
        log("round %d/%d" % (r + 1, p["rounds"]))
        for c in order:
            # The check after the previous measurement is this one's "before".
            before_hooks = wait_quiet(budget) if hooks else []
            c.attach()
            try:
                worker.chunks("read", warm_n(p, n_read), 2)     # warm-up
                base = c.counted(worker.pid)
                mf0 = c.map_full() if hasattr(c, "map_full") else None
                reads = estimate(worker.chunks("read", n_read, p["chunks"]))
                made = n_read * p["chunks"]
                got = c.counted(worker.pid)
                mf = c.map_full() - mf0 if mf0 is not None else None
                pids = estimate(worker.chunks("getpid", n_getpid, p["chunks"]))
            finally:
                c.detach()
            hooks = foreign_syscall_hooks()
            seen = sorted(set(before_hooks) | set(hooks))
            rec = res[c.name]
            if seen:
                rec["dropped"] += 1
                rec["foreign"] = sorted(set(rec["foreign"]) | set(seen))
                continue
            rec["read"].append(reads[0])
            rec["getpid"].append(pids[0])
            rec["clean"].append(min(reads[1], pids[1]))
            if base is not None:
                # The serve loop's own stdin reads add a few calls.
                rec["counted"].append((got - base) / made)
            if mf is not None:
                rec["map_full"].append(mf / made)
    return res


# --------------------------------------------------------------------------
# Phase 2: in-kernel cost per event (kernel.bpf_stats_enabled=1)
# --------------------------------------------------------------------------

def measure_stats(configs, worker, p, n_read, rng):
    res = {c.name: {"ns_per_event": [], "events": [], "worker_share": []}
           for c in configs if c.role != "none"}
    old = read_sysctl(STATS_SYSCTL)
    write_sysctl(STATS_SYSCTL, "1")
    check = None
    try:
        for r in range(p["stat_rounds"]):
            order = [c for c in configs if c.role != "none"]
            rng.shuffle(order)
            log("bpf_stats round %d/%d" % (r + 1, p["stat_rounds"]))
            for c in order:
                c.attach()
                try:
                    worker.chunks("read", warm_n(p, n_read), 2)
                    pid, fd = c.hot_prog()
                    t0, n0 = prog_stats(fd)
                    made = n_read * p["chunks"]
                    worker.chunks("read", n_read, p["chunks"])
                    t1, n1 = prog_stats(fd)
                finally:
                    c.detach()
                if check is None:
                    # Detached, so the counters hold still: bpftool must agree.
                    check = {"config": c.name, "fdinfo": prog_stats(fd),
                             "bpftool": bpftool_prog_stats(pid)}
                if n1 > n0:
                    rec = res[c.name]
                    rec["ns_per_event"].append((t1 - t0) / (n1 - n0))
                    rec["events"].append(n1 - n0)
                    rec["worker_share"].append(min(1.0, made / (n1 - n0)))
    finally:
        write_sysctl(STATS_SYSCTL, old)
    if check and check["bpftool"] is not None:
        check["agree"] = tuple(check["bpftool"]) == tuple(check["fdinfo"])
    res["_bpftool_check"] = check
    return res, old


# --------------------------------------------------------------------------
# Phase 3: start-up of the real front end, and the map-full warning
# --------------------------------------------------------------------------

def run_watchdog(args, cmd, timeout=120, on_start=None):
    """Run watchdog.py --json (with `-- cmd` if given); on_start() is called
    at its "start" record.  Returns (wall to 'start' s, records, rc, err)."""
    argv = [PYTHON, WATCHDOG, "--json"] + args + (["--"] + cmd if cmd else [])
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    records, wall = [], None
    deadline = t0 + timeout
    for line in proc.stdout:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        records.append(rec)
        if rec.get("event") == "start" and wall is None:
            wall = time.monotonic() - t0
            if on_start:
                on_start()
        if time.monotonic() > deadline:
            break
    try:
        err = proc.communicate(timeout=max(1, deadline - time.monotonic()))[1]
    except subprocess.TimeoutExpired:
        proc.terminate()
        err = proc.communicate()[1]
    return wall, records, proc.returncode, err


def measure_startup(p):
    runs = []
    for i in range(p["startup_runs"]):
        wall, recs, rc, err = run_watchdog(
            ["--max-calls", str(SAFE_MAX_CALLS), "--window-ms", str(WINDOW_MS)],
            [WORKER_BIN, "read", "1000"])
        start = next((r for r in recs if r.get("event") == "start"), None)
        if wall is None or start is None:
            raise BenchError("watchdog did not start (rc %s): %s" % (rc, err.strip()[-500:]))
        s = dict(start["startup"])
        s["wall"] = wall
        s["interpreter"] = wall - s["total"]
        s["backend"], s["action"] = start["backend"], start["action"]
        runs.append(s)
        log("start-up run %d: %.3f s (%s/%s)" % (i + 1, wall, s["backend"], s["action"]))
    return runs


MAPFULL_READS = 20000


def _health_outcome(recs, rc, err, counter):
    warns = [r for r in recs if r.get("event") == "warning"
             and r.get("counter") == counter]
    summ = next((r for r in recs if r.get("event") == "summary"), {})
    return {"rc": rc, "counter": counter, "warnings": len(warns),
            "first_warning": warns[0]["message"] if warns else None,
            "reported": (summ.get("health") or {}).get(counter, 0),
            "stderr_tail": err.strip()[-300:]}


def map_full_cli():
    """The front end with --map-size 1: what it cannot track must be reported.

    System-wide (monitor): once one process holds the only entry, every
    other process's calls are untracked and counted as map_full.  With a
    command (enforcing, under the limit): the command holds the entry, so
    its two children cannot get one; they are counted as targets_full."""
    out = {"reads_per_child": MAPFULL_READS}

    def two_readers():
        for _ in range(2):
            subprocess.run([WORKER_BIN, "read", str(MAPFULL_READS)],
                           stdout=subprocess.DEVNULL)
    _, recs, rc, err = run_watchdog(
        ["--action", "monitor", "--map-size", "1", "--interval", "0.2",
         "--duration", "1.5"], None, on_start=two_readers)
    out["system_wide"] = _health_outcome(recs, rc, err, "map_full")
    script = "%s read %d & %s read %d; wait" % (WORKER_BIN, MAPFULL_READS,
                                                WORKER_BIN, MAPFULL_READS)
    _, recs, rc, err = run_watchdog(
        ["--max-calls", str(SAFE_MAX_CALLS), "--window-ms", str(WINDOW_MS),
         "--map-size", "1", "--interval", "0.2"], ["/bin/sh", "-c", script])
    out["targeted"] = _health_outcome(recs, rc, err, "targets_full")
    return out


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def md_table(headers, rows, align=None):
    rows = [[str(x) for x in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    align = align or ["l"] + ["r"] * (len(headers) - 1)

    def fmt(cells):
        return "| " + " | ".join(c.rjust(w) if a == "r" else c.ljust(w)
                                 for c, w, a in zip(cells, widths, align)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2))
                         for w, a in zip(widths, align)) + "|"
    return "\n".join([fmt(headers), sep] + [fmt(r) for r in rows])


def f1(x):
    return "-" if x is None or x != x else "%.1f" % x


def f2(x):
    return "-" if x is None or x != x else "%.2f" % x


def pct(x):
    return "-" if x is None or x != x else "%+.1f%%" % (100 * x)


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "**MISSED**")


def analyse(configs, calls, stats, startup, emulated):
    """Medians, ratios and target verdicts from the raw samples."""
    med = {n: {k: median(calls[n][k]) for k in ("read", "getpid")} for n in calls}
    base_r, base_g = med["none"]["read"], med["none"]["getpid"]
    out = {"configs": {}}
    for c in configs:
        m = med[c.name]
        row = {"label": c.label, "hook": c.hook, "role": c.role,
               "read_ns": m["read"], "getpid_ns": m["getpid"],
               "read_x": m["read"] / base_r, "getpid_slowdown": m["getpid"] / base_g - 1,
               "read_added": m["read"] - base_r, "getpid_added": m["getpid"] - base_g,
               "read_min": min(calls[c.name]["read"], default=None),
               "read_max": max(calls[c.name]["read"], default=None),
               "samples": len(calls[c.name]["read"]),
               "dropped": calls[c.name]["dropped"],
               "counted": median(calls[c.name]["counted"]) if calls[c.name]["counted"] else None,
               "map_full_per_call": (median(calls[c.name]["map_full"])
                                     if calls[c.name]["map_full"] else None)}
        ref = REF_FOR_BACKEND.get(c.backend) if c.role == "wd" else None
        if ref in med:
            ref_added = med[ref]["read"] - base_r
            row["ref"] = ref
            row["added_vs_ref"] = row["read_added"] / ref_added if ref_added > 0 else None
        if c.name in stats and stats[c.name].get("ns_per_event"):
            s = stats[c.name]
            row["stats_ns"] = median(s["ns_per_event"])
            row["stats_events"] = int(median(s["events"]))
            row["stats_worker_share"] = median(s["worker_share"])
        out["configs"][c.name] = row
    for row in out["configs"].values():
        ref = row.get("ref")
        if ref and "stats_ns" in row and "stats_ns" in out["configs"][ref]:
            row["stats_vs_ref"] = row["stats_ns"] / out["configs"][ref]["stats_ns"]
    # Targets.
    rows = out["configs"]
    t = []
    for name, row in rows.items():
        if row["role"] != "wd" or re.search(r"-n\d+$|-mapfull$|-other$", name):
            continue
        a = row.get("added_vs_ref")
        t.append(("read: added cost <= %.1fx the reference's" % TARGETS["added_vs_ref"],
                  name, f2(a) + "x" if a is not None else "-",
                  None if a is None else a <= TARGETS["added_vs_ref"]))
    for name, row in rows.items():
        if row["role"] != "wd" or re.search(r"-n\d+$|-mapfull$|-other$", name):
            continue
        a = row.get("stats_vs_ref")
        t.append(("bpf_stats ns/event <= %.1fx the reference's" % TARGETS["stats_vs_ref"],
                  name, f2(a) + "x" if a is not None else "-",
                  None if a is None else a <= TARGETS["stats_vs_ref"]))
    for name, row in rows.items():
        if row["role"] != "wd" or re.search(r"-n\d+$|-mapfull$", name):
            continue
        s = row["getpid_slowdown"]
        t.append(("getpid slowed <= %d%%" % (100 * TARGETS["getpid_slowdown"]),
                  name, pct(s), s <= TARGETS["getpid_slowdown"]))
    if startup:
        w = median([s["wall"] for s in startup])
        # The start-up target is for real hardware; an emulated CPU compiles
        # 15-20x slower, so there it is shown without a verdict.
        t.append(("start-up (exec to enforcing) <= %.1f s%s" % (
                      TARGETS["startup_s"], " (host target; emulated here)" if emulated else ""),
                  "watchdog.py (%s/%s)" % (startup[0]["backend"], startup[0]["action"]),
                  "%.3f s" % w, None if emulated else w <= TARGETS["startup_s"]))
    out["targets"] = t
    return out


def render(info, params, configs, an, stats_old, startup, mapfull_cli,
           compile_s, available, skipped, primary, calls, stats_check):
    rows = an["configs"]
    L = []
    L.append("# Ethos Resource Watchdog - benchmark results")
    L.append("")
    L.append("Machine: %d CPU (%s), kernel %s %s, %s, clocksource %s%s; BCC %s, "
             "Python %s; %s; load average at start %s." % (
                 info["nproc"], info["cpu_model"], info["kernel"], info["arch"],
                 info["virt"], info["clocksource"],
                 (", VM kernel '%s'" % info["vm_kernel"]) if info["vm_kernel"] else "",
                 info["bcc"], info["python"], info["date"], info["loadavg_start"]))
    L.append("Run: %s mode, %d rounds x %d chunks of %d reads / %d getpids per "
             "configuration (median of the undisturbed chunks, then median of "
             "rounds; %.0f%% of chunks ran undisturbed), worker on CPU %s; "
             "backends here: %s%s; scaling/map-full on %s/%s." % (
                 "QUICK" if params["quick"] else "full", params["rounds"],
                 params["chunks"], params["n_read"], params["n_getpid"],
                 100 * median([x for n in calls for x in calls[n]["clean"]]),
                 params["cpu"], ", ".join(available),
                 "".join("; %s unavailable (%s)" % kv for kv in skipped.items()),
                 primary[0], primary[1]))
    if is_emulated(info):
        L.append("")
        L.append("**Emulated CPU (QEMU TCG): compare ratios only; absolute ns are not "
                 "those of real hardware, and helper calls and clock reads are "
                 "disproportionately expensive under emulation.**")
    if params.get("clock_step_ns", 0) > 1000:
        L.append("")
        L.append("CLOCK_MONOTONIC advances in steps of %.1f ms here (jiffies clocksource), "
                 "so chunks last %.0f ms." % (params["clock_step_ns"] / 1e6,
                                              params["chunk_s"] * 1e3))
    dropped = {n: (r["dropped"], calls[n]["foreign"]) for n, r in rows.items() if r["dropped"]}
    if dropped:
        L.append("")
        L.append("Dropped samples (another process had BPF on syscall tracepoints): " +
                 "; ".join("%s %d" % (n, d[0]) for n, d in dropped.items()) +
                 ". Seen: " + ", ".join(sorted({h for d in dropped.values() for h in d[1]})))
    base = rows["none"]

    L.append("")
    L.append("## 1. read(): 1 byte from /dev/zero, ns per call")
    L.append("")
    hdr = ["configuration", "attach point", "ns/call", "min-max over rounds",
           "x no-BPF", "added ns", "added / ref added", "counted/call"]
    tr = []
    for c in configs:
        r = rows[c.name]
        if re.search(r"-n\d+$|-mapfull$", c.name):
            continue
        tr.append([c.name, r["hook"], f1(r["read_ns"]),
                   "%s-%s" % (f1(r["read_min"]), f1(r["read_max"])),
                   f2(r["read_x"]), f1(r["read_added"]) if c.role != "none" else "-",
                   (f2(r["added_vs_ref"]) + " (vs %s)" % r["ref"])
                   if r.get("added_vs_ref") is not None else "-",
                   f2(r["counted"]) if r["counted"] is not None else "-"])
    L.append(md_table(hdr, tr, ["l", "l", "r", "r", "r", "r", "r", "r"]))
    L.append("")
    L.append("counted/call: calls the probe counted for the worker per timed read "
             "(1.00 = every read seen; the serve loop's own reads add a little).")

    L.append("")
    L.append("## 2. getpid(): a syscall the watchdog does not target")
    L.append("")
    tr = []
    for c in configs:
        r = rows[c.name]
        if re.search(r"-n\d+$|-mapfull$", c.name):
            continue
        ref = rows.get(r.get("ref") or "", {})
        ratio = (r["getpid_added"] / ref["getpid_added"]
                 if ref and ref["getpid_added"] > 0 else None)
        tr.append([c.name, f1(r["getpid_ns"]), f2(r["getpid_ns"] / base["getpid_ns"]),
                   pct(r["getpid_slowdown"]) if c.role != "none" else "-",
                   f1(r["getpid_added"]) if c.role != "none" else "-",
                   (f2(ratio) + " (vs %s)" % r["ref"]) if ratio is not None else "-"])
    L.append(md_table(["configuration", "ns/call", "x no-BPF", "slowdown", "added ns",
                       "added / ref added"], tr))
    L.append("")
    L.append("Enabling any syscalls:* (or raw_syscalls) tracepoint sets "
             "SYSCALL_WORK_SYSCALL_TRACEPOINT on every task, so every syscall of every "
             "process takes the syscall-tracing slow path while it is attached; "
             "`ref-empty` (an empty program on the read tracepoints) isolates that cost. "
             "The raw sys_enter probe also runs a BPF program (and a syscall-number test) "
             "on every syscall.")

    L.append("")
    L.append("## 3. In-kernel cost per event (kernel.bpf_stats_enabled=1)")
    L.append("")
    tr = []
    for c in configs:
        r = rows.get(c.name)
        if c.role == "none" or r is None or "stats_ns" not in r:
            continue
        empty = rows.get("ref-empty", {}).get("stats_ns")
        tr.append([c.name, f1(r["stats_ns"]),
                   f1(r["stats_ns"] - empty) if empty and c.name != "ref-empty" else "-",
                   ((f2(r["stats_vs_ref"]) + " (vs %s)" % r["ref"])
                    if r.get("stats_vs_ref") else "-"),
                   r["stats_events"], "%.0f%%" % (100 * r["stats_worker_share"])])
    L.append(md_table(["configuration", "ns/event", "minus ref-empty", "x reference",
                       "events per sample", "worker's share"], tr))
    L.append("")
    L.append("run_time_ns / run_cnt of the program on the read hook (/proc/self/fdinfo of "
             "the program; %s), "
             "over %d reads by the worker per sample; other processes' events are "
             "included (worker's share column). ref-empty is the floor: program dispatch "
             "plus the stats' own clock reads. kernel.bpf_stats_enabled was %s before "
             "and was restored." % (bpftool_note(stats_check),
                                    params["n_read"] * params["chunks"], stats_old))

    for what, err in an.get("front_end_errors", {}).items():
        L.append("")
        L.append("**%s through watchdog.py FAILED**: %s" % (what, err))
    if startup:
        L.append("")
        L.append("## 4. Start-up: exec of watchdog.py to enforcing (s)")
        L.append("")
        keys = ["wall", "interpreter", "features", "import", "compile", "load_attach", "total"]
        tr = [["median"] + ["%.3f" % median([s[k] for s in startup]) for k in keys]]
        tr.append(["min"] + ["%.3f" % min(s[k] for s in startup) for k in keys])
        tr.append(["max"] + ["%.3f" % max(s[k] for s in startup) for k in keys])
        L.append(md_table(["", "exec->start record", "python start", "feature probe",
                           "import bcc", "compile", "load+attach", "internal total"], tr))
        L.append("")
        L.append("%d runs of `watchdog.py --json --max-calls %d -- syscall_bench read 1000` "
                 "(auto: %s/%s). exec->start record is measured outside; the rest are the "
                 "start record's own timings; python start = wall - internal total. "
                 "Compile times of the benchmark's probes: %s." % (
                     len(startup), SAFE_MAX_CALLS, startup[0]["backend"], startup[0]["action"],
                     ", ".join("%s %.2f s" % kv for kv in compile_s.items())))

    L.append("")
    L.append("## 5. Scaling: processes tracked in wd_state (%s/%s, worker targeted)" % primary)
    L.append("")
    tr = []
    scale = [c for c in configs if c.name == "wd-%s-%s-target" % primary
             or re.search(r"-n\d+$", c.name)]
    for c in scale:
        r = rows[c.name]
        n = c.fill + 1
        mem_state, mem_total = c.memlock()
        tr.append(["%d" % n, "%d" % c.map_size, f1(r["read_ns"]), f1(r["read_added"]),
                   f2(r.get("added_vs_ref")), f1(r.get("stats_ns")),
                   "%.2f MiB" % (mem_state / 2 ** 20), "%.2f MiB" % (mem_total / 2 ** 20)])
    L.append(md_table(["tracked", "--map-size", "read ns/call", "added ns",
                       "added / ref", "bpf_stats ns/event", "wd_state memlock",
                       "all maps memlock"], tr))
    sized = an.get("sized_memlock", {})
    if sized:
        L.append("")
        L.append("wd_state is a preallocated hash: its memory is set by --map-size, not by "
                 "how many processes are in it. wd_state bytes_memlock by --map-size: " +
                 ", ".join("%d -> %s" % (k, human(v)) for k, v in sorted(sized.items())) + ".")

    L.append("")
    L.append("## 6. A full map is reported, not a silent bypass")
    L.append("")
    full = [c for c in configs if c.name.endswith("-mapfull")][0]
    r = rows[full.name]
    L.append(md_table(["case", "read ns/call", "added ns", "bpf_stats ns/event",
                       "map_full per worker read"],
                      [[full.name, f1(r["read_ns"]), f1(r["read_added"]), f1(r.get("stats_ns")),
                        f2(r["map_full_per_call"])]]))
    L.append("")
    L.append("Untracked reads are never limited; what matters is that they are counted "
             "and reported.")
    L.append("")
    L.append("System-wide monitor with wd_state filled (%d fake entries, --map-size %d): "
             "each read of the worker is untracked and counted in the health counter "
             "map_full (per worker read; other processes' untracked calls push it above "
             "1.00). The failed insert on every call makes an untracked read dearer than "
             "a tracked one." % (FULL_MAP_SIZE, FULL_MAP_SIZE))
    if mapfull_cli:
        L.append("")
        L.append("Through the front end, `--map-size 1`, two children reading %d times "
                 "each:" % mapfull_cli["reads_per_child"])
        L.append("")
        tr = []
        for key, how in (("system_wide", "`--action monitor --duration 1.5` "
                                         "(system-wide), readers started after start-up"),
                         ("targeted", "`-- sh -c 'syscall_bench read & syscall_bench "
                                      "read; wait'` (auto action, limit 4e9)")):
            m = mapfull_cli[key]
            tr.append([how, m["counter"], "%d" % m["warnings"], "%d" % m["reported"],
                       "%d" % (2 * mapfull_cli["reads_per_child"]), "%s" % m["rc"],
                       (m["first_warning"] or "-")[:90]])
        L.append(md_table(["run", "counter", "warning records", "in summary",
                           "children's reads", "exit", "first warning"], tr,
                          ["l", "l", "r", "r", "r", "r", "l"]))

    L.append("")
    L.append("## 7. Targets (reported, not asserted)")
    L.append("")
    L.append(md_table(["target", "configuration", "measured", "verdict"],
                      [[a, b, c, verdict(d)] for a, b, c, d in an["targets"]],
                      ["l", "l", "r", "l"]))
    return "\n".join(L) + "\n"


def bpftool_note(check):
    if not check or check.get("bpftool") is None:
        return "bpftool cross-check not available"
    return "`bpftool -j prog show` gave the same run_time_ns/run_cnt: %s" % (
        "yes" if check.get("agree") else "NO (%s vs %s)" % (check["bpftool"], check["fdinfo"]))


def human(n):
    return "%.2f MiB" % (n / 2 ** 20) if n >= 2 ** 20 else "%.1f KiB" % (n / 1024)


# --------------------------------------------------------------------------

def write_results(out, name, text, data):
    """Print the Markdown report and write it and the raw data to
    OUT/NAME.md and OUT/NAME.json."""
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(data, f, indent=1, default=str)
    log("written %s/%s.md and %s.json" % (out, name, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    default=os.environ.get("QUICK", "") not in ("", "0"),
                    help="fewer rounds, about a minute (also QUICK=1)")
    ap.add_argument("--rounds", type=int, help="override the number of rounds")
    ap.add_argument("--cpu", type=int, default=None,
                    help="CPU for the worker (default: the last; -1: not pinned)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=os.environ.get("BENCH_OUT",
                                                    os.path.join(BENCH_DIR, "results")))
    ap.add_argument("--skip-startup", action="store_true")
    a = ap.parse_args()
    p = dict(QUICK if a.quick else FULL)
    if a.rounds:
        p["rounds"] = a.rounds
    p["quick"] = a.quick

    environment.require_root()
    if not os.path.exists(WORKER_BIN):
        raise BenchError("%s is missing: run make -C bench" % WORKER_BIN)
    environment.mount_pseudo_filesystems()
    bcc = environment.import_bcc()
    environment.require_headers()
    t_start = time.monotonic()
    info = machine_info()
    feats = features.Features()

    cpus = sorted(os.sched_getaffinity(0))
    cpu = a.cpu if a.cpu is not None else (cpus[-1] if len(cpus) > 1 else None)
    if cpu is not None and cpu < 0:
        cpu = None
    p["cpu"] = cpu if cpu is not None else "any"
    seed = a.seed if a.seed is not None else int(time.time())
    p["seed"] = seed
    rng = random.Random(seed)

    worker = Worker(cpu)
    # A process that only sleeps: the target of the "-other" configuration.
    other = subprocess.Popen([WORKER_BIN, "wait"])
    if cpu is not None:
        # Keep this script (and bpftool) off the worker's CPU while measuring.
        os.sched_setaffinity(0, set(cpus) - {cpu})
    configs = []
    stats_old = None
    try:
        # A chunk must last ~chunk_s and at least 50 clock steps (some VM
        # kernels run on the jiffies clocksource: 4 ms steps); with a coarse
        # clock, fewer but longer chunks keep the time per measurement.
        step = worker.clock_step()
        p["clock_step_ns"] = step
        budget = p["chunks"] * p["chunk_s"]
        p["chunk_s"] = max(p["chunk_s"], 50 * step / 1e9)
        p["chunks"] = max(5, min(p["chunks"], int(round(budget / p["chunk_s"]))))
        ns_r = calibrate(worker, "read", step)
        ns_g = calibrate(worker, "getpid", step)
        p["n_read"] = int(min(5000000, max(500, p["chunk_s"] * 1e9 / ns_r)))
        p["n_getpid"] = int(min(5000000, max(500, p["chunk_s"] * 1e9 / ns_g)))
        log("machine: %d CPU %s, kernel %s; clock step %.0f ns; read %.0f ns, "
            "getpid %.0f ns; %d chunks of %d / %d calls" % (
                info["nproc"], info["cpu_model"], info["kernel"], step, ns_r,
                ns_g, p["chunks"], p["n_read"], p["n_getpid"]))
        configs, available, skipped, primary, ref_mod, compile_s = build_configs(
            bcc, feats, worker.pid, other.pid)
        calls = measure_calls(configs, worker, p, p["n_read"], p["n_getpid"], rng)
        stats, stats_old = measure_stats(configs, worker, p, p["n_read"], rng)
        state = next(c for c in configs if c.role == "wd").probe.bpf["wd_state"]
        sized = {n: hash_memlock(ct.sizeof(state.Key), ct.sizeof(state.Leaf), n)
                 for n in SCALE_SIZES + (DEFS["WD_MAX_PIDS"],)}
        os.sched_setaffinity(0, set(cpus))     # start-up: the whole machine
        # The front end is measured as it is; if it fails, say so in the
        # results instead of losing the measurements above.
        front_errors = {}
        startup, mf_cli = [], None
        try:
            startup = [] if a.skip_startup else measure_startup(p)
        except BenchError as e:
            front_errors["start-up"] = str(e)
            log("error: %s" % e)
        try:
            log("map-full check through the front end")
            mf_cli = map_full_cli()
        except (BenchError, OSError, ValueError) as e:
            front_errors["map-full check"] = str(e)
            log("error: %s" % e)
    finally:
        worker.close()
        other.kill()
        other.wait()
        if stats_old is not None and read_sysctl(STATS_SYSCTL) != stats_old:
            write_sysctl(STATS_SYSCTL, stats_old)
    an = analyse(configs, calls, stats, startup, is_emulated(info))
    an["sized_memlock"] = sized
    an["front_end_errors"] = front_errors
    text = render(info, p, configs, an, stats_old, startup, mf_cli, compile_s,
                  available, skipped, primary, calls, stats.get("_bpftool_check"))
    for c in configs:
        c.close()
    with open("/proc/loadavg") as f:
        info["loadavg_end"] = f.read().split()[:3]
    info["bench_seconds"] = round(time.monotonic() - t_start, 1)
    text += "\nBenchmark wall time %.0f s.\n" % info["bench_seconds"]
    write_results(a.out, "latest", text,
                  {"machine": info, "params": p, "compile_s": compile_s,
                   "raw_calls": calls, "raw_stats": stats, "startup": startup,
                   "map_full_cli": mf_cli, "analysis": an})
    # Targets are reported, never asserted; a broken front end is an error.
    return 1 if an["front_end_errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
