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
from .abi import ROUTES
from .environment import bpf_capable
from .errors import SetupError

BACKENDS = ("lsm", "kprobe", "tracepoint")      # auto's order of preference
ACTIONS = ("deny", "throttle", "kill", "monitor")
# The read family, then the syscalls that move a file's bytes into the
# caller without a read-family call, with the argument index of their
# source fd: both from WD_ROUTES of probe/watchdog_map.h.
READ_SYSCALLS = tuple(name for name, _, copy in ROUTES if not copy)
COPY_SYSCALLS = {name: fd_arg for name, fd_arg, copy in ROUTES if copy}
# LSM backend: syscalls whose source file is checked several times per call;
# an fentry program arms one count per call (watchdog.bpf.c, wd_arm_once).
LSM_ONCE_SYSCALLS = ("sendfile64", "copy_file_range")
# The tracepoint that sees each submitted io_uring request: renamed in 6.4.
URING_TRACEPOINTS = ("io_uring/io_uring_submit_req", "io_uring/io_uring_submit_sqe")
# io_uring's requests that read a file into memory, as the routes name them
# (IORING_OP_*; the probe also counts SPLICE, watchdog.bpf.c wd_uring_reads).
# The last two came later (READV_FIXED 6.15, READ_MULTISHOT 6.7): named only
# where the kernel's enum io_uring_op has them.
URING_READ_OPS = ("READ", "READV", "READ_FIXED", "READV_FIXED", "READ_MULTISHOT")
URING_NEWER_OPS = ("READV_FIXED", "READ_MULTISHOT")
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
LSM_HOOK = "bpf_lsm_file_permission"
# Struct members the probe reads (kernel_read.h), by -D name.
LSM_OFFSETS = {"WD_OFF_FILE_F_INODE": ("file", "f_inode"),
               "WD_OFF_FILE_F_PATH_DENTRY": ("file", "f_path.dentry"),
               "WD_OFF_DENTRY_D_INODE": ("dentry", "d_inode"),
               "WD_OFF_TASK_FLAGS": ("task_struct", "flags"),
               "WD_OFF_REGS_ORIG_AX": ("pt_regs", "orig_ax")}
_FILE_ID_OFFSETS = {"WD_OFF_FILE_F_INODE": ("file", "f_inode"),
                    "WD_OFF_INODE_I_SB": ("inode", "i_sb"),
                    "WD_OFF_INODE_I_INO": ("inode", "i_ino"),
                    "WD_OFF_SB_S_DEV": ("super_block", "s_dev")}
CLASS_OFFSETS = dict(_FILE_ID_OFFSETS,
                     WD_OFF_TASK_FILES=("task_struct", "files"),
                     WD_OFF_FILES_FDT=("files_struct", "fdt"),
                     WD_OFF_FDT_MAX_FDS=("fdtable", "max_fds"),
                     WD_OFF_FDT_FD=("fdtable", "fd"),
                     WD_OFF_SB_S_MAGIC=("super_block", "s_magic"),
                     WD_OFF_REGS_DI=("pt_regs", "di"),
                     WD_OFF_REGS_SI=("pt_regs", "si"))
# With a read class, the io_uring shim finds a request's fd (and whether it
# is a registered-file index) in the request itself: a splice's source in
# its command area (struct io_splice).
URING_CLASS_OFFSETS = {"WD_OFF_IO_KIOCB_FLAGS": ("io_kiocb", "flags"),
                       "WD_OFF_IO_KIOCB_CQE_FD": ("io_kiocb", "cqe.fd"),
                       "WD_OFF_IO_KIOCB_CMD": ("io_kiocb", "cmd"),
                       "WD_OFF_IO_SPLICE_FD_IN": ("io_splice", "splice_fd_in"),
                       "WD_OFF_IO_SPLICE_FLAGS": ("io_splice", "flags")}
EXE_OFFSETS = dict(_FILE_ID_OFFSETS,
                   WD_OFF_TASK_MM=("task_struct", "mm"),
                   WD_OFF_MM_EXE_FILE=("mm_struct", "exe_file"))
# Throttle's escalation (probe/limiter.h, wd_resumed and wd_escalate): the
# signalled thread's process, the signal's si_code, and when a thread began.
SIGCONT_OFFSETS = {"WD_OFF_TASK_TGID": ("task_struct", "tgid"),
                   "WD_OFF_SIGINFO_CODE": ("kernel_siginfo", "si_code"),
                   "WD_OFF_TASK_START_TIME": ("task_struct", "start_time")}


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


def _probe_cgroup2():
    """--key cgroup needs the cgroup v2 hierarchy (bpf_get_current_cgroup_id)."""
    try:
        with open("/proc/filesystems") as f:
            have = any(line.split()[-1] == "cgroup2" for line in f if line.strip())
    except OSError:
        have = False
    return Feature("cgroup v2 (--key cgroup)", have,
                   "cgroup2 in /proc/filesystems" if have else
                   "no cgroup2 filesystem (kernel built without CONFIG_CGROUPS)")


def key_problem(feats, key):
    """None if the budget key works on this kernel, else why not."""
    if key == "cgroup" and not feats.cgroup2:
        return ("--key cgroup needs cgroup v2: %s; use --key uid or --key tree"
                % feats.cgroup2.detail)
    return None


def _probe_tracepoints():
    root = tracefs_root()
    if root is None:
        return Feature("syscall tracepoints", False,
                       "tracefs not mounted (mount -t tracefs tracefs "
                       "/sys/kernel/tracing)")
    missing = [s for s in READ_SYSCALLS + tuple(COPY_SYSCALLS) if not os.path.isdir(
        os.path.join(root, "events/syscalls/sys_enter_" + s))]
    if missing:
        return Feature("syscall tracepoints", False,
                       "no syscalls:sys_enter_%s (CONFIG_FTRACE_SYSCALLS)"
                       % missing[0])
    for ev in ("sched/sched_process_exit", "task/task_newtask"):
        if not os.path.isdir(os.path.join(root, "events", ev)):
            return Feature("syscall tracepoints", False, "no tracepoint " + ev)
    return Feature("syscall tracepoints", True, root)


def _probe_uring():
    """The io_uring submit tracepoint, or why there is none."""
    root = tracefs_root()
    for tp in URING_TRACEPOINTS:
        if root and os.path.isdir(os.path.join(root, "events", tp)):
            return Feature("io_uring submit tracepoint", True, tp.replace("/", ":"))
    if root and os.path.exists("/proc/sys/kernel/io_uring_disabled"):
        return Feature("io_uring submit tracepoint", False, "io_uring without "
                       "its tracepoints (CONFIG_TRACEPOINTS?)")
    if root and not os.path.isdir(os.path.join(root, "events/syscalls/"
                                               "sys_enter_io_uring_setup")):
        return Feature("io_uring submit tracepoint", False,
                       "no io_uring in this kernel (CONFIG_IO_URING off)")
    return Feature("io_uring submit tracepoint", False,
                   "no %s" % " or ".join(t.replace("/", ":") for t in URING_TRACEPOINTS))


def uring_read_ops(btf):
    """URING_READ_OPS this kernel has: the newer ones only if its BTF's enum
    io_uring_op names them; without BTF, every one the probe counts."""
    if btf is None:
        return list(URING_READ_OPS)
    have = btf.enumerators("io_uring_op")
    return [op for op in URING_READ_OPS
            if op not in URING_NEWER_OPS or "IORING_OP_" + op in have]


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
    missing = [s for s in READ_SYSCALLS + tuple(COPY_SYSCALLS)
               if "__x64_sys_" + s not in listed]
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
        if all("__x64_sys_" + s in sites for s in READ_SYSCALLS + tuple(COPY_SYSCALLS)):
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


def _probe_sigcont(btf):
    """Throttle holds against SIGCONT only if the probe sees every SIGCONT
    (raw tracepoint signal_generate) and can tell whose process it resumes
    (task_struct.tgid and the signal's si_code, from BTF; task_struct.
    start_time too, for threads made after a stop)."""
    name = "throttle escalation (SIGCONT)"
    root = tracefs_root()
    if root is None or not os.path.isdir(os.path.join(root, "events/signal/signal_generate")):
        return Feature(name, False, "no tracepoint signal/signal_generate")
    feat = _load(name, B.PROG_RAW_TRACEPOINT, B.RET0)
    if not feat:
        return Feature(name, False, "raw tracepoint program load: %s" % feat.detail)
    if btf is None:
        return Feature(name, False, "no kernel BTF (to find a signalled thread's process)")
    try:
        for where in SIGCONT_OFFSETS.values():
            btf.offset(*where)
    except LookupError as e:
        return Feature(name, False, str(e))
    return Feature(name, True, "raw tracepoint signal_generate: a process another one "
                   "resumes during its throttled window is killed")


def _probe_typed_file(btf):
    """Can a tracepoint program call bpf_rdonly_cast() (a kfunc, Linux
    6.2+) to give a struct file address its type?  The ids (the kfunc's
    and struct file's, in this kernel's BTF) are what the probe's rewrite
    needs (Features.defines())."""
    name = "typed file reads (bpf_rdonly_cast)"
    if btf is None:
        return Feature(name, False, "no kernel BTF"), None
    func = btf.find("bpf_rdonly_cast", B.BTF_KIND_FUNC)
    file = btf.find("file", B.BTF_KIND_STRUCT)
    if func is None or file is None:
        return Feature(name, False, "no bpf_rdonly_cast kfunc (Linux 6.2+): "
                       "a read class costs four bpf_probe_read_kernel calls"), None
    feat = _load(name, B.PROG_TRACEPOINT,
                 B.insn(B.MOV64_IMM, 1, imm=0) + B.insn(B.MOV64_IMM, 2, imm=file) +
                 B.insn(B.CALL, src=B.PSEUDO_KFUNC_CALL, imm=func) + B.RET0)
    if feat:
        feat.detail = "a read class's file members are typed loads"
    return feat, (func, file) if feat else None


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
    if not feat and feat.detail.startswith("EPERM") and bpf_capable():
        feat.detail += (" with CAP_BPF and CAP_PERFMON: the kernel's policy forbids "
                        "BPF-LSM programs")
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
        self.uring = _probe_uring()
        self.cgroup2 = _probe_cgroup2()
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
        self.uring_ops = uring_read_ops(self.btf)
        self.sigcont = _probe_sigcont(self.btf)
        self.lsm_active = _probe_active_lsm()
        self.lsm_load = _probe_lsm_load(self.btf)
        problem = self.file_offsets_problem()
        self.file_lookup = Feature("file and executable via BTF", problem is None,
                                   problem or "read classes, --file, --exclude-exe "
                                   "on every backend")
        self.typed_file, self.cast_ids = _probe_typed_file(self.btf)

    def all(self):
        return [self.x86_64, self.bpf, self.cmpxchg, self.ringbuf,
                self.tracepoints, self.uring, self.cgroup2, self.send_signal,
                self.send_signal_thread, self.kprobes, self.override,
                self.error_injection, self.override_path, self.btf_feature,
                self.lsm_active, self.lsm_load, self.file_lookup, self.typed_file,
                self.sigcont]

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
        if action == "throttle":
            # A throttle that SIGCONT from another process undoes would not
            # hold: no throttle without the watch that escalates to kill.
            return self._first_missing([self.send_signal, self.send_signal_thread,
                                        self.sigcont])
        if action == "kill":
            return self._first_missing([self.send_signal, self.send_signal_thread])
        return None

    def offsets(self, backend, policy=None, action=None):
        """Struct offsets the probe reads for this backend, policy and
        action, from this kernel's BTF; SetupError naming what is missing."""
        want = dict(LSM_OFFSETS) if backend == "lsm" else {}
        if action == "throttle" and self.btf is not None:
            want.update(SIGCONT_OFFSETS)   # checked by action_problem()
        classes = policy is not None and policy.needs_btf and not policy.counts_all
        if policy is not None and policy.needs_btf:
            if classes:
                want.update(CLASS_OFFSETS)
            if policy.exclude_exe:
                want.update(EXE_OFFSETS)
        if not want:
            return {}
        if self.btf is None:
            raise SetupError(
                "%s need the kernel's BTF to find a call's file or executable "
                "(%s); use --count all without --file/--exclude-exe, or a "
                "kernel with CONFIG_DEBUG_INFO_BTF=y"
                % ("read classes" if policy and not policy.counts_all
                   else "--exclude-exe", self.btf_feature.detail))
        if classes and backend != "lsm" and self.uring:
            # The io_uring shim's class check reads the request's fd.
            want.update(URING_CLASS_OFFSETS)
        try:
            return {name: self.btf.offset(*where) for name, where in want.items()}
        except LookupError as e:
            raise SetupError("this kernel's BTF lacks a member the probe reads: "
                             "%s" % e) from None

    def defines(self, backend, policy=None, action=None):
        """The probe's -D numbers from this kernel's BTF: offsets(), and,
        when the probe reads files and the kernel has bpf_rdonly_cast, the
        ids of typed file reads (kernel_read.h): the kfunc's for the
        rewrite (castcall.py), struct file's for the probe."""
        out = self.offsets(backend, policy, action)
        if "WD_OFF_FDT_FD" in out and self.cast_ids:
            out["WD_CAST_FUNC_ID"], out["WD_FILE_BTF_ID"] = self.cast_ids
        return out

    def file_offsets_problem(self):
        """None if a call's file and a process's executable can be found
        from BTF (read classes, --exclude-exe), else why not."""
        if self.btf is None:
            return "kernel BTF: %s" % self.btf_feature.detail
        try:
            for where in list(CLASS_OFFSETS.values()) + list(EXE_OFFSETS.values()):
                self.btf.offset(*where)
        except LookupError as e:
            return str(e)
        return None


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
        if act == "kill":   # never auto's choice: auto fails calls or stops
            continue        # processes, it does not kill them
        problem = feats.action_problem(chosen, act)
        if not problem:
            break
        why.append("%s impossible: %s" % (act, problem))
    return chosen, act, "; ".join(why)
