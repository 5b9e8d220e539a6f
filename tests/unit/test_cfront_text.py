"""The C front end's text, report, option, policy and privilege parts
(src/text.c, report.c, opts.c, policy.c, sysenv.c) against the Python
modules they mirror (ethoswd/safetext.py, report.py, cli.py, policy.py,
environment.py): the same input must give the same bytes.

src/test_front.c is built with gcc (a missing gcc fails the test) and run
once per input; without arguments it runs its own checks."""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess

import pytest

from ethoswd import cgnames, cli, environment as env, safetext
from ethoswd.errors import SetupError
from ethoswd.report import Reporter, num

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")
SOURCES = ["test_front.c", "opts.c", "config.c", "policy.c", "policy_json.c", "text.c",
           "report.c", "sysenv.c", "runas.c", "jitter_bpf_report.c", "errors.c", "labels.c",
           "strutil.c"]
# -iquote, not -I: a src/ header named like a system one (features.h)
# must not shadow glibc's.
CFLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
          "-D_GNU_SOURCE", "-iquote", SRC]


def _build(out, extra=()):
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build src/test_front.c"
    cmd = [gcc] + CFLAGS + list(extra) + ["-o", out] + \
        [os.path.join(SRC, s) for s in SOURCES] + ["-lm"]
    subprocess.run(cmd, check=True)
    return out


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    return _build(str(tmp_path_factory.mktemp("cfront") / "test_front"))


def run(front, *args):
    out = subprocess.run([front] + list(args), check=True, capture_output=True)
    return out.stdout.decode("utf-8", "surrogateescape")[:-1]    # one "\n"


def test_self_checks(front):
    assert run(front) == "ok"


def test_self_checks_under_sanitizers(tmp_path):
    exe = _build(str(tmp_path / "test_front_san"),
                 ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
    assert run(exe) == "ok"
    for mode in ("text", "json"):
        run(exe, "report", mode)
    for argv in BAD_ARGS[:10] + GOOD_ARGS:
        run(exe, "parse", "ethoswd", *argv)


NAMES = [b"", b"plain", b"a\\b", b"\x1b[2J\x1b[31mpwn\n", b"a\tb\rc\x7f",
         b"\xff\xfeok", b"caf\xc3\xa9", b"\xe2\x80\xaeevil", b"x" * 15,
         b"\x1b" * 15, b"x" * 13 + b"\n\n", b"ab\x00cd", b"\xf0\x9f\x98\x80z",
         b"\xed\xa0\x80", b"\xe2\x82", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"~ }"]
WIDTHS = [0, 1, 2, 3, 4, 5, 10, 16, 40]


@pytest.mark.parametrize("raw", NAMES, ids=[repr(n) for n in NAMES])
def test_escape_and_cell(front, raw):
    assert run(front, "escape", raw.hex()) == safetext.escape(raw)
    for w in WIDTHS:
        assert run(front, "cell", str(w), raw.hex()) == safetext.cell(raw, w), w


TEXTS = [b"plain line", b"tab\there", b"new\nline\r", b"esc \x1b[31m red",
         b"del\x7f c1\xc2\x85 nbsp\xc2\xa0", b"bidi \xe2\x80\xae rtl \xe2\x81\xa6",
         b"bad \xff\xfe utf8 \xe2\x82", b"emoji \xf0\x9f\x98\x80 ok", b"back\\slash",
         b"zwsp \xe2\x80\x8b bom \xef\xbb\xbf", b"priv \xee\x80\x80 \xf3\xb0\x80\x80",
         b"caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87", b"nonchar \xef\xbf\xbe"]


@pytest.mark.parametrize("raw", TEXTS, ids=[repr(t) for t in TEXTS])
def test_one_line_and_json_strings(front, raw):
    text = raw.decode("utf-8", "surrogateescape")
    assert run(front, "oneline", raw.hex()) == safetext.one_line(text)
    assert run(front, "json", raw.hex()) == json.dumps(raw.decode("utf-8", "replace"))


NUMBERS = [0, 5, 999, 1000, 12345, 123456, 999999, 1000000, 1234567, 9999999,
           99999999, 123456789, 10 ** 9, 1234567890123, 10 ** 15, 123456789012345678,
           2 ** 64 - 1]


@pytest.mark.parametrize("width", [1, 5, 6, 7, 8, 9, 10, 11, 20])
def test_numbers(front, width):
    for v in NUMBERS:
        assert run(front, "n", str(v), str(width)) == num(v, width), v


FLOATS = [0.0, 1.5, 3.0, 0.12345, 1718000000.1234567, 12.3456, 0.0005, 0.00001,
          1e16, 1234567890123456.7, 2.675, 1e-7, 123.0, 99.9995]


def test_floats(front):
    for x in FLOATS:
        for nd in (-1, 1, 3):
            want = repr(x if nd < 0 else round(x, nd))
            assert run(front, "float", repr(x), str(nd)) == want, (x, nd)


# ---- options ---------------------------------------------------------------

def _py_parse(argv):
    """What cli.parse makes of argv, in test_front's "parse" format."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            a = cli.parse(argv)
    except SetupError as e:
        return "ERR %s" % e
    except SystemExit:
        return "EXIT"
    p = a.policy
    d = {"policy": p.as_dict(), "policy_notes": p.notes, "backend": a.backend,
         "action": a.action, "pid": a.pid, "comm": a.comm,
         "exclude_comm": a.exclude_comm, "command": a.command,
         "interval": a.interval, "duration": a.duration, "json": a.json,
         "probe_features": a.probe_features, "map_size": a.map_size,
         "state_file": a.state_file, "resume_stopped": a.resume_stopped,
         "metrics_file": a.metrics_file,
         "metrics_listen": "%s %d" % a.metrics_listen if a.metrics_listen else None,
         "metrics_per_cgroup": a.metrics_per_cgroup or 0,
         "describe_count": p.describe_count(), "describe_key": p.describe_key(),
         "needs_btf": p.needs_btf,
         "user": a.user.as_dict() if a.user else None,
         "jitter": a.jitter, "jitter_mode": a.jitter_mode, "jitter_via": a.jitter_via}
    return "OK " + json.dumps(d, sort_keys=True)


BAD_ARGS = [s.split() for s in (
    "--foo", "--backend x", "--key", "--max-calls 0", "--window-ms 99999999999",
    "--max-calls abc", "-i 0", "-i nan", "--duration x", "--comm 1234567890123456",
    "--comm=", "--foo --bar 1", "-p 1 -- ls", "--", "--action deny --backend tracepoint",
    "--count files", "--file /nonexistent", "--file /etc", "--key tree",
    "--count fs:zzz", "--count fs:0xzz", "--count bogus", "--file /etc/passwd",
    "-x", "-pfoo", "--max-calls", "--max", "--json=1", "--pid", "extra",
    "--profile x", "--ma 5", "--ma=5", "--e", "--ex", "--max=0", "-hx", "-px",
    "-p5 -p 0", "--comm -x", "-5", "--max-calls 5 extra --json", "-x=3",
    "--comm=a=b --exclude-comm a -i 0", "-i 1e9", "-i inf", "-i -1",
    "--duration 1e8", "-i 0x10", "--max-calls 1_000", "--max-calls 4000000001",
    "--map-size 0", "--map-size 4194305", "--pid 4194305",
    "--backend kprobe --backend x --foo", "--foo --backend x", "--max-calls 0 --foo",
    "--count fs:", "--count fs:tmpfs,sysinfo", "--count all,sysinfo",
    "--count ,proc", "--count fs:proc,,tmpfs", "--max-calls 000000000000000000000000099999999999",
    "--max-calls +0", "--max-calls -5", "--action bogus", "--key nobody",
    "--json=", "--help=1", "-i", "-p", "--interval=", "--duration 0",
    "--duration -inf", "--window-ms 86400001", "--exclude-comm 1234567890123456",
    "--max-calls 5 --max-calls 0", "-p 1 -p x", "--count files --file /nonexistent",
    "--exclude-exe /etc/passwd", "--exclude-exe /nonexistent", "--exclude-exe /etc",
    "--count fs:0x", "--count fs:0x_", "--max-calls 99999999999999999999999999",
    "--max-calls '5'", "--comm it's", "--pid=", "-p=", "-i=x", "-i 1_0.5",
    "--count fs:0x_1f", "--count fs:0x123456789", "-i 0.05", "-i -nan", "--version=1",
    "-u nobody", "-p 1 -u nobody", "-u no-such-user-h4 -- ls", "-u 99999999999 -- ls",
    "--user= -- ls", "-u -- ls", "-u 4294967295 -- ls",
    "--resume-stopped /run/x --max-calls 5", "--resume-stopped /x -- ls",
    "--res /x -i 1", "--resume-stopped= ", "--state-file=", "--resume-stopped",
    "--resume-stopped /x --state-file /y", "--ebpf --resume-stopped /x",
    "--resume-stopped /x -u nobody",
    "--metrics-listen 9100", "--metrics-listen :9100", "--metrics-listen localhost:9100",
    "--metrics-listen 127.0.0.1:0", "--metrics-listen 127.0.0.1:65536",
    "--metrics-listen 127.0.0.01:80", "--metrics-listen 1.2.3:80",
    "--metrics-listen ::1:80", "--metrics-listen [1.2.3.4]:80", "--metrics-listen [::1]]:80",
    "--metrics-listen [::1]:", "--metrics-listen [::1]:8x", "--metrics-listen [fe80::1%lo]:80",
    "--metrics-listen 127.0.0.1:99999999999999999999999", "--metrics-file=",
    "--metrics-per-cgroup 5", "--metrics-per-cgroup 0 --metrics-file m.prom",
    "--metrics-per-cgroup 1001 --metrics-file m.prom",
    "--metrics-per-cgroup 5 --metrics-file m.prom",
    "--metrics-per-cgroup 5 --metrics-file m.prom --key uid",
    "--metrics-listen x --metrics-per-cgroup 0", "--metr 5",
    "--jitter 100us", "--jitter 100 -- ls", "--jitter=", "--jitter 0ms -- ls",
    "--jitter 999ns -- ls", "--jitter 1500ns -- ls", "--jitter 2s -- ls",
    "--jitter 1001ms -- ls", "--jitter 99999999999999999999999us -- ls",
    "--jitter 100uS -- ls", "--jitter ' 100us' -- ls", "--jitter-mode pause",
    "--jitter-mode fast --jitter 1ms -- ls", "--jit 1ms -- ls", "-p 1 --jitter 1ms",
    "--jitter -1us -- ls", "--jitter 1e3us -- ls", "--jitter=1ms --comm x",
    "--jitter 100us -u nobody", "-u no-such-user-h4 --jitter 1ms -- ls",
    "--jitter-via write", "--jitter-via x --jitter 1ms", "--jitter 1ms --jitter-via launcher",
    "--jitter 101us --jitter-via quantize -p 1",
    "--jitter 1ms --jitter-via write --jitter-mode pause --comm x")]
GOOD_ARGS = [s.split() for s in (
    "", "--json", "--max-calls +5 --window-ms 200", "-p5 -p 6", "-p=7", "-i=2.5",
    "--comm -5", "--json --json", "--duration 1e7", "-i 0.1", "--max-calls 007",
    "--count sysinfo,fs:tmpfs,0x1234", "--count files,sysinfo --file /etc/passwd",
    "--profile fingerprint", "--profile fingerprint -p 1",
    "--profile fingerprint --count sysinfo", "--profile=fingerprint --key process",
    "--count=fs:0X1F,proc --file /etc/passwd --file /etc/passwd --key uid",
    "--count sysinfo --file /etc/passwd --file /etc/hostname",
    "--exclude-exe /bin/sh --exclude-exe /bin/sh --exclude-exe /usr/bin/env",
    "--max=5 --win 10 --pro fingerprint --bac lsm --act kill -i .5",
    "--key tree -- sleep 1", "-- ls -l -- --foo", "--backend tracepoint --action throttle",
    "--action deny --backend kprobe", "--comm é --exclude-comm a\tb",
    "--map-size 4194304 --window-ms 86400000 --max-calls 4000000000",
    "--ebpf --probe-features", "-i inFinity", "--duration 1E3", "-i 5.",
    "--count fs:0x0001f", "--count ' all '", "-h", "--help", "-hp5", "--foo -h",
    "--max-calls 0 -h", "--hel", "-p 1 -h -- ls",
    "-u nobody -- ls", "-u 65534 -- true", "--user=root -- ls", "-unobody -- ls",
    "--us daemon -- ls",
    "--resume-stopped /run/ethoswd/stopped", "--json --resume-stopped=/x --json",
    "--res /x", "--state-file /run/ethoswd/stopped --max-calls 5", "--st /x",
    "--state-file /run/ethoswd/stopped -u nobody -- ls",
    "--metrics-file /tmp/x.prom --metrics-listen 127.0.0.1:9100",
    "--metrics-listen [::1]:9100 --key cgroup --metrics-per-cgroup 1000",
    "--metrics-listen=0.0.0.0:00080", "--metrics-listen [::ffff:1.2.3.4]:1",
    "--profile fingerprint --metrics-file m.prom --metrics-per-cgroup 3",
    "--metrics-f m.prom --metrics-l 127.0.0.1:1",
    "--jitter 100us -- ls", "--jitter=1ms --jitter-mode pause -- ls", "--jitter 1us -- ls",
    "--jitter 1s -- ls", "--jitter 1000000us -- ls", "--jitter 1000ns -- ls",
    "--jitter-mode=clamp --jitter 007us -- ls", "--jitter-m pause --jitter 10us -- ls",
    "--jitter 100us -u nobody -- ls", "--jitter 1ms --jitter-via write -p 1",
    "--jitter 100us --jitter-via quantize --comm x", "--jitter 1s --jitter-via auto",
    "--jitter-v launcher --jitter 1ms -- ls", "--jitter 100us --jitter-via=write -- ls")]


@pytest.mark.parametrize("argv", BAD_ARGS + GOOD_ARGS,
                         ids=[" ".join(a) or "(none)" for a in BAD_ARGS + GOOD_ARGS])
def test_parse_like_cli(front, argv):
    got = run(front, "parse", "ethoswd", *argv)
    if got.startswith("usage: ethoswd ") and got.endswith("\nEXIT"):
        got = "EXIT"                    # help printed (test_help_and_version)
    assert got == _py_parse(argv)


def test_help_and_version(front):
    text = run(front, "parse", "ethoswd", "--help")
    assert text.startswith("usage: ethoswd [options] [-- CMD [ARGS...]]")
    assert "record, replay" in text and "--map-size N" in text
    assert run(front, "parse", "ethoswd", "--version") == "ethoswd 1.0\nEXIT"


# ---- privileges --------------------------------------------------------------

def test_privilege_refusals_like_environment_py(front):
    """Every mix of capabilities, kernels (with and without CAP_BPF; before
    5.11 BPF maps count against RLIMIT_MEMLOCK), tracefs access, user and
    action gets the same answer from sysenv.c and environment.py."""
    bit = {n: 1 << c for c, n in ((env.CAP_BPF, "bpf"), (env.CAP_PERFMON, "perfmon"),
                                  (env.CAP_SYS_ADMIN, "admin"), (env.CAP_KILL, "kill"),
                                  (env.CAP_DAC_READ_SEARCH, "dac"),
                                  (env.CAP_DAC_OVERRIDE, "override"),
                                  (env.CAP_SYS_RESOURCE, "resource"))}
    sets = [0, (1 << 41) - 1, bit["bpf"] | bit["perfmon"], bit["bpf"], bit["perfmon"],
            bit["admin"], bit["bpf"] | bit["perfmon"] | bit["kill"] | bit["dac"],
            bit["bpf"] | bit["perfmon"] | bit["override"] | bit["resource"]]
    cases = [(caps, last, tfs, kern, mem, uid, act)
             for caps in sets for last in (40, 37) for tfs in (None, "/sys/kernel/tracing")
             for kern in ((6, 1), (5, 10)) for mem in (env.resource.RLIM_INFINITY, 65536)
             for uid in (0, 1000) for act in (None, "throttle")]
    stdin = "".join("%x %d %s %d %d %s %d %s\n" % (
        caps, last, tfs or "-", kern[0], kern[1],
        "inf" if mem == env.resource.RLIM_INFINITY else mem, uid, act or "-")
        for caps, last, tfs, kern, mem, uid, act in cases)
    got = subprocess.run([front, "privileges"], input=stdin, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert len(got) == len(cases)
    refused = 0
    for case, line in zip(cases, got):
        caps, last, tfs, kern, mem, uid, act = case
        problem = env.privilege_problem(env.Privileges(caps, last, tfs, kern, mem, uid), act)
        assert line == ("ERR " + problem if problem else "OK"), case
        refused += problem is not None
    assert 0 < refused < len(cases)
    full = env.Privileges((1 << 41) - 1, 40, None, (6, 1), 65536, 0)
    assert env.privilege_problem(full, "throttle") is None


# ---- report ----------------------------------------------------------------

HEALTH0 = {"map_full": 0, "contended": 0, "events_lost": 0, "targets_full": 0,
           "stops_full": 0}


CONTAINER = "0123456789abcdef" * 4
BOX = cgnames.make("/libpod_parent/libpod-" + CONTAINER)
ODD = cgnames.make(os.fsdecode(b"/we\xffird/\x1b[2J"))


def _share(pid, allowed, limited, comm, state, budget=("tree", 300, 0), cg=None):
    return dict(pid=pid, budget=budget[1], budget_key=budget[0], budget_uid=budget[2],
                allowed=allowed, limited=limited,
                total=allowed + limited, state=state, **safetext.name_fields(comm),
                **cgnames.fields(cg))


def _py_report(as_json):
    """The records of test_front.c cmd_report(), written by report.py."""
    out = io.StringIO()
    rep = Reporter(as_json, out)
    rows = []
    for i in range(25):
        comm = (b"proc%d" % i) if i % 5 else (b"\xff\nbad%d" % i)
        row = {"pid": 100 + i, "window": i * 7, "allowed": i * 1000003,
               "limited": i % 3, "limited_windows": i % 2, "activity": i % 4,
               "state": "ok"}
        row.update(safetext.name_fields(comm), cgroup=None)
        rows.append(row)
    rows[3]["allowed"] = 123456789012345
    rows[4]["state"] = "LIMITED"
    for r in rows:
        r["total"] = r["allowed"] + r["limited"]
    rep.limit(dict(rows[5], window_start_ms=4000000000, **cgnames.fields(BOX)), 100, 500,
              "deny")
    rep.clear(rows[1])
    rep.exited(rows[0])
    rep.escalate(rows[5], 105, True, 4321, 0, b"\x1b]0;x\x07evil")
    rep.escalate(rows[7], 107, False)
    rep.warn("a warning\nwith a break")
    rep.table(rows, dict(HEALTH0))
    rows = sorted(rows, key=lambda r: (-r["activity"], -r["total"], r["pid"]))
    rep.summary(rows[:3], {"map_full": 1, "contended": 2, "events_lost": 3,
                           "targets_full": 0, "stops_full": 0}, 12.34567)
    rep.summary(rows[:3], dict(HEALTH0), 3600.0, None,
                {"processes": 199001, "total": 400002, "allowed": 400000, "limited": 2,
                 "limited_windows": 1})
    shares = [_share(300, 50, 5, b"root\x1b[2J", "ok"),
              _share(301, 7000000, 0, b"child", "STOPPED"),
              _share(302, 1, 0, b"caf\xc3\xa9", "exited"),
              _share(7, 3, 0, b"own", "ok", ("process", 7, None))]
    tree = [{"key": "tree", "id": 300, "uid": 0, "user": "root", "name": None,
             "window": 12, "allowed": 7000051,
             "limited": 5, "total": 7000056, "limited_windows": 1, "activity": 9,
             "state": "STOPPED", "pids": [300, 301, 302], "processes": shares[:3]},
            {"key": "tree", "id": 99999999, "uid": 4242, "user": None,
             "name": "/a/very/long/cgroup/path.slice",
             "window": 0, "allowed": 0, "limited": 0, "total": 0, "limited_windows": 0,
             "activity": 0, "state": "LIMITED", "pids": [], "processes": []},
            {"key": "process", "id": 7, "uid": None, "user": None, "name": None,
             "window": 0, "allowed": 3, "limited": 0, "total": 3, "limited_windows": 0,
             "activity": 9, "state": "ok", "pids": [7], "processes": shares[3:]}]
    tree[0].update(safetext.name_fields(b"root\x1b[2J"))
    tree[1].update(safetext.name_fields(b""))
    tree[2].update(safetext.name_fields(b"own"))
    tree = [tree[0], tree[2], tree[1]]   # in the order the table sorts them
    rep.limit(tree[2], 16, 500, "throttle")
    rep.exited(tree[0])
    rep.escalate(tree[0], 301, True, 0, -2, b"")
    rep.limit(tree[1], 16, 500, "throttle")
    rep.table(tree[1:2], dict(HEALTH0), shares[3:])
    rep.table(tree, dict(HEALTH0), shares)
    rep.summary(tree, dict(HEALTH0), 1.0, shares)
    rep.summary(tree, dict(HEALTH0), 1.0, shares,
                {"budgets": 3, "processes": 7, "total": 9, "allowed": 8, "limited": 1,
                 "limited_windows": 1})
    rep.summary(tree, dict(HEALTH0), 1.0, shares,
                {"budgets": 0, "processes": 5, "total": 0, "allowed": 0, "limited": 0,
                 "limited_windows": 0})
    rep.table([], dict(HEALTH0), [])
    shares = [_share(300, 50, 5, b"root\x1b[2J", "ok", ("cgroup", 4242, 0), BOX),
              _share(301, 7000000, 0, b"child", "STOPPED", ("cgroup", 77, 1000), ODD),
              _share(302, 1, 0, b"caf\xc3\xa9", "exited", ("cgroup", 77, 1000), ODD)]
    cgrows = [dict(key="cgroup", id=4242, uid=0, user="root", name=BOX.path, window=0,
                   allowed=16, limited=300, total=316, limited_windows=3, activity=0,
                   state="LIMITED", pids=[300], processes=shares[:1],
                   **safetext.name_fields(b""), **cgnames.fields(BOX)),
              dict(key="cgroup", id=77, uid=1000, user=None, name="/we\ufffdird/\x1b[2J",
                   window=0, allowed=5, limited=0, total=5, limited_windows=0, activity=0,
                   state="ok", pids=[301, 302], processes=shares[1:],
                   **safetext.name_fields(b""), **cgnames.fields(ODD))]
    rep.limit(cgrows[0], 16, 500, "monitor")
    rep.table(cgrows, dict(HEALTH0), shares)
    return out.getvalue()


def _no_clock(text):
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "HH:MM:SS", text)
    return re.sub(r'"time": [0-9.]+', '"time": T', text)


@pytest.mark.parametrize("mode", ["text", "json"])
def test_report_like_python(front, mode):
    c_out = run(front, "report", mode) + "\n"
    py_out = _py_report(mode == "json")
    assert _no_clock(c_out).splitlines() == _no_clock(py_out).splitlines()
    assert _no_clock(c_out) == _no_clock(py_out)


# ---- --config FILE: what both make of a file and the flags over it ----------

CONFIG_CASES = [
    ('max-calls = 7\nwindow-ms = 300\ncomm = ["a", "b"]\ncount = ["sysinfo", "fs:tmpfs"]\n'
     'json = true\naction = "monitor"\ninterval = 0.5\n', []),
    ('max-calls = 7\nwindow-ms = 300\ncomm = ["a", "b"]\naction = "monitor"\n',
     ["--max-calls", "9", "--comm", "c", "--action=auto", "-i", "2"]),
    ('profile = "fingerprint"\nexclude-exe = ["/bin/sh", "/bin/sh"]\nkey = "uid"\n',
     ["--profile", "seed"]),
    ('pid = [5, "+6"]\nexclude-comm = "x\\u00e9"\nduration = 1e3\nmap-size = 1024\n', []),
    ('pid = [5]\n', ["--", "true"]),
    ('json = false\nmax-calls = 0\n', ["--json", "--max-calls", "3"]),
    ('max-calls = 0\n', []),
    ('key = "tree"\n', ["--", "true"]),
    ('bogus = 1\n', ["--max-calls", "3"]),
]


@pytest.mark.parametrize("text,argv", CONFIG_CASES, ids=range(len(CONFIG_CASES)))
def test_parse_with_config_like_cli(front, tmp_path, text, argv):
    f = tmp_path / "wd.toml"
    f.write_text(text)
    args = ["--config", str(f)] + argv
    assert run(front, "parse", "ethoswd", *args) == _py_parse(args)
