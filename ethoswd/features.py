"""Probe what this kernel can do, and choose the backend and action.

Every feature is tested for real: tiny programs are loaded through
bpf(2) (bpfsys), tracefs / securityfs / BTF are read.  A Features object
holds yes/no plus a reason per feature; choose() turns the user's
--backend/--action into a (backend, action, reason) or a SetupError that
names the missing kernel feature.
"""

import os
import platform

from . import bpfsys as B
from .errors import SetupError

BACKENDS = ("lsm", "kprobe", "tracepoint")      # auto's order of preference
ACTIONS = ("deny", "throttle", "kill", "monitor")
READ_SYSCALLS = ("read", "pread64", "readv", "preadv", "preadv2")
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
LSM_HOOK = "bpf_lsm_file_permission"


def tracefs_root():
    """The mounted tracefs, or None."""
    for root in TRACEFS:
        if os.path.isdir(os.path.join(root, "events")):
            return root
    return None


class Feature:
    """One probed capability: a name, whether it works, and why not."""

    def __init__(self, name, ok, detail=""):
        self.name, self.ok, self.detail = name, ok, detail

    def __bool__(self):
        return self.ok


def _load(name, *args, **kw):
    ok, msg = B.prog_load(*args, **kw)
    return Feature(name, ok, msg)


def _probe_signal_helper(name, helper):
    """Can a tracepoint program call this signal helper (signal 0: none)?"""
    return _load(name, B.PROG_TRACEPOINT,
                 B.insn(B.MOV64_IMM, 1, imm=0) + B.insn(B.CALL, imm=helper) + B.RET0)


def _probe_tracepoints():
    root = tracefs_root()
    if root is None:
        return Feature("syscall tracepoints", False,
                       "tracefs not mounted (mount -t tracefs tracefs "
                       "/sys/kernel/tracing)")
    missing = [s for s in READ_SYSCALLS if not os.path.isdir(
        os.path.join(root, "events/syscalls/sys_enter_" + s))]
    if missing:
        return Feature("syscall tracepoints", False,
                       "no syscalls:sys_enter_%s (CONFIG_FTRACE_SYSCALLS)"
                       % missing[0])
    for ev in ("sched/sched_process_exit", "task/task_newtask"):
        if not os.path.isdir(os.path.join(root, "events", ev)):
            return Feature("syscall tracepoints", False, "no tracepoint " + ev)
    return Feature("syscall tracepoints", True, root)


def _probe_kprobes():
    if os.path.exists("/sys/bus/event_source/devices/kprobe/type"):
        return Feature("kprobes", True, "perf kprobe PMU")
    root = tracefs_root()
    if root and os.path.exists(os.path.join(root, "kprobe_events")):
        return Feature("kprobes", True, "kprobe_events")
    return Feature("kprobes", False,
                   "kernel built without CONFIG_KPROBES/CONFIG_KPROBE_EVENTS")


def _probe_error_injection():
    path = "/sys/kernel/debug/error_injection/list"
    if not os.path.exists(path):
        return Feature("error injection on read syscalls", False,
                       "no %s (CONFIG_FUNCTION_ERROR_INJECTION off, or "
                       "debugfs not mounted)" % path)
    with open(path) as f:
        listed = {line.split()[0] for line in f if line.strip()}
    missing = [s for s in READ_SYSCALLS if "__x64_sys_" + s not in listed]
    if missing:
        return Feature("error injection on read syscalls", False,
                       "__x64_sys_%s not in %s" % (missing[0], path))
    return Feature("error injection on read syscalls", True, path)


def _probe_override_path():
    """bpf_override_return() changes the saved instruction pointer; an
    ftrace-based or int3 kprobe honours that, but a jump-optimized kprobe
    (CONFIG_OPTPROBES, used when the entry is not an ftrace site) ignores
    it and the call runs anyway.  So the read syscalls must be ftrace sites,
    or kprobe optimization must be off."""
    name = "override takes effect"
    root = tracefs_root()
    funcs = os.path.join(root or "/sys/kernel/tracing", "available_filter_functions")
    if os.path.exists(funcs):
        with open(funcs) as f:
            sites = {line.split()[0] for line in f if line.startswith("__x64_sys_")}
        if all("__x64_sys_" + s in sites for s in READ_SYSCALLS):
            return Feature(name, True, "ftrace-based kprobes on the read syscalls")
    knob = "/proc/sys/debug/kprobes-optimization"
    if not os.path.exists(knob):
        return Feature(name, True, "no jump-optimized kprobes (CONFIG_OPTPROBES off)")
    with open(knob) as f:
        if f.read().strip() == "0":
            return Feature(name, True, "kprobe optimization off (%s = 0)" % knob)
    return Feature(name, False,
                   "read syscalls are not ftrace sites (CONFIG_FUNCTION_TRACER off), "
                   "so their kprobes get jump-optimized and ignore "
                   "bpf_override_return; fix: sysctl debug.kprobes-optimization=0")


def _probe_active_lsm():
    path = "/sys/kernel/security/lsm"
    try:
        with open(path) as f:
            active = f.read().strip()
    except OSError:
        return Feature("BPF-LSM active", False,
                       "cannot read %s (securityfs not mounted?)" % path)
    if "bpf" in active.split(","):
        return Feature("BPF-LSM active", True, active)
    return Feature("BPF-LSM active", False,
                   "'bpf' not in active LSMs (%s); boot with lsm=...,bpf"
                   % active)


def _probe_lsm_load(btf):
    if btf is None:
        return Feature("BPF-LSM program load", False, "no kernel BTF")
    hook = btf.find(LSM_HOOK, B.BTF_KIND_FUNC)
    if hook is None:
        return Feature("BPF-LSM program load", False,
                       "%s not in BTF (CONFIG_BPF_LSM off)" % LSM_HOOK)
    # What the LSM shim needs: the BTF task, its saved registers, exit 0.
    code = (B.insn(B.CALL, imm=B.HELPER_GET_CURRENT_TASK_BTF) +
            B.insn(B.MOV64_REG, 1, 0) +
            B.insn(B.CALL, imm=B.HELPER_TASK_PT_REGS) + B.RET0)
    feat = _load("BPF-LSM program load", B.PROG_LSM, code,
                 attach_type=B.ATTACH_LSM_MAC, attach_btf_id=hook)
    if not feat and feat.detail.startswith("EPERM") and os.geteuid() == 0:
        feat.detail += " as root: the kernel's policy forbids BPF-LSM programs"
    return feat


class Features:
    """The probed capabilities of the running kernel."""

    def __init__(self):
        self.kernel = "%s (%s)" % (platform.release(), platform.machine())
        self.x86_64 = Feature("x86-64", platform.machine() == "x86_64",
                              platform.machine())
        self.bpf = _load("bpf() program load", B.PROG_TRACEPOINT, B.RET0)
        atomic = (B.insn(B.STDW_IMM, 10, off=-8, imm=0) +
                  B.insn(B.MOV64_IMM, 0, imm=0) + B.insn(B.MOV64_IMM, 1, imm=1) +
                  B.insn(B.ATOMIC_DW, 10, 1, off=-8, imm=B.CMPXCHG) + B.RET0)
        self.cmpxchg = _load("BPF atomic cmpxchg", B.PROG_TRACEPOINT, atomic)
        ok, msg = B.map_create(B.MAP_RINGBUF, 0, 0, 4096)
        self.ringbuf = Feature("BPF ring buffer", ok, msg)
        self.tracepoints = _probe_tracepoints()
        # throttle/kill signal the process once per limited window and the
        # calling thread on every over-limit call (probe/limiter.h).
        self.send_signal = _probe_signal_helper("bpf_send_signal",
                                                B.HELPER_SEND_SIGNAL)
        self.send_signal_thread = _probe_signal_helper(
            "bpf_send_signal_thread", B.HELPER_SEND_SIGNAL_THREAD)
        self.kprobes = _probe_kprobes()
        self.override = _load(
            "bpf_override_return", B.PROG_KPROBE,
            B.insn(B.MOV64_IMM, 2, imm=-1) +
            B.insn(B.CALL, imm=B.HELPER_OVERRIDE_RETURN) + B.RET0)
        self.error_injection = _probe_error_injection()
        self.override_path = (_probe_override_path() if self.kprobes else
                              Feature("override takes effect", False, "no kprobes"))
        self.btf = None
        if not os.path.exists("/sys/kernel/btf/vmlinux"):
            self.btf_feature = Feature("kernel BTF", False, "no /sys/kernel/btf/"
                                       "vmlinux (CONFIG_DEBUG_INFO_BTF off)")
        else:
            try:
                self.btf = B.Btf()
                self.btf_feature = Feature("kernel BTF", True, "/sys/kernel/btf/vmlinux")
            except OSError as e:
                self.btf_feature = Feature("kernel BTF", False, str(e))
        self.lsm_active = _probe_active_lsm()
        self.lsm_load = _probe_lsm_load(self.btf)

    def all(self):
        return [self.x86_64, self.bpf, self.cmpxchg, self.ringbuf,
                self.tracepoints, self.send_signal, self.send_signal_thread,
                self.kprobes, self.override, self.error_injection,
                self.override_path, self.btf_feature, self.lsm_active,
                self.lsm_load]

    def _first_missing(self, feats):
        for f in feats:
            if not f:
                return "%s: %s" % (f.name, f.detail)
        return None

    def backend_problem(self, backend):
        """None if the backend works here, else the missing feature."""
        # Every backend needs the limiter's map, atomics, events and the
        # exit tracepoint that removes dead processes.
        common = [self.x86_64, self.bpf, self.cmpxchg, self.ringbuf,
                  self.tracepoints]
        need = {"tracepoint": common,
                "kprobe": common + [self.kprobes, self.override,
                                    self.error_injection, self.override_path],
                "lsm": common + [self.btf_feature, self.lsm_active,
                                 self.lsm_load]}[backend]
        return self._first_missing(need)

    def action_problem(self, backend, action):
        """None if the action works with the backend, else why not."""
        if action == "deny" and backend == "tracepoint":
            return ("deny needs a backend that can fail a call (kprobe or "
                    "lsm); a tracepoint can only count and signal")
        if action in ("throttle", "kill"):
            return self._first_missing([self.send_signal, self.send_signal_thread])
        return None

    def offsets(self):
        """Struct offsets the LSM shim reads, from this kernel's BTF."""
        b = self.btf
        return {"WD_OFF_FILE_F_INODE": b.offset("file", "f_inode"),
                "WD_OFF_FILE_F_PATH_DENTRY": b.offset("file", "f_path.dentry"),
                "WD_OFF_DENTRY_D_INODE": b.offset("dentry", "d_inode"),
                "WD_OFF_TASK_FLAGS": b.offset("task_struct", "flags"),
                "WD_OFF_REGS_ORIG_AX": b.offset("pt_regs", "orig_ax")}


def choose(feats, backend, action):
    """Resolve auto/explicit choices: (backend, action, reason) or SetupError."""
    if backend != "auto":
        problem = feats.backend_problem(backend)
        if problem:
            raise SetupError("backend %s is not available on this kernel: %s"
                             % (backend, problem))
        candidates = [backend]
    else:
        candidates = [b for b in BACKENDS if not feats.backend_problem(b)]
        if not candidates:
            raise SetupError("no backend works on this kernel: tracepoint: %s"
                             % feats.backend_problem("tracepoint"))
    if backend == "auto" and action == "deny":
        candidates = [b for b in candidates if b != "tracepoint"]
        if not candidates:
            raise SetupError(
                "--action deny is not possible on this kernel: lsm: %s; "
                "kprobe: %s" % (feats.backend_problem("lsm"),
                                feats.backend_problem("kprobe")))
    chosen = candidates[0]
    if backend == "auto":
        skipped = ["%s (%s)" % (b, feats.backend_problem(b))
                   for b in BACKENDS[:BACKENDS.index(chosen)]]
        why = ["backend: strongest available" +
               ("; unavailable: " + "; ".join(skipped) if skipped else "")]
    else:
        why = ["backend requested"]
    if action != "auto":
        problem = feats.action_problem(chosen, action)
        if problem:
            raise SetupError("action %s is not available with backend %s: %s"
                             % (action, chosen, problem))
        return chosen, action, "; ".join(why + ["action requested"])
    for act in ACTIONS:
        problem = feats.action_problem(chosen, act)
        if not problem:
            break
        if act != "kill":   # kill is never auto's choice over throttle
            why.append("%s impossible: %s" % (act, problem))
    return chosen, act, "; ".join(why)
