"""--jitter's BPF modes in watchdog.py: probe/jitter.bpf.c compiled with
BCC, its maps filled, its programs attached (src/jitter_bpf.c does the
same for ethoswd with the CO-RE object).

Everything on the per-read path is the BPF program.  This module:
  - probes whether the kernel loads bpf_probe_write_user (write mode),
  - compiles and attaches the syscall tracepoints and the process events,
  - attaches the libc uprobes per target process (the kernel then filters
    them by mm: other processes never trap), from a thread that follows
    the program's process events (forks of -p targets, --comm matches),
  - keeps the per-CPU calibration of the CPU-time estimate fresh (the
    thread reads its own CPU time on every CPU once a second) and, in
    write mode, the wall clocks' offsets from MONOTONIC.
Closing detaches everything; if the watchdog is killed the kernel does
the same when its descriptors close (BPF mode cannot fail closed).
"""

import ctypes as ct
import os
import struct
import threading
import time

from . import bpfsys as B
from .abi import COMM_MAX
from .errors import SetupError
from .jitter_cover import DEFS, PROBE_DIR, describe_targets, rows_for, rows_json
from .probe import source_text

SOURCE = os.path.join(PROBE_DIR, "jitter.bpf.c")
HELPER_PROBE_WRITE_USER = 36
ADD64_IMM = 0x07
VDSO_CLOCKSOURCES = ("tsc", "kvm-clock", "hyperv_clocksource_tsc_page")
CLOCKSOURCE = "/sys/devices/system/clocksource/clocksource0/current_clocksource"

# Struct members the program reads, by the name kernel_read.h's scheme
# gives them (-D numbers under BCC; CO-RE under libbpf).
OFFSETS = {"JB_OFF_SE_SUM": ("task_struct", "se.sum_exec_runtime"),
           "JB_OFF_SE_START": ("task_struct", "se.exec_start"),
           "JB_OFF_SE_CFS_RQ": ("task_struct", "se.cfs_rq"),
           "JB_OFF_TASK_SIGNAL": ("task_struct", "signal"),
           "JB_OFF_TASK_THREAD_NODE": ("task_struct", "thread_node"),
           "JB_OFF_CFS_RQ_RQ": ("cfs_rq", "rq"),
           "JB_OFF_RQ_CLOCK": ("rq", "clock"),
           "JB_OFF_RQ_CLOCK_TASK": ("rq", "clock_task"),
           "JB_OFF_SIG_SUM": ("signal_struct", "sum_sched_runtime"),
           "JB_OFF_SIG_NR_THREADS": ("signal_struct", "nr_threads"),
           "JB_OFF_SIG_THREAD_HEAD": ("signal_struct", "thread_head"),
           "JB_OFF_REGS_DI": ("pt_regs", "di"),
           "JB_OFF_REGS_SI": ("pt_regs", "si"),
           "JB_OFF_REGS_AX": ("pt_regs", "ax")}


# A task's run queue: only the holding modes need it (CONFIG_FAIR_GROUP_SCHED).
RQ_OFFSETS = ("JB_OFF_SE_CFS_RQ", "JB_OFF_CFS_RQ_RQ")
NO_RQ = ("--jitter-via %s holds CPU-time readers, which needs a task's run queue "
         "(cfs_rq.rq) in the kernel's BTF: this kernel has none (built without "
         "CONFIG_FAIR_GROUP_SCHED); use a kernel with it, or --jitter-via write "
         "without pause")


def probe_write():
    """(ok, detail): does a tracepoint program calling bpf_probe_write_user
    load here?  A real load, as the feature checks do."""
    code = (B.insn(B.STDW_IMM, 10, off=-8, imm=0) + B.insn(B.MOV64_IMM, 1, imm=0) +
            B.insn(B.MOV64_REG, 2, 10) + B.insn(ADD64_IMM, 2, imm=-8) +
            B.insn(B.MOV64_IMM, 3, imm=8) + B.insn(B.CALL, imm=HELPER_PROBE_WRITE_USER) +
            B.RET0)
    ok, msg = B.prog_load(B.PROG_TRACEPOINT, code)
    return ok, ("%slockdown %s" % ("" if ok else msg + "; ", lockdown_state()))


def lockdown_state():
    """The kernel's lockdown level ([none] integrity confidentiality)."""
    try:
        with open("/sys/kernel/security/lockdown") as f:
            text = f.read()
    except OSError:
        return "unknown"
    return text[text.index("[") + 1:text.index("]")] if "[" in text else text.strip()


def attach_points(via, pause, uprobes):
    """[(tracepoint, program)] a run attaches (src/jitter_bpf.c: the same)."""
    sc = "syscalls:sys_%s_%s"
    pts = [(sc % ("enter", "clock_gettime"), "jb_cg_enter"),
           (sc % ("enter", "gettimeofday"), "jb_gtod_enter"),
           (sc % ("enter", "getrusage"), "jb_ru_enter")]
    if via == "quantize":
        pts += [(sc % ("exit", "clock_gettime"), "jb_cg_exit"),
                (sc % ("exit", "getrusage"), "jb_ru_exit")]
    else:
        pts += [(sc % ("exit", "clock_gettime"), "jb_cg_exit_w"),
                (sc % ("exit", "gettimeofday"), "jb_gtod_exit_w"),
                (sc % ("exit", "getrusage"), "jb_ru_exit_w"),
                (sc % ("enter", "clock_getres"), "jb_res_enter"),
                (sc % ("exit", "clock_getres"), "jb_res_exit_w")]
    if via == "quantize" or pause:
        pts += [(sc % ("enter", "time"), "jb_time_enter"),
                (sc % ("enter", "times"), "jb_times_enter")]
    if uprobes:
        pts += [("task:task_newtask", "jb_newtask"), ("sched:sched_process_exec", "jb_exec"),
                ("task:task_rename", "jb_rename"), ("sched:sched_process_exit", "jb_exit")]
    return pts


def uprobe_points(via):
    """[(libc symbol, return probe?, program)] attached per target process."""
    pts = [("clock_gettime", False, "jb_u_cg")]
    if via == "write":
        pts += [("clock_gettime", True, "jb_ur_cg_w"), ("clock_getres", False, "jb_u_res"),
                ("clock_getres", True, "jb_ur_res_w")]
    return pts


def elf_symbol_offsets(path, names):
    """{name: file offset} of the dynamic function symbols `names` of an
    ELF64 file (what a uprobe is placed at: src/jitter_bpf_attach.c)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise OSError("%s: not a 64-bit ELF file" % path)
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    loads = []
    for i in range(phnum):
        p_type, _fl, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    out = {}
    for sh in sections:
        if sh[1] != 11:  # SHT_DYNSYM
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], 24):
            st_name, st_info, _o, _sx, st_value = struct.unpack_from("<IBBHQ", data, off)
            start = strtab[4] + st_name
            name = data[start:data.index(b"\0", start)].decode(errors="replace")
            if name in names and st_info & 0xF in (2, 10) and st_value:
                for vaddr, foff, size in loads:
                    if vaddr <= st_value < vaddr + size:
                        out.setdefault(name, st_value - vaddr + foff)
    missing = [n for n in names if n not in out]
    if missing:
        raise OSError("%s has no %s" % (path, ", ".join(missing)))
    return out


def libc_of(pid):
    """The libc a process maps, as a path the watchdog can open (through
    /proc/PID/root when it lives in another root); None if none yet."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                fields = line.split(None, 5)
                path = fields[5].strip() if len(fields) == 6 else ""
                base = os.path.basename(path)
                if base == "libc.so.6" or (base.startswith("libc-") and base.endswith(".so")):
                    root, own = os.stat("/proc/%d/root" % pid), os.stat("/")
                    if (root.st_dev, root.st_ino) != (own.st_dev, own.st_ino):
                        return "/proc/%d/root%s" % (pid, path)
                    return path
    except OSError:
        return None
    return None


def _round_grain(v, g):
    return (v + g // 2) // g * g if v >= 0 else -((-v + g // 2) // g * g)


def wall_offsets(grain):
    """REALTIME, BOOTTIME, TAI minus MONOTONIC, rounded to the grain."""
    mono = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return [_round_grain(time.clock_gettime_ns(c) - mono, grain)
            for c in (time.CLOCK_REALTIME, time.CLOCK_BOOTTIME, time.CLOCK_TAI)]


class BpfJitter:
    """The BPF side of one --jitter run: start() after the limiter is
    attached, close() at the end (safe to call twice)."""

    def __init__(self, bcc, grain_ns, mode, via, why, btf):
        self.bcc, self.grain, self.mode, self.via, self.why = bcc, grain_ns, mode, via, why
        self.pause = via == "write" and mode == "pause"
        self.jfrac = (1 << 16) if via == "write" and not self.pause else 0
        self.btf = btf
        self.bpf = None
        self.attached = []          # tracepoints
        self.uprobes = {}           # pid -> [(fd, ev_name)]
        self.uprobe_failed = 0
        self.targets = self.comms = ()
        self.system_wide = False
        self._stop = threading.Event()
        self._thread = None
        self._offs = None
        self._lock = threading.Lock()
        self._libc_offsets = {}
        self.window = (0, 0, 0)      # new processes attached: count, sum, max ns

    # -- build ------------------------------------------------------------
    def cflags(self, self_tgid, targets, comms, exclude):
        flags = ["-I" + PROBE_DIR]
        have_rq = True
        for name, (st, member) in sorted(OFFSETS.items()):
            try:
                flags.append("-D%s=%d" % (name, self.btf.offset(st, member)))
            except (LookupError, AttributeError) as e:
                if name not in RQ_OFFSETS:
                    raise SetupError("--jitter in a BPF mode needs %s.%s from the kernel's "
                                     "BTF: %s" % (st, member, e)) from None
                have_rq = False
                flags.append("-D%s=0" % name)
        if not have_rq and (self.via == "quantize" or self.pause):
            raise SetupError(NO_RQ % (self.via + (" with --jitter-mode pause" if self.pause
                                                  else "")))
        try:
            with open(CLOCKSOURCE) as f:
                hres = f.read().strip() in VDSO_CLOCKSOURCES
        except OSError:
            hres = False
        settings = {"GRAIN": self.grain, "SPIN_CAP": min(self.grain, DEFS["WD_JB_SPIN_MAX_NS"]),
                    "MODE": DEFS["WD_JB_WRITE" if self.via == "write" else "WD_JB_QUANTIZE"],
                    "JFRAC": self.jfrac, "PAUSE": int(self.pause), "SELF_TGID": self_tgid,
                    "TARGETS": int(bool(targets)), "COMM_IN": int(bool(comms)),
                    "COMM_OUT": int(bool(exclude)), "VDSO_HRES": int(hres),
                    "HAVE_RQ": int(have_rq)}
        return flags + ["-DWD_JB_%s=%d" % kv for kv in sorted(settings.items())]

    def start(self, self_tgid, targets, comms, exclude):
        """Compile, fill the maps, attach; SetupError if anything fails
        (then nothing is left attached)."""
        self.targets, self.comms = list(targets), list(comms)
        self.system_wide = not targets and not comms
        flags = self.cflags(self_tgid, targets, comms, exclude)
        try:
            self.bpf = self.bcc.BPF(text=source_text(SOURCE).encode(), cflags=flags)
            self._fill(targets, comms, exclude)
            for tp, fn in attach_points(self.via, self.pause, not self.system_wide):
                self.bpf.attach_tracepoint(tp=tp.encode(), fn_name=fn.encode())
                self.attached.append("tracepoint:" + tp)
            self.calibrate()
            for pid in self._initial_pids(targets, comms):
                self.attach_pid(pid)
        except SetupError:
            self.close()
            raise
        except Exception as e:  # BCC raises bare Exceptions
            self.close()
            last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise SetupError("could not build or attach the --jitter %s program: %s"
                             % (self.via, last)) from None
        if not self.system_wide or self.via == "write":
            self._thread = threading.Thread(target=self._follow, name="jitter", daemon=True)
            self._thread.start()

    def _fill(self, targets, comms, exclude):
        b = self.bpf
        b["jb_secret"][ct.c_int(0)] = ct.c_uint64(int.from_bytes(os.urandom(8), "little"))
        for pid in targets:
            b["jb_targets"][ct.c_uint32(pid)] = ct.c_uint8(1)
        for table, names in (("jb_comm_in", comms), ("jb_comm_out", exclude)):
            t = b[table]
            for name in names:
                key = t.Key()
                key.name = name.encode()[:COMM_MAX]
                t[key] = ct.c_uint8(1)
        if self.via == "write":
            self._set_offsets()

    def _set_offsets(self):
        offs = wall_offsets(self.grain)
        t = self.bpf["jb_offsets"]
        for i, v in enumerate(offs):
            if self._offs is None or abs(v - self._offs[i]) > self.grain:
                t[ct.c_int(i)] = ct.c_int64(v)
        self._offs = offs

    def _initial_pids(self, targets, comms):
        pids = [p for p in targets if os.path.isdir("/proc/%d" % p)]
        if comms:
            want = {c.encode()[:COMM_MAX] for c in comms}
            for d in filter(str.isdigit, os.listdir("/proc")):
                try:
                    names = set()
                    for tid in os.listdir("/proc/%s/task" % d):
                        with open("/proc/%s/task/%s/comm" % (d, tid), "rb") as f:
                            names.add(f.read()[:-1])
                except OSError:
                    continue
                if names & want and int(d) not in (1, os.getpid()):
                    pids.append(int(d))
        return pids

    # -- uprobes per process --------------------------------------------
    def _offsets_in(self, path):
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        if key not in self._libc_offsets:
            self._libc_offsets[key] = elf_symbol_offsets(path, ("clock_gettime",
                                                                "clock_getres"))
        return self._libc_offsets[key]

    def attach_pid(self, pid):
        """Attach the libc uprobes to one process (its libc, or ours if it
        has none mapped yet); False if it could not be done."""
        from bcc.libbcc import lib
        with self._lock:
            if pid in self.uprobes or self.bpf is None:
                return True
            path = libc_of(pid) or libc_of(os.getpid())
            fds = []
            try:
                offs = self._offsets_in(path)
                for sym, ret, fn in uprobe_points(self.via):
                    prog = self.bpf.load_func(fn.encode(), self.bcc.BPF.KPROBE).fd
                    ev = b"jb_%s_%x_%d_%d" % (b"r" if ret else b"p", offs[sym], pid, os.getpid())
                    fd = lib.bpf_attach_uprobe(prog, int(ret), ev, path.encode(), offs[sym], pid)
                    if fd < 0:
                        raise OSError("bpf_attach_uprobe failed")
                    fds.append((fd, ev))
            except OSError:
                self._close_fds(fds)
                self.uprobe_failed += 1
                return False
            self.uprobes[pid] = fds
            self.bpf["jb_attached"][ct.c_uint32(pid)] = ct.c_uint8(1)
            return True

    @staticmethod
    def _close_fds(fds):
        from bcc.libbcc import lib
        for fd, ev in fds:
            lib.bpf_close_perf_event_fd(fd)
            lib.bpf_detach_uprobe(ev)

    def detach_pid(self, pid):
        with self._lock:
            self._close_fds(self.uprobes.pop(pid, ()))

    # -- the follower thread ---------------------------------------------
    def calibrate(self):
        """Read this thread's CPU time on every CPU: the program takes each
        CPU's sched_clock - ktime from it (probe/jitter_hold.h)."""
        cpus = os.sched_getaffinity(0)
        try:
            for cpu in sorted(cpus):
                os.sched_setaffinity(0, {cpu})
                time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)
        finally:
            os.sched_setaffinity(0, cpus)

    def _on_event(self, _ctx, data, _size):
        kind, pid, ns = struct.unpack_from("<IIQ", ct.string_at(data, 16))
        if kind == DEFS["WD_JB_EV_EXIT"]:
            self.detach_pid(pid)
            return 0
        if kind == DEFS["WD_JB_EV_NAME"]:
            try:
                with open("/proc/%d/status" % pid) as f:
                    pid = int(next(ln for ln in f if ln.startswith("Tgid:")).split()[1])
            except (OSError, StopIteration, ValueError):
                return 0
        if self.attach_pid(pid) and kind == DEFS["WD_JB_EV_NEW"]:
            # the window in which a new process's libc reads are not seen
            lat = time.monotonic_ns() - ns
            self.window = (self.window[0] + 1, self.window[1] + lat, max(self.window[2], lat))
        return 0

    def _follow(self):
        if not self.system_wide:
            self.bpf["jb_events"].open_ring_buffer(self._on_event)
        last = time.monotonic()
        while not self._stop.is_set():
            if self.system_wide:
                self._stop.wait(0.1)
            else:
                self.bpf.ring_buffer_poll(100)
            if time.monotonic() - last >= 1:
                last = time.monotonic()
                self.calibrate()
                if self.via == "write":
                    self._set_offsets()

    # -- report and end ---------------------------------------------------
    def rows(self):
        return rows_for(self.via, self.system_wide)

    def start_lines(self, command_pid=None):
        """(info lines, warning lines, JSON member) for the start report."""
        status = "clamped" if self.via == "write" else "quantized"
        via = self.via + (", pause" if self.pause else "")
        hold = ("readers held to switch points every grain, at most %d ns a read"
                % min(self.grain, DEFS["WD_JB_SPIN_MAX_NS"]))
        how = ("J %.4g, with a secret drawn for this run" % (self.jfrac / 65536)
               + ("; " + hold if self.pause else "")) if self.via == "write" else hold
        rows = self.rows()
        info = ["jitter: grain %d ns, BPF mode %s (%s); %s" % (self.grain, via, self.why, how),
                "jitter targets: %s" % describe_targets(
                    [p for p in self.targets if p != command_pid], self.comms, command_pid),
                "clocks %s: %s" % (status, "; ".join(r[0] for r in rows if r[1] == status))]
        warn = ["%s: %s (%s)" % r for r in rows if r[1] != status]
        member = {"grain_ns": self.grain, "mode": self.mode, "via": self.via, "why": self.why,
                  "jfrac": self.jfrac, "uprobes": len(self.uprobes), "clocks": rows_json(rows)}
        return info, warn, member

    def health(self):
        t = self.bpf["jb_health"]
        return [sum(t[ct.c_int(i)]) for i in range(DEFS["WD_JB_H_SLOTS"])]

    def stop_line(self):
        """(text, JSON fields) of the run's jitter counts."""
        h = self.health()
        d = {name: h[DEFS["WD_JB_H_" + name.upper()]] for name in
             ("reads", "spins", "spin_ns", "capped", "uncal", "other", "writes", "write_fail",
              "lost", "ev_lost", "targets_full")}
        n, total, worst = self.window
        d.update(uprobe_processes=len(self.uprobes), uprobe_failed=self.uprobe_failed,
                 forks_attached=n, attach_us_mean=round(total / n / 1000, 1) if n else 0,
                 attach_us_max=round(worst / 1000, 1))
        text = ("jitter: %(reads)d target clock reads; %(spins)d held (%(spin_ns)d ns in all, "
                "%(capped)d short of the switch point), %(uncal)d CPU-time reads not held "
                "(no calibration yet), %(other)d of other processes' CPU clocks; "
                "%(writes)d values rewritten, %(write_fail)d writes failed, %(lost)d values "
                "not seen; %(ev_lost)d process events lost, %(targets_full)d new processes "
                "not recorded; uprobes on %(uprobe_processes)d processes "
                "(%(uprobe_failed)d failed); %(forks_attached)d new processes attached "
                "%(attach_us_mean).1f us after their fork on average, at most "
                "%(attach_us_max).1f us" % d)
        return text, d

    def close(self):
        """Stop the follower, detach the uprobes and tracepoints, release."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        with self._lock:
            for pid in list(self.uprobes):
                self._close_fds(self.uprobes.pop(pid))
            b, self.bpf = self.bpf, None
        if b is not None:
            for tp in self.attached:
                try:
                    b.detach_tracepoint(tp=tp.split(":", 1)[1].encode())
                except Exception:  # BCC raises bare Exceptions
                    pass
            self.attached = []
            b.cleanup()
