"""What the running kernel's probed features imply, for the host suite's
expectations: it runs on any kernel the README names (the hardened 6.18
development kernel: tracepoint + throttle; Debian 12's 6.1: BPF-LSM + deny;
Ubuntu 24.04's: kprobe + deny), so it must not assert one kernel's facts.

features() is the feature table of `watchdog.py --probe-features --json`
(yes/no and detail per feature; ethoswd's is the same, checked byte for
byte in test_cfront_features.py), its file-based answers checked here
against the files themselves.  Everything else (which backends work and
why not, their actions, what auto picks, what gets attached) is derived
here from the features alone, not read from the front end's own
"backends"/"auto" answers: the tests assert that the front ends agree, so a
front end whose choice disagrees with its features fails.
"""

import functools
import json
import os
import platform
import subprocess

import wdrun

PREFERENCE = ("lsm", "kprobe", "tracepoint")        # auto's order
ACTIONS = ("deny", "throttle", "kill", "monitor")
COMMON = ("x86-64", "bpf() program load", "BPF atomic cmpxchg", "BPF ring buffer",
          "syscall tracepoints")
NEEDS = {"tracepoint": COMMON,
         "kprobe": COMMON + ("kprobes", "bpf_override_return",
                             "error injection on read syscalls", "override takes effect"),
         "lsm": COMMON + ("kernel BTF", "BPF-LSM active", "BPF-LSM program load")}
SIGNALS = ("bpf_send_signal", "bpf_send_signal_thread")
# Throttle holds against SIGCONT only with this watch (a raw tracepoint on
# signal_generate, and BTF for the signalled thread's process); without it
# throttle is refused.
ESCALATION = "throttle escalation (SIGCONT)"
READS = ("read", "pread64", "readv", "preadv", "preadv2")
COPIES = ("sendfile64", "splice", "copy_file_range")


@functools.lru_cache(maxsize=None)
def features():
    """{feature name: {"ok": bool, "detail": str}} for this kernel."""
    r = subprocess.run([wdrun.PYTHON, str(wdrun.WATCHDOG), "--probe-features", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    feats = json.loads(r.stdout)["features"]
    _check_files(feats)
    return feats


def _tracefs():
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(root, "events")):
            return root
    return None


def _check_files(feats):
    """The answers that are file facts, against the files (both front ends
    mount tracefs/debugfs/securityfs first, so they are mounted by now)."""
    tracefs = _tracefs()
    lsm = ""
    if os.path.exists("/sys/kernel/security/lsm"):
        with open("/sys/kernel/security/lsm") as f:
            lsm = f.read().strip()
    facts = {
        "x86-64": platform.machine() == "x86_64",
        "syscall tracepoints": bool(tracefs) and all(
            os.path.isdir("%s/events/syscalls/sys_enter_%s" % (tracefs, s))
            for s in READS + COPIES),
        "kprobes": os.path.exists("/sys/bus/event_source/devices/kprobe/type") or (
            bool(tracefs) and os.path.exists(tracefs + "/kprobe_events")),
        "kernel BTF": os.path.exists("/sys/kernel/btf/vmlinux"),
        "BPF-LSM active": "bpf" in lsm.split(","),
    }
    for name, fact in facts.items():
        assert feats[name]["ok"] == fact, (name, feats[name], "the files say", fact)
    # The escalation needs the signal_generate tracepoint and BTF (and a
    # raw tracepoint program load, which no file tells).
    if feats[ESCALATION]["ok"]:
        assert facts["kernel BTF"] and bool(tracefs) and os.path.isdir(
            tracefs + "/events/signal/signal_generate"), feats[ESCALATION]


def ok(name):
    return features()[name]["ok"]


def missing(backend):
    """The backend's first missing feature as the front ends word it
    ("name: detail"), or None if it works here."""
    for name in NEEDS[backend]:
        f = features()[name]
        if not f["ok"]:
            return "%s: %s" % (name, f["detail"])
    return None


def backends():
    """The backends that work here, strongest first."""
    return [b for b in PREFERENCE if missing(b) is None]


def throttle_holds():
    """Throttle can hold against SIGCONT here (raw tracepoint + BTF)."""
    return ok(ESCALATION)


def actions(backend):
    """The backend's actions here, in ACTIONS order (throttle only where it
    can escalate: without that it is refused)."""
    signals = all(ok(s) for s in SIGNALS)
    return [a for a in ACTIONS
            if not (a == "deny" and backend == "tracepoint") and
            not (a in ("throttle", "kill") and not signals) and
            not (a == "throttle" and not throttle_holds())]


def auto():
    """(backend, action) auto picks: the strongest backend, its strongest
    action (kill is never auto's choice: without deny or throttle, auto
    monitors)."""
    backend = backends()[0]
    return backend, [a for a in actions(backend) if a != "kill"][0]


def deny_backend():
    """The backend `--action deny` gets here, or None (deny impossible)."""
    return next((b for b in backends() if "deny" in actions(b)), None)


def attach_points(backend, action, targets=False):
    """The last part of every attach point ("sys_enter_read",
    "file_permission"...) a run with this backend and action has, exactly:
    the read routes, the exit tracepoint, the fork hook with targets,
    throttle's SIGCONT watch (raw tracepoint signal_generate), the kprobe
    backend's io_uring_setup refusal when it enforces, and the io_uring
    submit tracepoint where there is one (not on lsm, which sees io_uring
    reads at file_permission).  Each is attached once, so its size is the
    number of attach points (11 for tracepoint + throttle with io_uring)."""
    uring = features()["io_uring submit tracepoint"]
    points = {"sched_process_exit"} | ({"task_newtask"} if targets else set())
    if action == "throttle":
        points.add("signal_generate")
    if backend == "tracepoint":
        points |= {"sys_enter_" + s for s in READS + COPIES}
    elif backend == "kprobe":
        points |= {"__x64_sys_" + s for s in READS + COPIES}
        if uring["ok"] and action != "monitor":
            points.add("__x64_sys_io_uring_setup")
    else:
        points |= {"file_permission", "__x64_sys_sendfile64", "__x64_sys_copy_file_range"}
    if uring["ok"] and backend != "lsm":
        points.add(uring["detail"].rsplit(":", 1)[1])
    return points


def attach_kinds(backend, action=None):
    """The kinds ("tracepoint", "kprobe", ...) a backend's attach points
    are of: its own, the exit/fork/io_uring tracepoints and, under
    throttle, the raw tracepoint of the SIGCONT watch."""
    kinds = {"tracepoint": {"tracepoint"}, "kprobe": {"kprobe", "tracepoint"},
             "lsm": {"lsm", "fentry", "tracepoint"}}[backend]
    return kinds | ({"raw_tracepoint"} if action == "throttle" else set())
