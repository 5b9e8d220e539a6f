"""What Probe attaches is decided by its cflags, names only programs the
probe source defines, and is known to tests/wdrun.py (PROG_NAMES: how the
suites find leftover programs)."""

import itertools
import re

import pytest

from ethoswd.policy import KEY_IDS
from ethoswd.probe import attach_points, cflags, source_text
import wdrun

URING_TP = "io_uring:io_uring_submit_req"


def _all_flags():
    for backend, action, targets, uring, key in itertools.product(
            ("tracepoint", "kprobe", "lsm"), ("monitor", "deny", "throttle", "kill"),
            (False, True), (False, True), sorted(KEY_IDS)):
        flags = cflags(backend, action, 1234, [1] if targets else [], [], [], 1024,
                       uring_tp=URING_TP if uring else None)
        yield flags


def _defined_functions():
    text = source_text()
    names = set(re.findall(r"^int (\w+)\(", text, re.M))
    names.update("tracepoint__%s__%s" % m for m in
                 re.findall(r"^TRACEPOINT_PROBE\((\w+), (\w+)\)", text, re.M))
    return names


@pytest.mark.parametrize("flags", list(_all_flags()), ids=lambda f: " ".join(f[1:4]))
def test_every_program_is_defined_and_in_prog_names(flags):
    defined = _defined_functions()
    points = attach_points(flags, URING_TP)
    for label, kind, where, fn in points:
        assert fn in defined or fn.startswith("kfunc__"), fn
        # The kernel keeps 15 characters of a program's name.
        assert fn[:15] in wdrun.PROG_NAMES, fn
    labels = [p[0] for p in points]
    assert len(labels) == len(set(labels))


def test_kfunc_programs_are_defined_for_x86_64_names():
    defined = _defined_functions()
    flags = cflags("lsm", "deny", 1, [], [], [], 1024)
    assert {fn for _, kind, _, fn in attach_points(flags) if kind == "fentry"} <= defined


def test_programs_follow_the_flags():
    tp = cflags("tracepoint", "monitor", 1, [], [], [], 1024)
    fns = [p[3] for p in attach_points(tp)]
    assert "wd_newtask" not in fns and "wd_uring_submit" not in fns
    fns = [p[3] for p in attach_points(
        cflags("kprobe", "deny", 1, [7], [], [], 1024, uring_tp=URING_TP), URING_TP)]
    assert fns[0] == "wd_newtask"
    assert "wd_kprobe_uring_setup" in fns and fns[-1] == "wd_uring_submit"
    fns = [p[3] for p in attach_points(
        cflags("kprobe", "monitor", 1, [], [], [], 1024, uring_tp=URING_TP), URING_TP)]
    assert "wd_kprobe_uring_setup" not in fns
    # Whenever kprobe enforces, targets get no ring (a signal cannot stop a batch).
    for action in ("throttle", "kill"):
        fns = [p[3] for p in attach_points(
            cflags("kprobe", action, 1, [], [], [], 1024, uring_tp=URING_TP), URING_TP)]
        assert "wd_kprobe_uring_setup" in fns, action
    # 10 on the tracepoint backend: exit, 5 reads, 3 copies, + the fork hook.
    assert len(attach_points(cflags("tracepoint", "kill", 1, [7], [], [], 1024))) == 10
    with pytest.raises(ValueError):
        attach_points(["-DWD_ACTION=0"])
