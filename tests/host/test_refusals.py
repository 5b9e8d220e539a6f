"""Every refusal: bad input, unavailable backends/actions on this kernel,
missing capabilities (tests/host/test_privileges.py has more), no BCC, no
headers.  Each is one stderr line, exit status 2, and
nothing attached (checked by the conftest fixture after every test)."""

import os
import shutil
import subprocess
import tempfile

import pytest

import probed
import wdrun


def refuse(args, *, cmd=None, expect, preexec=None, argv0=None):
    argv = (argv0 or wdrun.argv0()) + args
    if cmd:
        argv += ["--"] + cmd
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                       preexec_fn=preexec)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(wdrun.prefix() + "error: "), lines
    assert expect in lines[0], lines[0]
    assert r.stdout == ""
    return lines[0]


@pytest.mark.parametrize("args,expect", [
    (["--max-calls", "0"], "--max-calls 0 is too small"),
    (["--max-calls", "-1"], "--max-calls '-1' is not a whole number"),
    (["--max-calls", "abc"], "--max-calls 'abc' is not a whole number"),
    (["--max-calls", "4000000001"], "the 32-bit window count needs headroom"),
    (["--max-calls", "99999999999999999999"], "at most 4000000000"),
    (["--window-ms", "0"], "--window-ms 0 is too small"),
    (["--window-ms", "1.5"], "--window-ms '1.5' is not a whole number"),
    (["--window-ms", "86400001"], "one day"),
    (["--backend", "ebpf"], "invalid choice: 'ebpf'"),
    (["--action", "block"], "invalid choice: 'block'"),
    (["--backend", "tracepoint", "--action", "deny"], "deny needs a backend that can fail"),
    (["--interval", "0"], "--interval 0 must be at least 0.1"),
    (["--interval", "x"], "--interval 'x' is not a number"),
    (["--duration", "-3"], "--duration -3 must be more than 0"),
    (["-p", "abc"], "--pid 'abc' is not a whole number"),
    (["-p", "0"], "--pid 0 is too small"),
    (["--comm", "a_name_longer_than_15"], "must be 1 to 15 bytes"),
    (["--map-size", "0"], "--map-size 0 is too small"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--"], "nothing after '--'"),
])
def test_bad_input(args, expect):
    refuse(args, expect=expect)


def test_pid_and_command_together():
    refuse(["-p", str(os.getpid())], cmd=["true"], expect="either -p/--pid or -- CMD")


def test_missing_pid():
    refuse(["-p", "4194000"], expect="--pid 4194000: no such process")


def test_pid_1_is_never_limited():
    refuse(["-p", "1"], expect="pid 1 is never limited")


def test_kernel_thread_is_never_limited():
    refuse(["-p", "2"], expect="pid 2 is a kernel thread")


def _starts(args, backend, action):
    """A run of args on no process of ours starts with this backend and action."""
    res = wdrun.run(args + ["--comm", "no_such_comm_x", "--duration", "0.3"])
    assert res.rc == 0, res.stderr
    assert (res.start["backend"], res.start["action"]) == (backend, action), res.start


@pytest.mark.parametrize("backend", probed.PREFERENCE)
def test_backend_refused_with_its_missing_feature_or_used(backend):
    """Where the kernel's features (tests/probed.py) lack one the backend
    needs, --backend is refused naming that feature; elsewhere it is used."""
    problem = probed.missing(backend)
    if problem:
        refuse(["--backend", backend], expect="backend %s is not available on this kernel: %s"
               % (backend, problem))
    else:
        _starts(["--backend", backend, "--action", "monitor"], backend, "monitor")


def test_deny_refused_or_given_the_strongest_deny_backend():
    """--action deny: refused, naming both deny backends' missing features,
    where neither works; else run on the strongest that does."""
    backend = probed.deny_backend()
    if backend is None:
        refuse(["--action", "deny"], expect="--action deny is not possible on this kernel: "
               "lsm: %s; kprobe: %s" % (probed.missing("lsm"), probed.missing("kprobe")))
    else:
        _starts(["--action", "deny"], backend, "deny")


def test_not_root():
    def drop():
        os.setgid(65534)
        os.setuid(65534)
    # The front end as nobody can reach it: the checkout may sit where
    # nobody cannot look (a clone in /root, mode 0700).
    tmp = tempfile.mkdtemp(prefix="wd-nobody-", dir="/tmp")
    try:
        os.chmod(tmp, 0o755)
        if wdrun.frontend() == "ethoswd":
            argv0 = [shutil.copy2(wdrun.ETHOSWD, tmp)]
        else:
            for d in ("ethoswd", "probe"):     # the package; the headers it reads
                shutil.copytree(wdrun.REPO / d, os.path.join(tmp, d),
                                ignore=shutil.ignore_patterns("__pycache__"))
            argv0 = [wdrun.PYTHON, shutil.copy2(wdrun.WATCHDOG, tmp)]
        refuse(["--action", "monitor"], preexec=drop, argv0=argv0,
               expect="missing capabilities in the effective set (uid 65534): CAP_BPF")
    finally:
        shutil.rmtree(tmp)


@pytest.mark.frontends("watchdog.py")   # ethoswd has no BCC to miss
def test_no_bcc():
    # -S: no site-packages, so Debian's python3-bpfcc is not importable.
    r = subprocess.run([wdrun.PYTHON, "-S", str(wdrun.WATCHDOG), "--action", "monitor",
                        "--", "true"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "BCC's Python module is missing" in r.stderr and "python3-bpfcc" in r.stderr


def test_no_kernel_headers():
    # Hide /lib/modules in a private mount namespace: headers vanish for
    # this one run only.  watchdog.py needs them for BCC's compiler and
    # refuses, unless the kernel carries its own (CONFIG_IKHEADERS=y, or
    # its kheaders module already loaded: /sys/kernel/kheaders.tar.xz);
    # ethoswd carries its compiled probe and must run without.
    kheaders = os.path.exists("/sys/kernel/kheaders.tar.xz")
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        "mount -t tmpfs none /lib/modules && exec \"$@\"", "sh"] +
                       wdrun.argv0() + ["--action", "monitor", "--", "true"],
                       capture_output=True, text=True, timeout=60)
    if wdrun.frontend() == "ethoswd" or kheaders:
        assert r.returncode == 0, r.stderr
        assert "stopped: command exited (status 0)" in r.stderr, r.stderr
        return
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no kernel headers" in r.stderr and "install.sh" in r.stderr


def test_command_not_found():
    """Checked before anything attaches: one line, exit 2 (it was 127 after
    attaching); tests/host/test_users.py has the other refusals."""
    r = subprocess.run(wdrun.argv0() + ["--action", "monitor", "--", "/nonexistent/cmd"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == "%serror: -- /nonexistent/cmd: No such file or directory\n" % (
        wdrun.prefix())


@pytest.mark.frontends("ethoswd")
def test_ethoswd_names_the_research_commands_it_leaves_to_watchdog_py():
    for word in ("record", "replay", "export", "sweep"):
        line = refuse([word, "x"], expect="research commands")
        assert "./watchdog.py %s" % word in line
