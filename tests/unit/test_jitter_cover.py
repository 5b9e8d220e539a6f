"""--jitter's BPF modes without a kernel: which mode a run gets
(--jitter-via, the write probe's answer), the coverage table of
probe/jitter_cover.h as both front ends print it (jitter_cover.py reads the
header's literals, src/jitter_bpf_report.c compiles it: the same words), the
tracepoints and uprobes a run attaches, and that every program name is known
to tests/wdrun.py (how the suites find leftover programs)."""

import json
import os
import re

import pytest

from ethoswd import jitter_bpf, jitter_cover
from ethoswd.cli import parse
from ethoswd.errors import SetupError
from ethoswd.probe import source_text
from test_cfront_text import front, run  # noqa: F401  (the built test_front)
import wdrun

DETAIL = "program of this type cannot use helper bpf_probe_write_user#36; lockdown integrity"
STATUSES = {"clamped", "quantized", "counted", "out of reach"}


def _py_choose(ok, argv):
    try:
        a = parse(argv)
        via, why = jitter_cover.choose_via(a.jitter, a.jitter_mode, a.jitter_via, a.command,
                                           ok, DETAIL)
    except SetupError as e:
        return "ERR %s" % e
    jfrac = (1 << 16) if via == "write" and a.jitter_mode == "clamp" else 0
    return "OK %s | %s | %d" % (via, why, jfrac)


CHOICES = [s.split() for s in (
    "--jitter 100us -p 1", "--jitter 1ms -p 1", "--jitter 100us --comm x",
    "--jitter 100us", "--jitter 100us -- ls", "--jitter 1ms -- ls",
    "--jitter 100us --jitter-via launcher -- ls", "--jitter 100us --jitter-via write -p 1",
    "--jitter 1ms --jitter-via write -p 1", "--jitter 100us --jitter-via quantize -p 1",
    "--jitter 1ms --jitter-mode pause -p 1", "--jitter 100us --jitter-mode pause -p 1",
    "--jitter 101us --jitter-via quantize -p 1", "--jitter 100us --jitter-via write -- ls",
    "--jitter 1ms --jitter-mode pause --jitter-via write -p 1")]


@pytest.mark.parametrize("ok", [False, True])
@pytest.mark.parametrize("argv", CHOICES, ids=[" ".join(a) for a in CHOICES])
def test_both_front_ends_choose_the_same_mode(front, ok, argv):  # noqa: F811
    c = run(front, "jb", "choose", "1" if ok else "0", DETAIL, "ethoswd", *argv)
    assert c == _py_choose(ok, argv)


def test_the_choices():
    q = _py_choose(False, ["--jitter", "100us", "-p", "1"])
    assert q == "OK quantize | auto: the kernel refuses bpf_probe_write_user (%s) | 0" % DETAIL
    assert _py_choose(True, ["--jitter", "1ms", "-p", "1"]).startswith(
        "OK write | auto: the kernel allows bpf_probe_write_user")
    # quantize holds at most 100 us a read: a larger grain is refused, with the reason
    assert _py_choose(False, ["--jitter", "1ms", "-p", "1"]) == (
        "ERR --jitter 1000us: this kernel refuses bpf_probe_write_user (%s), and quantize "
        "mode holds a reader at most 100us a read: give a grain of at most 100us" % DETAIL)
    assert _py_choose(False, ["--jitter", "100us", "--jitter-via", "write", "-p", "1"]) == (
        "ERR --jitter-via write: this kernel refuses bpf_probe_write_user (%s); use "
        "--jitter-via quantize" % DETAIL)
    assert _py_choose(False, ["--jitter", "100us", "--", "ls"]).startswith("OK launcher | -- CMD")
    assert _py_choose(False, ["--jitter", "100us", "--jitter-via", "quantize", "--", "ls"]) \
        == "OK quantize | --jitter-via quantize | 0"


@pytest.mark.parametrize("ok", [False, True])
def test_probe_features_block_is_the_same_in_both(front, ok):  # noqa: F811
    out = run(front, "jb", "features", "1" if ok else "0", DETAIL).split("\n")
    assert out[:-1] == jitter_cover.features_lines(ok, DETAIL)
    assert json.loads(out[-1]) == jitter_cover.features_json(ok, DETAIL)


def test_every_clock_source_has_a_status_in_each_mode():
    rows, no_up = jitter_cover.load_rows()
    assert len(rows) >= 18 and "13 us" in no_up
    for row in rows:
        assert len(row) == 6 and row[5] in (0, 1), row
    for via in ("write", "quantize"):
        for system_wide in (False, True):
            got = jitter_cover.rows_for(via, system_wide)
            assert {st for _, st, _ in got} <= STATUSES, got
    q = dict((s, st) for s, st, _ in jitter_cover.rows_for("quantize", False))
    # the quantize mode: CPU-time clock syscalls and libc's clock_gettime
    assert q["clock_gettime PROCESS/THREAD_CPUTIME_ID, clock_getcpuclockid, "
             "pthread_getcpuclockid, clock()"] == "quantized"
    libc = "clock_gettime REALTIME, MONOTONIC, BOOTTIME, TAI, *_COARSE through libc (vDSO)"
    assert q[libc] == "quantized"
    assert dict((s, st) for s, st, _ in jitter_cover.rows_for("write", False))[libc] == "clamped"
    # system-wide: no uprobes, said so
    assert dict((s, st) for s, st, _ in jitter_cover.rows_for("quantize", True))[libc] == \
        "out of reach"
    for s in ("rdtsc, rdtscp", "counting threads, shared-memory counters",
              "gettimeofday, time through libc (vDSO IFUNC)"):
        assert q[s] == "out of reach", s


def _defined():
    return set(re.findall(r"^int (\w+)\(", source_text(jitter_bpf.SOURCE), re.M))


@pytest.mark.parametrize("via", ["write", "quantize"])
@pytest.mark.parametrize("pause", [False, True])
@pytest.mark.parametrize("uprobes", [False, True])
def test_attach_points_are_defined_and_known(via, pause, uprobes):
    defined = _defined()
    points = jitter_bpf.attach_points(via, pause, uprobes)
    fns = [fn for _, fn in points] + [fn for _, _, fn in jitter_bpf.uprobe_points(via)]
    for fn in fns:
        assert fn in defined, fn
        assert fn[:15] in wdrun.PROG_NAMES, fn
    tps = [tp for tp, _ in points]
    assert len(tps) == len(set(tps))
    # the write programs only in write mode (a locked-down kernel refuses them)
    assert any(fn.endswith("_w") for fn in fns) == (via == "write")
    assert ("task:task_newtask" in tps) == uprobes


def test_the_c_loader_attaches_the_same_points():
    with open(jitter_cover.PROBE_DIR + "/../src/jitter_bpf.c") as f:
        c = f.read()
    c_tps = set(re.findall(r'TP\("([\w:]+)", (\w+)\)', c))
    py = set()
    for via in ("write", "quantize"):
        for pause in (False, True):
            py |= set(jitter_bpf.attach_points(via, pause, True))
    assert c_tps == py


def test_elf_symbol_offsets_of_this_libc():
    path = jitter_bpf.libc_of(os.getpid())
    assert path, "no libc mapped in the test process"
    offs = jitter_bpf.elf_symbol_offsets(path, ("clock_gettime", "clock_getres"))
    assert set(offs) == {"clock_gettime", "clock_getres"} and all(offs.values())


def test_docs_show_the_table():
    with open(os.path.join(jitter_cover.PROBE_DIR, "..", "docs", "jitter_bpf.md")) as f:
        doc = f.read()
    table = doc.split("<!-- BEGIN jitter_cover -->\n")[1].split("<!-- END")[0]
    want = ["| source | write mode | quantize mode | needs the uprobes |", "|---|---|---|---|"]
    for source, w_st, _w, q_st, _q, uprobe in jitter_cover.ROWS:
        want.append("| %s | %s | %s | %s |"
                    % (source, w_st, q_st or "-", "yes" if uprobe else "no"))
    assert table.splitlines() == want
