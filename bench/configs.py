"""Configurations: one thing to measure, described by its fields, and the
program that is attached for it.

A Config says what it is (kind, backend, action, scope, processes
tracked, map size, policy); its name is made from those fields, and
nothing downstream parses the name.  Loader.load() builds its program:
none, the reference counter of bench/ref_probe.c (RefProbe), or the
watchdog's own probe through ethoswd.probe.Probe (WdProbe), optionally
from a patched source text (breakdown.py's variants).
"""

import ctypes as ct
import os
import time
from dataclasses import dataclass, field

from common import REF_SOURCE, SAFE_MAX_CALLS, WINDOW_MS, BenchError, log
from ethoswd import features
from ethoswd.abi import DEFS
from ethoswd.probe import Probe, cflags, manual_bpf, program_fd
from machine import map_memlock, prog_id

FAKE_TGID_BASE = 0x40000000     # above PID_MAX_LIMIT: never a real process
SCALE_SIZES = (1, 1000, 50000)
FULL_MAP_SIZE = 1000
BACKENDS = ("tracepoint", "kprobe", "lsm")
# The attach points of each family, as the report names them.
HOOKS = {"tracepoint": "syscalls:sys_enter_read*", "rawtp": "raw_tracepoint sys_enter",
         "kprobe": "kprobe __x64_sys_read*", "lsm": "lsm file_permission"}
# The hot-path program of each watchdog backend (the one run per read).
WD_HOT_FN = {"tracepoint": "wd_tracepoint", "kprobe": "wd_kprobe",
             "lsm": "lsm__file_permission"}
# ref_probe.c's counter for each attach-point family, and its row name.
REF_FN = {"tracepoint": "ref_tp", "rawtp": "ref_rawtp", "kprobe": "ref_kprobe",
          "lsm": "lsm__file_permission"}
REF_NAME = {"ref_empty": "ref-empty", "ref_tp": "ref-tp", "ref_rawtp": "ref-rawtp",
            "ref_kprobe": "ref-kprobe", "lsm__file_permission": "ref-lsm"}
REF_FOR_BACKEND = {b: REF_NAME[REF_FN[b]] for b in BACKENDS}


@dataclass(eq=False)
class Config:
    """One thing to measure."""
    kind: str                   # none | ref | wd | variant (a patched wd probe)
    label: str
    backend: str = None         # tracepoint | rawtp | kprobe | lsm
    action: str = "monitor"     # wd: monitor | deny | throttle
    scope: str = "all"          # wd: target (the worker) | other (a sleeper) | all
    fill: int = 0               # wd: fake processes written into wd_state
    map_size: int = DEFS["WD_MAX_PIDS"]
    program: str = None         # ref: ref_probe.c's function
    policy: object = None       # wd: an ethoswd Policy (read class, key); None: defaults
    source: str = field(default=None, repr=False)   # variant: the patched probe text
    name: str = None            # default: made from the fields (default_name())
    probe: object = field(default=None, repr=False)  # set by Loader.load()

    def __post_init__(self):
        self.name = self.name or self.default_name()

    def default_name(self):
        if self.kind == "none":
            return "none"
        if self.kind == "ref":
            return REF_NAME[self.program]
        base = "wd-%s-%s" % (self.backend, self.action)
        if self.scaling:
            return "%s-n%d" % (base, self.tracked)
        return "%s-%s%s" % (base, self.scope, "-mapfull" if self.map_full_case else "")

    @property
    def hook(self):
        return HOOKS.get(self.backend, "-") if self.kind != "none" else "-"

    @property
    def tracked(self):
        """Processes in wd_state while measuring (the worker, if targeted)."""
        return self.fill + (self.scope == "target")

    @property
    def map_full_case(self):
        """wd_state filled to --map-size: every call is untracked."""
        return self.kind == "wd" and self.fill >= self.map_size

    @property
    def scaling(self):
        """One of the scaling rows: fake processes besides the worker."""
        return self.kind == "wd" and self.fill > 0 and not self.map_full_case

    @property
    def special(self):
        """Scaling or map-full: reported in their own sections only."""
        return self.scaling or self.map_full_case

    def attach(self):
        if self.probe is not None:
            self.probe.attach(self.backend)

    def detach(self):
        if self.probe is not None:
            self.probe.detach()

    def hot_prog(self):
        """(prog_id, fd) of the program that runs on each read, or None."""
        if self.probe is None:
            return None
        fd = self.probe.hot_fd()
        return prog_id(fd), fd

    def counted(self, tgid):
        """Calls this configuration has counted for tgid (None: n/a)."""
        return self.probe.counted(tgid) if self.probe is not None else None

    def map_full(self):
        """The probe's map_full health counter (None: not a watchdog)."""
        return self.probe.map_full() if isinstance(self.probe, WdProbe) else None

    def close(self):
        if self.probe is not None:
            self.probe.close()


class RefProbe:
    """One function of the loaded reference module, attached to the hooks
    of its family (the same as the watchdog backend it is compared with)."""

    def __init__(self, module, program):
        self.module, self.program = module, program
        self._points = []

    def points(self, backend):
        """[(kind, where)] for the family."""
        m = self.module
        if backend == "tracepoint":
            return [("tracepoint", "syscalls:sys_enter_" + s) for s in features.READ_SYSCALLS]
        if backend == "rawtp":
            return [("raw", "sys_enter")]
        if backend == "kprobe":
            return [("kprobe", m.get_syscall_fnname(s.encode()).decode())
                    for s in features.READ_SYSCALLS]
        return [("lsm", "file_permission")]

    def attach(self, backend):
        m, fn = self.module, self.program.encode()
        for kind, where in self.points(backend):
            if kind == "tracepoint":
                m.attach_tracepoint(tp=where.encode(), fn_name=fn)
            elif kind == "raw":
                m.attach_raw_tracepoint(tp=where.encode(), fn_name=fn)
            elif kind == "kprobe":
                m.attach_kprobe(event=where.encode(), fn_name=fn)
            else:
                m.attach_lsm(fn_name=fn)
            self._points.append((kind, where))

    def detach(self):
        m = self.module
        while self._points:
            kind, where = self._points.pop()
            if kind == "tracepoint":
                m.detach_tracepoint(tp=where.encode())
            elif kind == "raw":
                m.detach_raw_tracepoint(tp=where.encode())
            elif kind == "kprobe":
                m.detach_kprobe(event=where.encode())
            else:
                m.detach_lsm(fn_name=self.program.encode())

    def hot_fd(self):
        if not self._points:
            raise BenchError("%s is not attached" % self.program)
        return program_fd(self.module, self.program, self._points[0][0])

    def counted(self, tgid):
        if self.program == "ref_empty":
            return None
        t = self.module["ref_counts"]
        v = t.get(t.Key(tgid))
        return v.value if v is not None else 0

    def close(self):
        self.detach()       # the module is the Loader's


class WdProbe(Probe):
    """The watchdog's probe, with what the benches read from it."""

    def __init__(self, bcc, flags, backend, text=None):
        super().__init__(bcc, flags, text=text)
        self.backend = backend

    def hot_fd(self):
        return self.prog_fd(WD_HOT_FN[self.backend])

    def counted(self, tgid):
        if self.key != "process":
            v = self.shares().get(tgid)
        else:
            t = self.bpf["wd_state"]
            v = t.get(t.Key(tgid))      # one lookup: entries() would copy the map
        return (v.allowed + v.limited) if v is not None else 0

    def map_full(self):
        return self.health()[DEFS["WD_H_MAP_FULL"]]

    def memlock(self):
        """bytes_memlock of wd_state, and of all the probe's maps."""
        total, state = 0, 0
        for name in ("wd_config", "wd_state", "wd_health", "wd_events",
                     "wd_targets", "wd_comm_in", "wd_comm_out"):
            fd = self.map_fd(name)
            if fd is not None:
                m = map_memlock(fd)
                total += m
                if name == "wd_state":
                    state = m
        return state, total

    def fill_state(self, count):
        """Write `count` fake processes into wd_state (keys no real PID can have)."""
        t = self.bpf["wd_state"]
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

    def state_sizes(self):
        """(key size, value size) of wd_state."""
        t = self.bpf["wd_state"]
        return ct.sizeof(t.Key), ct.sizeof(t.Leaf)


class Loader:
    """Builds each Config's program.  pids: {"target": the worker's PID,
    "other": the sleeper's}; ref_families: the families the reference
    module must have (kprobe and lsm programs need -DREF_KPROBE/-DREF_LSM)."""

    def __init__(self, bcc, feats, pids, ref_families=()):
        self.bcc, self.feats, self.pids = bcc, feats, pids
        self.ref_families = ref_families
        self.ref_module = None
        self.compile_s = {}
        self.loaded = []

    def _ref(self):
        if self.ref_module is None:
            flags = [f for b, f in (("kprobe", "-DREF_KPROBE"), ("lsm", "-DREF_LSM"))
                     if b in self.ref_families]
            t0 = time.monotonic()
            self.ref_module = manual_bpf(self.bcc, src_file=REF_SOURCE.encode(), cflags=flags)
            self.compile_s["ref_probe.c"] = time.monotonic() - t0
        return self.ref_module

    def load(self, c):
        if c.kind == "ref":
            c.probe = RefProbe(self._ref(), c.program)
        elif c.kind in ("wd", "variant"):
            log("compiling %s" % c.name)
            c.probe = self._wd_probe(c)
        self.loaded.append(c)
        return c

    def _wd_probe(self, c):
        targets = [self.pids[c.scope]] if c.scope in self.pids else []
        offsets = self.feats.defines(c.backend, c.policy, c.action)
        flags = cflags(c.backend, c.action, os.getpid(), targets, [], [],
                       c.map_size, offsets, c.policy)
        probe = WdProbe(self.bcc, flags, c.backend, text=c.source)
        try:
            probe.configure(SAFE_MAX_CALLS, WINDOW_MS, targets, policy=c.policy)
            if c.fill:
                probe.fill_state(c.fill)
        except Exception:
            probe.close()
            raise
        self.compile_s[c.name] = probe.compile_s
        return probe

    def close(self):
        """Release every loaded configuration's program, and the reference module."""
        while self.loaded:
            self.loaded.pop().close()
        if self.ref_module is not None:
            self.ref_module.cleanup()
            self.ref_module = None


def ref_config(backend, label="reference counter", name=None):
    """The reference counter on the family of a watchdog backend."""
    return Config("ref", label, backend=backend, program=REF_FN[backend], name=name)


def backends(feats):
    """(backends that work here, {backend: why not} for the others)."""
    skipped = {b: feats.backend_problem(b) for b in BACKENDS if feats.backend_problem(b)}
    return [b for b in BACKENDS if b not in skipped], skipped


def baseline_configs(available):
    """none, the empty program and the reference counter on each family."""
    out = [Config("none", "no BPF program"),
           Config("ref", "empty program, syscall tracepoints", backend="tracepoint",
                  program="ref_empty"),
           ref_config("tracepoint", "reference counter, syscall tracepoints"),
           ref_config("rawtp", "reference counter, raw sys_enter")]
    if "kprobe" in available:
        out.append(ref_config("kprobe", "reference counter, kprobes"))
    if "lsm" in available:
        out.append(ref_config("lsm", "reference counter, LSM file_permission"))
    return out


def watchdog_configs(feats, available):
    """The watchdog on every backend and action that works here: monitor on
    the worker and system-wide, enforcing on the worker only.  "kill" is
    left out: under the limit its path is throttle's (the two differ only
    in the signal sent at call max_calls + 1)."""
    out = []
    for b in available:
        acts = ["monitor"] + [a for a in ("deny", "throttle") if not feats.action_problem(b, a)]
        for act in acts:
            for scope in (("target", "all") if act == "monitor" else ("target",)):
                out.append(Config("wd", "watchdog %s %s, %s" % (
                    b, act, "worker only (--pid)" if scope == "target" else "system-wide"),
                    backend=b, action=act, scope=scope))
    return out


def special_configs(primary):
    """On the backend and action `auto` picks: the worker as a bystander
    (enforcing on another process only), scaling (fake processes tracked
    besides the worker), and a full map -- system-wide (with targets, a
    process without an entry is simply not a target) and monitor, the
    only action allowed system-wide."""
    b, act = primary
    out = [Config("wd", "watchdog %s %s on another process; the worker is not a target"
                  % (b, act), backend=b, action=act, scope="other")]
    for n in SCALE_SIZES[1:]:
        out.append(Config("wd", "watchdog, %d processes tracked" % n, backend=b,
                          action=act, scope="target", fill=n - 1))
    out.append(Config("wd", "watchdog monitor system-wide, wd_state full (--map-size %d)"
                      % FULL_MAP_SIZE, backend=b, action="monitor", scope="all",
                      fill=FULL_MAP_SIZE, map_size=FULL_MAP_SIZE))
    return out


def bench_configs(loader, feats):
    """Every configuration bench.py measures, loaded (loader.close() releases
    them): (configs, available
    backends, {skipped backend: why}, (primary backend, action), compile
    seconds of ref_probe.c and of each main watchdog configuration)."""
    available, skipped = backends(feats)
    if not available:
        raise BenchError("no watchdog backend works here: %s" % skipped)
    primary, primary_act, _ = features.choose(feats, "auto", "auto")
    main = baseline_configs(available) + watchdog_configs(feats, available)
    extra = special_configs((primary, primary_act))
    loader.ref_families = available
    loaded = [loader.load(c) for c in main + extra]
    compile_s = {k: v for k, v in loader.compile_s.items()
                 if k == "ref_probe.c" or k in {c.name for c in main}}
    return loaded, available, skipped, (primary, primary_act), compile_s
