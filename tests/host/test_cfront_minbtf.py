"""ethoswd's cut of the kernel BTF (src/minbtf.c) gives libbpf's CO-RE
relocations the same answers as the whole BTF: build/test_minbtf
(src/test_minbtf.c, built by the Makefile) relocates every program of the
probe object both ways on this kernel and compares the instructions.
The VM suites run it on both guest kernels too."""

import os
import re
import subprocess

import pytest

pytestmark = pytest.mark.frontends("ethoswd")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _compat_fields():
    """The fields compat.h relocates under libbpf (its WD_OFF_* lines)."""
    with open(os.path.join(REPO, "probe", "compat.h")) as f:
        return set(re.findall(r"bpf_core_field_offset\(struct (\w+), ([\w.]+)\)", f.read()))


def test_cut_btf_relocates_like_the_whole_btf():
    r = subprocess.run(["make", "-s", "-C", REPO, "build/test_minbtf"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([os.path.join(REPO, "build", "test_minbtf")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = dict(line.split("|", 1) for line in r.stdout.splitlines())
    relos, fields, types, size = map(int, rows["cut"].split("|"))
    progs, insns = map(int, rows["same"].split("|"))
    # Every relocated field of compat.h, as distinct fields; a few dozen
    # types in under 4 KiB, where the whole BTF is megabytes.
    assert fields == len(_compat_fields()), rows
    assert relos >= fields and 0 < types < 64 and size < 4096, rows
    assert progs >= 11 and insns > 1000, rows
