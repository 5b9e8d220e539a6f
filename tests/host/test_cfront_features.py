"""The C front end's feature probing (src/features.c, choose.c,
features_report.c) answers as ethoswd/features.py does on the same kernel:
every feature's yes/no and detail, every backend's and action's problem,
the routes, choose() for every --backend x --action (also on made-up
kernels: features flipped on both sides alike), the BTF offsets, the
summary line, and --probe-features itself (text byte for byte, JSON
member for member).

Needs only gcc, libbpf-dev and this repository (it also runs in the VM
guests).  Run directly, this file prints the Python side's lines:
/usr/bin/python3 tests/host/test_cfront_features.py SPEC...
"""

import json
import os
import re
import subprocess
import sys

import pytest

# Compares both front ends' feature probing itself: run once.
pytestmark = pytest.mark.frontends("watchdog.py")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/usr/bin/python3"
SOURCES = ["test_features.c", "features.c", "kbtf.c", "choose.c", "features_report.c",
           "policy_json.c", "sysenv.c", "text.c", "jitter_report.c", "jitter_bpf_probe.c",
           "jitter_bpf_report.c", "report.c", "offsets.c", "errors.c", "labels.c", "strutil.c"]
CFLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
          "-I" + os.path.join(REPO, "src")]
# Feature indexes (Features.all() order) flipped together before the
# decisions are compared: "-" is the kernel as probed.
SPECS = ["-", "15", "9,10,11,12", "9,10,11,12,15", "7", "8", "7,8", "4", "0",
         "5", "6", "13", "14", "3,15", "9,10,11,12,8", "17", "9,10,11,12,15,17"]
BACKENDS = ("lsm", "kprobe", "tracepoint")
ACTIONS = ("deny", "throttle", "kill", "monitor")
KEYS = ("process", "tree", "uid", "cgroup")


class _Policy:
    """What Features.offsets() asks of a policy."""

    def __init__(self, classes, exe):
        self.counts_all = not classes
        self.exclude_exe = ["exe"] if exe else []
        self.needs_btf = classes or exe


def python_lines(specs):
    """The Python front end's answers, in test_features.c's format."""
    sys.path.insert(0, REPO)
    from ethoswd import environment, features
    from ethoswd.errors import SetupError

    # As main._choose(): mount tracefs/debugfs/securityfs first, then probe.
    environment.mount_pseudo_filesystems()
    f = features.Features()
    out = ["kernel|%s" % f.kernel, "uring_tp|%s" % (f.uring.detail if f.uring else ""),
           "uring_ops|%s" % ", ".join(f.uring_ops)]
    out += ["feature|%s|%s|%s" % (x.name, "yes" if x else "no", x.detail) for x in f.all()]
    for spec in specs:
        flipped = [] if spec == "-" else [f.all()[int(i)] for i in spec.split(",")]
        for x in flipped:
            x.ok = not x.ok
        out += ["spec|%s" % spec] + _decisions(features, SetupError, f)
        for x in flipped:
            x.ok = not x.ok
    return out


def _decisions(features, SetupError, f):
    from ethoswd import routes
    out = []
    for b in BACKENDS:
        out.append("backend|%s|%s" % (b, f.backend_problem(b) or "ok"))
        for a in ACTIONS:
            out.append("action|%s|%s|%s" % (b, a, f.action_problem(b, a) or "ok"))
            out += ["route|%s|%s|%s|%s|%s" % ((b, a) + r) for r in routes.routes(f, b, a)]
    out += ["key|%s|%s" % (k, features.key_problem(f, k) or "ok") for k in KEYS]
    for b in ("auto",) + BACKENDS:
        for a in ("auto",) + ACTIONS:
            try:
                out.append("choose|%s|%s|%s|%s|%s" % ((b, a) + features.choose(f, b, a)))
            except SetupError as e:
                out.append("choose|%s|%s|error|%s" % (b, a, e))
    for b in BACKENDS:
        for k in range(-1, 4):
            pol = None if k < 0 else _Policy(bool(k & 1), bool(k & 2))
            try:
                got = ",".join("%s=%d" % kv for kv in f.offsets(b, pol).items())
            except SetupError as e:
                got = "error|%s" % e
            out.append("offsets|%s|%d|%s" % (b, k, got))
    from ethoswd.main import _summary_line
    out.append("summary|%s" % _summary_line(f))
    return out


def _build(tmp_path):
    exe = str(tmp_path / "test_features")
    src = [os.path.join(REPO, "src", s) for s in SOURCES]
    r = subprocess.run(["gcc"] + CFLAGS + ["-o", exe] + src + ["-lbpf"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # Like ethoswd, the driver finds ethos-clockd next to itself (--jitter's
    # block of --probe-features).
    clockd = os.path.join(REPO, "build", "ethos-clockd")
    assert os.access(clockd, os.X_OK), "%s is missing: run `make clockd`" % clockd
    os.symlink(clockd, str(tmp_path / "ethos-clockd"))
    return exe


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (cmd, r.stderr)
    return r.stdout


def test_c_features_agree_with_python(tmp_path):
    exe = _build(tmp_path)
    c = _run([exe] + SPECS).splitlines()
    py = _run([PYTHON, os.path.abspath(__file__)] + SPECS).splitlines()
    diffs = [(i, p, q) for i, (p, q) in enumerate(zip(py, c)) if p != q]
    assert not diffs, "\n".join("line %d\n  py: %s\n  c:  %s" % d for d in diffs[:10])
    assert len(c) == len(py), (len(c), len(py))


def test_c_probe_features_output_agrees(tmp_path):
    """--probe-features with the default policy: text byte for byte, JSON
    the same members (the time aside)."""
    exe = _build(tmp_path)
    watchdog = [PYTHON, os.path.join(REPO, "watchdog.py"), "--probe-features"]
    assert _run([exe, "--print"]) == _run(watchdog)
    c = json.loads(_run([exe, "--print-json"]))
    py = json.loads(_run(watchdog + ["--json"]))
    py.pop("time")
    c.pop("time", None)
    assert c == py


def test_ethoswd_probe_features_agrees_with_watchdog_py():
    """The real binary (build/ethoswd), not the driver: the same report."""
    exe = os.environ.get("WD_ETHOSWD", os.path.join(REPO, "build", "ethoswd"))
    assert os.access(exe, os.X_OK), "%s is missing: run `make ethoswd`" % exe
    watchdog = [PYTHON, os.path.join(REPO, "watchdog.py"), "--probe-features"]
    for extra in ([], ["--count", "sysinfo", "--key", "uid"]):
        assert _run([exe, "--probe-features"] + extra) == _run(watchdog + extra)
        c = json.loads(_run([exe, "--probe-features", "--json"] + extra))
        py = json.loads(_run(watchdog + ["--json"] + extra))
        c.pop("time")
        py.pop("time")
        assert c == py


# A mount namespace of its own with tracefs, debugfs and securityfs
# unmounted (as on a freshly booted machine), then CMD; the host's mounts
# stay as they are.  Exits 99 if any of them is still there.
UNMOUNTED = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
             "for m in /sys/kernel/debug/tracing /sys/kernel/tracing /sys/kernel/debug "
             "/sys/kernel/security; do "
             "if grep -q \" $m \" /proc/self/mounts; then umount -l \"$m\"; fi; done; "
             "if grep -qE \" (tracefs|debugfs|securityfs) \" /proc/self/mounts; then exit 99; fi; "
             "exec \"$@\"", "sh"]


def test_probe_features_agree_with_tracefs_unmounted(tmp_path):
    """Both front ends (and the driver above) mount tracefs, debugfs and
    securityfs before they probe: with all three unmounted, --probe-features
    says the same as with them mounted, and each says what it mounted."""
    exe = os.environ.get("WD_ETHOSWD", os.path.join(REPO, "build", "ethoswd"))
    assert os.access(exe, os.X_OK), "%s is missing: run `make ethoswd`" % exe
    runs = {"driver": [_build(tmp_path), "--print"],
            "ethoswd": [exe, "--probe-features"],
            "watchdog.py": [PYTHON, os.path.join(REPO, "watchdog.py"), "--probe-features"]}
    mounted = _run(runs["watchdog.py"])
    assert re.search(r"^syscall tracepoints +yes ", mounted, re.M), mounted
    for name, cmd in runs.items():
        r = subprocess.run(UNMOUNTED + cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (name, r.returncode, r.stderr)
        assert r.stdout == mounted, "%s with tracefs unmounted:\n%s" % (name, r.stdout)
        assert "mounted tracefs on /sys/kernel/tracing" in r.stderr, (name, r.stderr)


if __name__ == "__main__":
    print("\n".join(python_lines(sys.argv[1:])))
