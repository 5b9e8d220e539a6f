"""Both front ends, watchdog.py and build/ethoswd, run on one list of bad
command lines: each must be refused by both with exit status 2 and the
same error line, word for word (issue 17 section 6, issue 18 section 2).

Every refusal here happens before anything is loaded, and the front ends
run without any capability (parity.unprivileged()), so a command line
both accept stops at their privilege check: the unit suite never loads
BPF.  Refusals that depend on the kernel are in tests/host/test_parity.py.
"""

import os
import re
import subprocess
import threading
import time

import pytest

import parity
import test_config
import wdrun
from ethoswd import cli
from ethoswd.options import CHOICES, OPTIONS, examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONG_HEX = "0x" + "f" * 70


def _name(o):
    """argparse's name of an option in errors: "-p/--pid", "--json"."""
    return "/".join(x for x in (o.short, o.long) if x)


def _words(*texts):
    return [t.split() for t in texts]


# (argv, a fragment the shared line must hold)
BAD = [
    # unknown, missing and conflicting options
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["-x"], "unrecognized arguments: -x"),
    (["extra"], "unrecognized arguments: extra"),
    (["--ex"], "ambiguous option: --ex could match"),
    (["--"], "nothing after '--'"),
    (["-p", "5", "--", "true"], "either -p/--pid or -- CMD"),
    (["--backend", "tracepoint", "--action", "deny"], "deny needs a backend"),
    (["--key", "tree"], "--key tree needs target roots"),
] + [
    # from the option table (probe/options.def): every option that takes a
    # value, without one; every flag with one; every choice list, a wrong one
    ([o.short or o.long], "argument %s: expected one argument" % _name(o))
    for o in OPTIONS if o.kind in ("VALUE", "LIST")] + [
    ([o.long + "=1"], "argument %s: ignored explicit argument '1'" % _name(o))
    for o in OPTIONS if o.kind in ("FLAG", "VERSION")] + [
    ([o.long, "nope"], "argument %s: invalid choice: 'nope' (choose from %s)"
     % (_name(o), ", ".join("'%s'" % c for c in o.choices)))
    for o in OPTIONS if o.choices] + [
    # metrics options
    (["--metrics-listen", "localhost:9100"], "is not ADDR:PORT"),
    (["--metrics-listen", "[::1]:0"], "is not ADDR:PORT"),
    (["--metrics-listen", "1.2.3.4"], "is not ADDR:PORT"),
    (["--metrics-file="], "--metrics-file needs a file name"),
    (["--metrics-per-cgroup", "3"], "needs --metrics-file or --metrics-listen"),
    (["--metrics-per-cgroup", "0", "--metrics-file", "m.prom"], "is too small"),
    (["--metrics-per-cgroup", "3", "--metrics-file", "m.prom"],
     "it needs --key cgroup (the key here is process)"),
    (["--metrics", "m.prom"], "ambiguous option: --metrics could match --metrics-file, "
     "--metrics-listen, --metrics-per-cgroup"),
] + [
    # choices
    (["--profile", "x"], "invalid choice: 'x'"),
    (["--key", "nobody"], "invalid choice: 'nobody'"),
    (["--backend", ""], "invalid choice: ''"),
    (["--action", "block"], "invalid choice: 'block'"),
    # whole numbers: ASCII digits, an optional '+', ASCII white space around
    (["--max-calls", ""], "--max-calls '' is not a whole number"),
    (["--max-calls", " "], "--max-calls ' ' is not a whole number"),
    (["--max-calls", "+"], "--max-calls '+' is not a whole number"),
    (["--max-calls", "0"], "--max-calls 0 is too small"),
    (["--max-calls", "-1"], "--max-calls '-1' is not a whole number"),
    (["--max-calls", "1.5"], "is not a whole number"),
    (["--max-calls", "1_000"], "--max-calls '1_000' is not a whole number"),
    (["--max-calls", "0x10"], "--max-calls '0x10' is not a whole number"),
    (["--max-calls", "\u0661\u0660\u0660"], "is not a whole number"),     # Arabic-Indic 100
    (["--max-calls", "\uff11"], "is not a whole number"),                 # fullwidth 1
    (["--max-calls", "\u00a05"], "is not a whole number"),                # NBSP: not ASCII space
    (["--max-calls", "5\u2003"], "is not a whole number"),
    (["--max-calls", "4000000001"], "the 32-bit window count needs headroom"),
    (["--max-calls", "99999999999999999999"], "at most 4000000000"),
    (["--window-ms", "0"], "--window-ms 0 is too small"),
    (["--window-ms", "86400001"], "one day"),
    (["--window-ms", "1e3"], "is not a whole number"),
    (["--window-ms", "\u0665"], "is not a whole number"),
    (["--map-size", "0"], "--map-size 0 is too small"),
    (["--map-size", "4194305"], "4194304 entries"),
    (["--map-size", "x"], "is not a whole number"),
    # -p values
    (["-p", "abc"], "--pid 'abc' is not a whole number"),
    (["-p", "0"], "--pid 0 is too small"),
    (["-p", "4194305"], "PID_MAX_LIMIT"),
    (["-p", ""], "--pid '' is not a whole number"),
    (["-p", "\u0661"], "is not a whole number"),
    (["-p", "1_0"], "is not a whole number"),
    (["-p", "0x1"], "is not a whole number"),
    (["-p", "1"], "pid 1 is never limited"),
    (["-p", "2"], "pid 2 is a kernel thread"),
    (["-p", "4194000"], "--pid 4194000: no such process"),
    (["-p", "1"] * 65, "-p/--pid: at most 64 processes"),
    # seconds: a decimal number in ASCII; -i at least 0.1 s
    (["-i", "0"], "--interval 0 must be at least 0.1 and at most 3600 seconds"),
    (["-i", "0.05"], "--interval 0.05 must be at least 0.1"),
    (["-i", "1e-9"], "--interval 1e-9 must be at least 0.1"),
    (["-i", "-1"], "--interval -1 must be at least 0.1"),
    (["-i", "3601"], "--interval 3601 must be at least 0.1 and at most 3600"),
    (["-i", "inf"], "--interval inf must be at least 0.1"),
    (["-i=-inf"], "--interval -inf must be at least 0.1"),
    (["-i", "-inf"], "argument -i/--interval: expected one argument"),
    (["-i", "nan"], "--interval 'nan' is not a number of seconds"),
    (["--interval=-NaN"], "--interval '-NaN' is not a number of seconds"),
    (["-i", "x"], "--interval 'x' is not a number of seconds"),
    (["-i", ""], "--interval '' is not a number of seconds"),
    (["-i", "1_0"], "--interval '1_0' is not a number of seconds"),
    (["-i", "0x10"], "is not a number of seconds"),
    (["-i", "\u0661"], "is not a number of seconds"),
    (["-i", "1\u00a0"], "is not a number of seconds"),
    (["--interval=", ], "--interval '' is not a number of seconds"),
    (["--duration", "0"], "--duration 0 must be more than 0 and at most 1e+07 seconds"),
    (["--duration", "-3"], "--duration -3 must be more than 0"),
    (["--duration", "1e8"], "--duration 1e8 must be more than 0 and at most 1e+07"),
    (["--duration", "inf"], "--duration inf must be more than 0"),
    (["--duration", "nan"], "--duration 'nan' is not a number of seconds"),
    (["--duration", "x"], "--duration 'x' is not a number of seconds"),
    (["--duration", "1_0"], "is not a number of seconds"),
    (["--duration", "\u0661"], "is not a number of seconds"),
    # command names
    (["--comm", ""], "--comm '' must be 1 to 15 bytes long"),
    (["--comm", "x" * 16], "must be 1 to 15 bytes long"),
    (["--comm", "x" * 14 + "\u00e9"], "must be 1 to 15 bytes long"),     # 16 bytes
    (["--comm", b"x" * 15 + b"\xff"], "must be 1 to 15 bytes long"),     # not UTF-8
    (["--exclude-comm", ""], "--exclude-comm '' must be 1 to 15 bytes"),
    (["--exclude-comm", b"\xff" * 16], "must be 1 to 15 bytes long"),
    (sum((["--comm", "c%d" % i] for i in range(65)), []), "--comm: at most 64 names"),
    (sum((["--exclude-comm", "c%d" % i] for i in range(65)), []),
     "--exclude-comm: at most 64 names"),
    # --count and filesystem magics: 0x and 1 to 8 hex digits
    (["--count", "bogus"], "expected all, sysinfo, files or fs:NAME"),
    (["--count", ",proc"], "expected all, sysinfo, files or fs:NAME"),
    (["--count", "\u00a0sysinfo"], "expected all, sysinfo, files or fs:NAME"),
    (["--count", "all,sysinfo"], "expected all, sysinfo, files"),
    (["--count", "fs:"], "expected all, sysinfo, files"),
    (["--count", "fs:zzz"], "--count: unknown filesystem 'zzz'"),
    (["--count", "fs:\u0661"], "--count: unknown filesystem"),
    (["--count", "files"], "--count files needs at least one --file PATH"),
    (["--count", "fs:0x"], "--count: bad magic number '0x': expected 0x and 1 to 8 hex"),
    (["--count", "fs:0xzz"], "bad magic number '0xzz'"),
    (["--count", "fs:0x1ffffffff"], "bad magic number '0x1ffffffff': expected 0x and 1 to 8"),
    (["--count", "fs:0x000000001"], "bad magic number"),
    (["--count", "fs:" + LONG_HEX], "bad magic number '%s'" % LONG_HEX),
    (["--count", "fs:0x_1f"], "bad magic number '0x_1f'"),
    (["--count", "fs:0x1_f"], "bad magic number '0x1_f'"),
    (["--count", "fs:0x\u0661"], "bad magic number"),
    (["--count", "fs:0x\uff11"], "bad magic number"),
    (["--count", "fs:" + ",".join("0x%x" % (i + 1) for i in range(65))],
     "--count: too many filesystems (at most 64)"),
    # files and executables
    (["--count", "sysinfo", "--file", "/nonexistent"], "--file /nonexistent: No such file"),
    (["--count", "sysinfo", "--file", "/etc"], "--file /etc is not a regular file"),
    (["--file", "/etc/passwd"], "--count all counts every read already"),
    (["--exclude-exe", "/etc/passwd"], "--exclude-exe /etc/passwd is not executable"),
    (["--exclude-exe", "/nonexistent"], "--exclude-exe /nonexistent: No such file"),
    (["--exclude-exe", "/etc"], "is not a regular file"),
    # --jitter GRAIN: a whole number and a unit, 1us to 1s, with -- CMD
    (["--jitter", "100", "--", "true"], "--jitter '100' is not a duration"),
    (["--jitter", "1e3us", "--", "true"], "--jitter '1e3us' is not a duration"),
    (["--jitter", "100uS", "--", "true"], "--jitter '100uS' is not a duration"),
    (["--jitter", "\u0661us", "--", "true"], "is not a duration"),
    (["--jitter", "999ns", "--", "true"], "--jitter 999ns is too small"),
    (["--jitter", "1500ns", "--", "true"], "is not a whole number of microseconds"),
    (["--jitter", "1001ms", "--", "true"], "--jitter 1001ms is too large"),
    (["--jitter-mode", "pause", "--", "true"], "--jitter-mode needs --jitter GRAIN"),
    (["--jitter-mode", "fast"], "invalid choice: 'fast'"),
    # --jitter-via: the BPF modes for -p, --comm and system-wide
    (["--jitter-via", "write", "-p", "1"], "--jitter-via needs --jitter GRAIN"),
    (["--jitter-via", "fast", "--jitter", "1ms"], "invalid choice: 'fast'"),
    (["--jitter", "100us", "--jitter-via", "launcher", "--comm", "x"],
     "--jitter-via launcher needs -- CMD"),
    (["--jitter", "1ms", "--jitter-via", "quantize", "--comm", "x"],
     "--jitter 1000us with --jitter-via quantize: a reader is held at most 100us a read"),
    (["--jitter", "1ms", "--jitter-mode", "pause", "--jitter-via", "write", "--comm", "x"],
     "--jitter 1000us with --jitter-via write and --jitter-mode pause: a reader is held "
     "at most 100us"),
    (["--jit", "1ms", "--", "true"], "ambiguous option: --jit could match"),
    # with -u USER: -u's own checks come first
    (["--jitter", "100us", "-u", "nobody"], "-u/--user runs the launched command"),
    (["-u", "no-such-user-h8", "--jitter", "1ms", "--", "true"], "no such user"),
]


def _ids(cases):
    return [" ".join(a if isinstance(a, str) else repr(a) for a in args)[:60]
            or "(none)" for args, _ in cases]


@pytest.fixture(scope="module", autouse=True)
def built():
    assert os.access(str(wdrun.ETHOSWD), os.X_OK), (
        "%s is missing: build it with `make ethoswd`" % wdrun.ETHOSWD)


@pytest.mark.parametrize("args,fragment", BAD, ids=_ids(BAD))
def test_bad_input_same_refusal(args, fragment):
    line = parity.same_refusal(parity.answers(args, wrap=parity.unprivileged()))
    assert fragment in line, line


def test_too_many_files_and_executables(tmp_path):
    files = []
    for i in range(1025):
        f = tmp_path / ("f%d" % i)
        f.write_text("")
        files += ["--file", str(f)]
    line = parity.same_refusal(parity.answers(["--count", "sysinfo"] + files,
                                              wrap=parity.unprivileged()))
    assert line == "--file: at most 1024 files"
    exes = []
    for i in range(65):
        f = tmp_path / ("x%d" % i)
        f.write_text("#!/bin/sh\n")
        f.chmod(0o755)
        exes += ["--exclude-exe", str(f)]
    line = parity.same_refusal(parity.answers(exes, wrap=parity.unprivileged()))
    assert line == "--exclude-exe: at most 64 executables"


def test_pid_of_the_watchdog_itself_is_refused():
    ans = parity.answers(["--action", "monitor"], self_pid=True, wrap=parity.unprivileged())
    for a in ans.values():      # each names its own pid
        assert a.rc == 2 and a.stdout == "" and a.error is not None, a
        assert re.fullmatch(r"--pid \d+: that is the watchdog's own process; it never "
                            r"limits itself", a.error), a


def test_pid_of_a_zombie_is_refused():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        line = parity.same_refusal(parity.answers(["-p", str(pid)],
                                                  wrap=parity.unprivileged()))
        assert line == ("--pid %d: process %d has exited (a zombie its parent has not "
                        "reaped); give a running process" % (pid, pid))
    finally:
        os.waitpid(pid, 0)


def test_pid_of_a_thread_names_its_process():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        line = parity.same_refusal(parity.answers(["-p", str(t.native_id)],
                                                  wrap=parity.unprivileged()))
        assert line == ("--pid %d: %d is a thread of process %d; give the process ID %d"
                        % (t.native_id, t.native_id, os.getpid(), os.getpid()))
    finally:
        stop.set()
        t.join()


# Accepted by both: they go on to the privilege check, which refuses them
# alike (no capability at all here).
GOOD = _words("", "--max-calls +5", "--window-ms 007", "-i 0.1", "-i 3600", "-i 1e-1",
              "-i .5", "-i 5.", "-i 1E3", "--duration 1e7", "--duration 1e-9",
              "--count fs:0xffffffff,0X1F",
              "--count fs:0x00000000", "--count sysinfo,fs:tmpfs",
              "--comm 123456789012345", "--map-size 4194304",
              "--max-calls 4000000000 --window-ms 86400000",
              "--action monitor -- true", "--jitter 100us -- true",
              "--jitter 1s --jitter-mode pause -- true", "--jitter 1000ns -- true",
              "--jitter 1ms -u nobody -- true", "--jitter 100us",
              "--jitter 1ms --comm x", "--jitter 100us --jitter-via quantize --comm x",
              "--jitter 1ms --jitter-via write --comm x",
              "--jitter 100us --jitter-via launcher -- true",
              "--jitter 1ms --jitter-via auto -- true") + [
    ["--max-calls", " 5\t"], ["--comm", "x" * 13 + "\u00e9"], ["--comm", b"\xff" * 15],
    ["-p", str(os.getpid())], ["-p", " +%d " % os.getpid()],
    ["-i", "\t2.5 "], ["--max-calls", "5\x1c"]]


@pytest.mark.parametrize("args", GOOD, ids=_ids([(g, 0) for g in GOOD]))
def test_good_input_reaches_the_privilege_check_in_both(args):
    line = parity.same_refusal(parity.answers(args, wrap=parity.unprivileged()))
    assert "CAP_BPF" in line, line


# ---- --help, --version, defaults ------------------------------------------

def _help(name):
    p = subprocess.run(parity.argv0(name) + ["--help"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, COLUMNS="80"))
    assert p.returncode == 0 and p.stderr == "", p
    return p.stdout


def _options(text):
    """{option: (metavar, help text)} of a --help's options section."""
    section = text.split("\noptions:\n", 1)[1].split("\n\n", 1)[0]
    found, last = {}, None
    for line in section.splitlines():
        m = re.match(r"  (-\S.*?)(?:  +(\S.*))?$", line)
        if m:
            last = []
            for spec in m.group(1).split(", "):
                opt, _, meta = spec.partition(" ")
                found[opt] = (meta, last)
            if m.group(2):
                last.append(m.group(2))
        else:
            last.append(line.strip())
    return {k: (meta, " ".join(words)) for k, (meta, words) in found.items()}


C_TRAILER = ("\nethoswd runs the watchdog only: the research commands record, replay,\n"
             "export and sweep are in watchdog.py.\n")


def test_help_is_the_same_text_in_both():
    """ethoswd's --help is watchdog.py's byte for byte, but for the
    program's name and its last paragraph (opts.c formats the table as
    argparse does)."""
    py, c = _help("watchdog.py"), _help("ethoswd")
    want = py.replace("usage: watchdog.py ", "usage: ethoswd ", 1).replace(
        examples("./watchdog.py"), examples("ethoswd")) + C_TRAILER
    assert c == want


def test_help_lists_the_table():
    """Both --help outputs list the options of probe/options.def, with their
    metavar (or choices) and help text; --ebpf (no help) is hidden."""
    table = {}
    for o in OPTIONS:
        if o.help is None:
            continue
        meta = "{%s}" % ",".join(o.choices) if o.choices else o.metavar or ""
        for name in (o.short, o.long):
            if name:
                table[name] = (meta, " ".join(o.help.split()))
    for name in wdrun.FRONTENDS:
        assert _options(_help(name)) == table, name
    assert "--ebpf" not in table and {"--version", "-h", "--jitter-via"} <= set(table)


def test_defaults_are_the_table_s():
    """What watchdog.py makes of no options is the table's DEFAULT (ethoswd
    makes the same: test_cfront_text.py compares both parsers on "")."""
    a = cli.parse([])
    got = {o.long: getattr(a, o.long[2:].replace("-", "_")) for o in OPTIONS
           if o.default is not None}
    assert got == {"--profile": "seed", "--backend": "auto", "--action": "auto",
                   "--interval": 1.0, "--map-size": wdrun_map_size()}
    for o in OPTIONS:
        if o.default is not None:
            assert str(got[o.long]) in (o.default, o.default + ".0")
    assert (a.policy.max_calls, a.policy.window_ms) == (100, 500)
    assert CHOICES["keys"] == ("process", "tree", "uid", "cgroup")   # WD_KEY_* order


def wdrun_map_size():
    from ethoswd.abi import DEFS
    return DEFS["WD_MAX_PIDS"]


def test_version_in_both():
    for name in wdrun.FRONTENDS:
        p = subprocess.run(parity.argv0(name) + ["--version"], capture_output=True,
                           text=True, timeout=60)
        assert (p.returncode, p.stdout, p.stderr) == (0, "%s 1.0\n" % name, ""), p


# ---- --config FILE: the same files accepted and refused by both --------------

@pytest.mark.parametrize("text,line", test_config.BAD + [
    ("max-calls = 0\n", "--max-calls 0 is too small: it must be at least 1"),
    ("interval = 1e-2\n", "--interval 1e-2 must be at least 0.1"),
    ("comm = ['%s']\n" % ("x" * 16), "--comm 'xxxxxxxxxxxxxxxx' must be 1 to 15 bytes long"),
    ("count = ['sysinfo', 'fs:nope']\n", "--count: unknown filesystem 'nope'")],
    ids=[repr(t)[:40] for t, _ in test_config.BAD] + ["max0", "interval", "comm16", "fs"])
def test_config_file_same_refusal(tmp_path, text, line):
    f = tmp_path / "wd.toml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    got = parity.same_refusal(parity.answers(["--config", str(f)], wrap=parity.unprivileged()))
    want = line if line.startswith("--") and "line" not in line.split(":")[0] else \
        "--config %s: %s" % (f, line)
    assert got.startswith(want), got


GOOD_FILES = [
    "", "# a comment\r\n\n", "max-calls = +5\nwindow-ms = 300 # ms\n",
    'count = ["sysinfo", "fs:tmpfs"]\nkey = "cgroup"\n',
    'comm = [\n  "a",  # one\n  \'b\\n\',\n]\nexclude-comm = "x"\njson = true\n',
    "interval = 0.5\nduration = 1e3\naction = 'monitor'\nbackend = 'tracepoint'\n",
    'profile = "fingerprint"\nexclude-exe = ["/bin/sh"]\nmap-size = 1024\n',
    'comm = "caf\\u00e9"\n']


@pytest.mark.parametrize("text", GOOD_FILES)
def test_config_file_accepted_by_both(tmp_path, text):
    f = tmp_path / "wd.toml"
    f.write_text(text)
    line = parity.same_refusal(parity.answers(["--config", str(f)], wrap=parity.unprivileged()))
    assert "CAP_BPF" in line, line


def test_config_file_missing_in_both():
    line = parity.same_refusal(parity.answers(["--config", "/nonexistent/wd.toml"],
                                              wrap=parity.unprivileged()))
    assert line == "--config /nonexistent/wd.toml: No such file or directory"
