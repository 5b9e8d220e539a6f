"""Compile the C probe with BCC, load it, attach one backend, fill its maps.

Probe wraps a bcc.BPF module built from probe/watchdog.bpf.c with the
switches the chosen backend, action, filters and policy (read class,
budget key, exclusions) need.  Timings of the compile and load/attach
steps are kept for the start-up report.
"""

import ctypes as ct
import os
import re
import threading
import time

from . import REPO_ROOT, castcall
from .abi import COMM_MAX, DEFS, Event
from .budgets import ident, real_uid
from .features import COPY_SYSCALLS, LSM_ONCE_SYSCALLS, READ_SYSCALLS
from .policy import KEY_IDS

PROBE_DIR = os.path.join(REPO_ROOT, "probe")
SOURCE = os.path.join(PROBE_DIR, "watchdog.bpf.c")
ACTION_IDS = {"monitor": DEFS["WD_ACT_MONITOR"], "deny": DEFS["WD_ACT_DENY"],
              "throttle": DEFS["WD_ACT_THROTTLE"], "kill": DEFS["WD_ACT_KILL"]}


def cflags(backend, action, self_tgid, targets, comms, exclude, map_size,
           offsets=None, policy=None, uring_tp=None):
    """The -D switches that specialise the probe for this run (the caller
    adds -DWD_GUARD_TGID when a guardian runs)."""
    flags = ["-I" + PROBE_DIR, "-DWD_BACKEND_%s" % backend.upper(),
             "-DWD_ACTION=%d" % ACTION_IDS[action],
             "-DWD_SELF_TGID=%d" % self_tgid, "-DWD_MAX_PIDS=%d" % map_size]
    if targets:
        flags.append("-DWD_FILTER_TARGETS")
    if uring_tp and backend != "lsm":
        flags.append("-DWD_URING")
    if comms:
        flags.append("-DWD_FILTER_COMM")
    if exclude:
        flags.append("-DWD_EXCLUDE_COMM")
    if policy is not None:
        flags.append("-DWD_KEY=%d" % KEY_IDS[policy.key])
        if policy.magics:
            flags.append("-DWD_COUNT_FS")
        if policy.files:
            flags.append("-DWD_COUNT_FILES")
        if policy.exclude_exe:
            flags.append("-DWD_EXCLUDE_EXE")
    for name, value in sorted((offsets or {}).items()):
        flags.append("-D%s=%d" % (name, value))
    return flags


# compat.h's map calls and the BCC method each becomes (see source_text).
_MAP_CALLS = {"wd_lookup": "lookup", "wd_update": "update", "wd_insert": "insert",
              "wd_delete": "delete", "wd_rb_reserve": "ringbuf_reserve",
              "wd_rb_submit": "ringbuf_submit"}
_MAP_CALL_RE = re.compile(r"\b(%s)\(\s*(\w+)\s*,\s*" % "|".join(_MAP_CALLS))


def bcc_map_calls(text):
    """compat.h's map calls in BCC's method form: wd_lookup(m, &k) ->
    m.lookup(&k).  BCC rewrites map calls only when written as methods and
    never inside a macro, so they cannot be macros under BCC."""
    return _MAP_CALL_RE.sub(lambda m: "%s.%s(" % (m.group(2), _MAP_CALLS[m.group(1)]),
                            text)


def source_text(path=SOURCE):
    """watchdog.bpf.c (or another probe source: jitter.bpf.c) with its
    local #include "x.h" lines inlined and the map calls in BCC's form
    (bcc_map_calls).

    BCC rewrites map calls (m.lookup(), ring.ringbuf_reserve()) only in
    the main source text, not in included files, so the limiter's header
    must be part of that text; watchdog_map.h, which has no map calls,
    would work either way but is inlined the same way."""
    def expand(path, seen):
        out = []
        with open(path) as f:
            for line in f:
                m = re.match(r'\s*#include "([^"]+)"', line)
                inc = os.path.join(PROBE_DIR, m.group(1)) if m else None
                if inc and inc not in seen:
                    seen.add(inc)
                    out.append(expand(inc, seen))
                elif not inc:
                    out.append(line)
        return "".join(out)
    return bcc_map_calls(expand(path, set()))


def _flag_value(flags, prefix, default):
    """The value of the last -D<prefix>... switch: "-DWD_ACTION=1" gives
    "1" for prefix "WD_ACTION=", "-DWD_BACKEND_LSM" gives "lsm" for
    "WD_BACKEND_"; default if there is none."""
    out = default
    for f in flags:
        if f.startswith("-D" + prefix):
            out = f[2 + len(prefix):].lower()
    return out


def attach_points(flags, uring_tp=None, fnname=lambda s: "__x64_sys_" + s):
    """What a probe built with these cflags attaches, in order:
    [(label, kind, where, function name)].  Only the programs the flags
    compile in: the backend's (WD_BACKEND_*; with an enforcing WD_ACTION,
    not monitor, the kprobe backend's io_uring_setup refusal when WD_URING),
    wd_exit, the fork hook with WD_FILTER_TARGETS, throttle's SIGCONT watch
    and the io_uring submit hook with WD_URING (uring_tp names its
    tracepoint).  fnname: a syscall's kernel function name
    (BPF.get_syscall_fnname)."""
    backend = _flag_value(flags, "WD_BACKEND_", None)
    action = int(_flag_value(flags, "WD_ACTION=", DEFS["WD_ACT_MONITOR"]))
    uring = "-DWD_URING" in flags
    if uring and not uring_tp:
        raise ValueError("built with WD_URING: the io_uring tracepoint is needed")
    out = []
    if "-DWD_FILTER_TARGETS" in flags:
        out.append(("tracepoint:task:task_newtask", "tracepoint", "task:task_newtask",
                    "wd_newtask"))
    out.append(("tracepoint:sched:sched_process_exit", "tracepoint",
                "sched:sched_process_exit", "wd_exit"))
    if action == DEFS["WD_ACT_THROTTLE"]:
        out.append(("raw_tracepoint:signal_generate", "raw", "signal_generate",
                    "wd_sigcont"))
    routes = READ_SYSCALLS + tuple(COPY_SYSCALLS)
    if backend == "tracepoint":
        for s in routes:
            out.append(("tracepoint:syscalls:sys_enter_" + s, "tracepoint",
                        "syscalls:sys_enter_" + s,
                        "wd_tp_fd1" if COPY_SYSCALLS.get(s) == 1 else "wd_tracepoint"))
    elif backend == "kprobe":
        for s in routes:
            fn = fnname(s)
            out.append(("kprobe:" + fn, "kprobe", fn,
                        "wd_kprobe_fd1" if COPY_SYSCALLS.get(s) == 1 else "wd_kprobe"))
        if uring and action != DEFS["WD_ACT_MONITOR"]:
            fn = fnname("io_uring_setup")
            out.append(("kprobe:" + fn, "kprobe", fn, "wd_kprobe_uring_setup"))
    elif backend == "lsm":
        out.append(("lsm:file_permission", "lsm", "file_permission",
                    "lsm__file_permission"))
        for s in LSM_ONCE_SYSCALLS:
            fn = fnname(s)
            out.append(("fentry:" + fn, "fentry", fn, "kfunc__" + fn))
    else:
        raise ValueError("cflags name no backend (-DWD_BACKEND_*)")
    if uring:
        out.append(("tracepoint:" + uring_tp, "tracepoint", uring_tp, "wd_uring_submit"))
    return out


def manual_bpf(bcc, **kw):
    """bcc.BPF(**kw) without BCC's attach-on-load of functions named
    lsm__*, tracepoint__*, kfunc__*...: the caller attaches explicitly
    (Probe.attach(); the benches' reference probe)."""
    class _Manual(bcc.BPF):
        def _trace_autoload(self):
            pass
    return _Manual(**kw)


def program_fd(bpf, fn, kind):
    """The fd of program `fn` of a loaded module, attached as `kind`
    (tracepoint, raw, kprobe, lsm, fentry); loads it if no attach has."""
    types = {"tracepoint": "TRACEPOINT", "raw": "RAW_TRACEPOINT",
             "kprobe": "KPROBE", "lsm": "LSM", "fentry": "TRACING"}
    return bpf.load_func(fn.encode(), getattr(bpf, types[kind])).fd


def run_all(calls):
    """Call each of `calls` in a thread of its own and wait for them all;
    re-raise the first exception.  A detach waits for the kernel's grace
    periods (closing a tracepoint's perf event: the BPF program's removal
    and the tracepoint's unregistration each wait one, 30-90 ms on the
    host), one after another when done in turn; BCC's detach calls end in
    ctypes or os.close, which release the GIL, so threads overlap the
    waits.  A call whose thread cannot be started runs here, in turn."""
    errors, threads = [], []

    def guarded(call):
        try:
            call()
        except Exception as e:      # raised below, after every call ran
            errors.append(e)
    for call in calls:
        t = threading.Thread(target=guarded, args=(call,), daemon=True)
        try:
            t.start()
            threads.append(t)
        except RuntimeError:        # no thread: do it now
            guarded(call)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _lock_kprobe_count(bpf):
    """BCC counts open kprobes in a module global (_num_open_probes -= 1 in
    _del_kprobe_fd): not atomic across threads.  Wrap this module's
    _del_kprobe_fd in a lock so concurrent detaches keep the count."""
    if getattr(bpf, "_wd_kprobe_lock", None):
        return
    lock, del_fd = threading.Lock(), bpf._del_kprobe_fd

    def locked(*args):
        with lock:
            del_fd(*args)
    bpf._del_kprobe_fd, bpf._wd_kprobe_lock = locked, lock


class Probe:
    """The loaded watchdog program and its maps."""

    def __init__(self, bcc, flags, text=None):
        """Compile and load the probe with these cflags (from cflags());
        text: the source to use instead of source_text() (the benches'
        patched variants).  Nothing is attached before attach(), so
        compile and attach are timed apart and the maps are filled first."""
        t0 = time.monotonic()
        self.flags = list(flags)
        self.bpf = manual_bpf(bcc, text=(text or source_text()).encode(), cflags=self.flags)
        cast = _flag_value(self.flags, "WD_CAST_FUNC_ID=", None)
        if cast is not None:    # typed file reads: the kfunc's calls
            castcall.rewrite_module(bcc.libbcc.lib, self.bpf.module, int(cast))
        self.compile_s = time.monotonic() - t0
        self.attach_s = 0.0
        self.attached = []     # attach points, "kind:where"
        self._links = []       # (kind, where, fn) of each, for detach()
        self.key = "process"
        self._uids = {}        # target root -> the real UID it runs as

    def configure(self, max_calls, window_ms, targets=(), comms=(), exclude=(),
                  policy=None, uids=None):
        """Write limits, filters and the policy's sets; call before attach().
        uids: {target: real UID it will run as} where /proc does not say it
        yet (the -- CMD child before it takes -u USER's ids)."""
        self.set_limits(max_calls, window_ms)
        self.key = policy.key if policy else "process"
        for tgid in targets:
            self.add_target(tgid, (uids or {}).get(tgid))
        self.set_names("wd_comm_in", (), comms)
        self.set_names("wd_comm_out", (), exclude)
        if policy is None:
            return
        for magic in (policy.magics or {}).values():
            self.bpf["wd_fs"][ct.c_uint64(magic)] = ct.c_ubyte(1)
        self.set_files("wd_files", (), policy.files)
        self.set_files("wd_exe_out", (), policy.exclude_exe)

    def limits(self):
        """(max_calls, window_ms) as the probe reads them now (wd_config)."""
        val = self.bpf["wd_config"][ct.c_int(0)]
        return val.max_calls, val.window_ms

    def set_limits(self, max_calls, window_ms):
        """Write the limit: the probe reads it at every counted call."""
        cfg = self.bpf["wd_config"]
        val = cfg[ct.c_int(0)]
        val.max_calls, val.window_ms = max_calls, window_ms
        cfg[ct.c_int(0)] = val

    @staticmethod
    def _steps(table, adds, drops):
        """The order that is never laxer in between: an exclusion set
        (*_out) loses its old entries first, a target set gains its new
        ones first."""
        steps = [(adds, True), (drops, False)]
        return steps[::-1] if table.endswith("_out") else steps

    def set_names(self, table, old, new):
        """Make the set of command names in `table` (wd_comm_in/out) `new`."""
        t = self.bpf[table]
        for names, add in self._steps(table, new, set(old) - set(new)):
            for name in names:
                key = t.Key()
                key.name = name.encode()
                if add:
                    t[key] = ct.c_ubyte(1)
                else:
                    del t[key]

    def set_files(self, table, old, new):
        """The same for files by device and inode (wd_files, wd_exe_out):
        FileIds old -> new."""
        t = self.bpf[table]
        keep = {(f.dev, f.ino) for f in new}
        drops = [f for f in old if (f.dev, f.ino) not in keep]
        for files, add in self._steps(table, new, drops):
            for f in files:
                if add:
                    t[t.Key(f.dev, f.ino)] = ct.c_ubyte(1)
                else:
                    del t[t.Key(f.dev, f.ino)]

    @staticmethod
    def _comm_of(tgid):
        try:
            with open("/proc/%d/comm" % tgid, "rb") as f:
                # The kernel adds one "\n"; a name may itself end in
                # whitespace or "\n", so strip exactly that one.
                return f.read()[:-1][:COMM_MAX]
        except OSError:
            return b""

    def _tree_key(self, tgid):
        state = self.bpf["wd_state"]
        return state.Key(tgid, self._uids.get(tgid, 0), KEY_IDS["tree"])

    def add_target(self, tgid, uid=None):
        """Mark a target root (running as real UID uid; None: read it from
        /proc).  Process key: its (empty) budget entry is the mark.  Shared
        keys: a wd_member entry naming itself as root, with its UID; the
        tree key also makes the tree's budget for that UID, with one
        member."""
        state = self.bpf["wd_state"]
        if self.key == "process":
            val = state.Leaf()
            val.comm = self._comm_of(tgid)
            state[state.Key(tgid)] = val
            return
        uid = real_uid(tgid) if uid is None else uid
        self._uids[tgid] = uid
        members = self.bpf["wd_member"]
        members[members.Key(tgid)] = members.Leaf(tgid, uid)
        if self.key == "tree":
            val = state.Leaf()
            val.comm, val.members = self._comm_of(tgid), 1
            state[self._tree_key(tgid)] = val

    def drop_exited(self, tgids):
        """Remove the entries of targets that exited before the exit hook
        was attached, so a process that reuses the PID is not a target."""
        for tgid in tgids:
            if os.path.isdir("/proc/%d" % tgid):
                continue
            keys = []
            if self.key == "process":
                keys.append(("wd_state", self.bpf["wd_state"].Key(tgid)))
            elif self.key == "tree":
                keys.append(("wd_state", self._tree_key(tgid)))
            if self.key != "process":
                keys.append(("wd_member", self.bpf["wd_member"].Key(tgid)))
            for name, key in keys:
                try:
                    del self.bpf[name][key]
                except KeyError:
                    pass

    def programs(self, backend, uring_tp=None):
        """attach_points() of this probe's cflags, with this kernel's
        syscall function names."""
        if backend != _flag_value(self.flags, "WD_BACKEND_", None):
            raise ValueError("probe built for backend %s, not %s"
                             % (_flag_value(self.flags, "WD_BACKEND_", None), backend))
        return attach_points(self.flags, uring_tp, lambda s: self.bpf.get_syscall_fnname(
            s.encode()).decode())

    def attach(self, backend, uring_tp=None):
        """Attach every program this probe has for the backend: its shims
        on every read route (routes.routes) and the exit/fork
        tracepoints; returns the attach points ("kind:where").
        uring_tp: the io_uring submit tracepoint ("io_uring:...") or None."""
        if self._links:
            raise RuntimeError("probe already attached: detach() first")
        t0 = time.monotonic()
        b = self.bpf
        try:
            for label, kind, where, fn in self.programs(backend, uring_tp):
                if kind == "tracepoint":
                    b.attach_tracepoint(tp=where.encode(), fn_name=fn.encode())
                elif kind == "raw":
                    b.attach_raw_tracepoint(tp=where.encode(), fn_name=fn.encode())
                elif kind == "kprobe":
                    b.attach_kprobe(event=where.encode(), fn_name=fn.encode())
                elif kind == "lsm":
                    b.attach_lsm(fn_name=fn.encode())
                elif kind == "fentry":
                    b.attach_kfunc(fn_name=fn.encode())
                self._links.append((kind, where, fn))
                self.attached.append(label)
        except Exception:
            self.detach()
            raise
        self.attach_s = time.monotonic() - t0
        return self.attached

    def detach(self):
        """Detach every program attach() attached, all at once (see
        run_all()).  The maps and the loaded module stay: attach() may be
        called again.  Every detach is tried; the first failure is raised
        after the others finished."""
        b, links = self.bpf, self._links
        self._links, self.attached = [], []
        calls = {"tracepoint": lambda w, f: b.detach_tracepoint(tp=w.encode()),
                 "raw": lambda w, f: b.detach_raw_tracepoint(tp=w.encode()),
                 "kprobe": lambda w, f: b.detach_kprobe(event=w.encode()),
                 "lsm": lambda w, f: b.detach_lsm(fn_name=f.encode()),
                 "fentry": lambda w, f: b.detach_kfunc(fn_name=f.encode())}
        if any(kind == "kprobe" for kind, _w, _f in links):
            _lock_kprobe_count(b)
        run_all([lambda k=kind, w=where, f=fn: calls[k](w, f)
                 for kind, where, fn in links])

    def close(self):
        """Detach everything and release the module (its programs, maps
        and fds): the final teardown.  Safe to call twice."""
        if self.bpf is None:
            return
        try:
            self.detach()
        finally:
            self.bpf.cleanup()
            self.bpf = None
            self._links, self.attached = [], []

    def prog_fd(self, fn):
        """The fd of program `fn`, which attach() attached."""
        for kind, _where, name in self._links:
            if name == fn:
                return program_fd(self.bpf, fn, kind)
        raise KeyError("%s is not attached" % fn)

    def map_fd(self, name):
        """The fd of the map `name`, or None if this build has no such map."""
        try:
            return self.bpf[name].map_fd
        except KeyError:
            return None

    def entries(self):
        """Snapshot of the budget map: {budget: value copy}, the budget a
        TGID with the process key, else budgets.ident() (key, id, uid)."""
        items = self.bpf["wd_state"].items()
        if self.key == "process":
            return {k.id: v for k, v in items}
        return {ident(k.kind, k.id, k.uid): v for k, v in items}

    def shares(self):
        """Per-process shares of shared budgets: {tgid: wd_proc copy}
        (empty with the process key, where a budget is a process)."""
        if self.key == "process":
            return {}
        return {k.value: v for k, v in self.bpf["wd_procs"].items()}

    def health(self):
        """Sum the per-CPU health counters: {slot: count}."""
        t = self.bpf["wd_health"]
        return {i: sum(t[ct.c_int(i)]) for i in range(DEFS["WD_H_SLOTS"])}

    def open_events(self, callback):
        self.bpf["wd_events"].open_ring_buffer(callback)

    def poll(self, timeout_ms):
        self.bpf.ring_buffer_poll(timeout_ms)

    def event(self, data):
        return ct.cast(data, ct.POINTER(Event)).contents
