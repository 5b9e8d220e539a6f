"""The jitter attacker suite (research/jitter) builds, dynamic and static,
and each program prints well-formed JSON lines with the documented fields
and sane values, in a few seconds (small N and bursts).  No timing of speed
is asserted: only what an undefended process must be able to learn (a
MONOTONIC resolution below 1 us, W ordered by the median) and that a clock
that faults is reported as a fault rather than killing the attacker."""

import ctypes
import json
import os
import shutil
import subprocess

import pytest

from ethoswd import REPO_ROOT

JITTER = os.path.join(REPO_ROOT, "research", "jitter")
CLOCKS = "monotonic,thread_cputime,rdtsc,vdso_maps,monotonic_coarse,counter"
QUICK = ["-q", "-b", "30", "-n", "20", "-c", CLOCKS]
PR_SET_TSC, PR_TSC_SIGSEGV = 26, 2


@pytest.fixture(scope="module")
def built():
    assert shutil.which("make") and shutil.which("gcc"), \
        "gcc and make are needed (./install.sh --tests installs them)"
    r = subprocess.run(["make", "-s", "-C", JITTER], capture_output=True, text=True)
    assert r.returncode == 0, "make -C research/jitter failed:\n" + r.stdout + r.stderr
    return os.path.join(JITTER, "bin")


def run(built, prog, build, args=QUICK, preexec_fn=None):
    name = "jitter_%s%s" % (prog, "-static" if build == "static" else "")
    r = subprocess.run([os.path.join(built, name)] + args, capture_output=True, text=True,
                       timeout=120, preexec_fn=preexec_fn)
    assert r.returncode == 0, "%s exited %s: %s" % (name, r.returncode, r.stderr)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines and lines[0]["attack"] == "setup" and lines[0]["ipu"] > 0
    for x in lines:
        assert x["prog"] == prog and x["build"] == build and x["status"] in \
            ("ok", "error", "fault", "timeout"), x
        if x["status"] != "ok":
            assert x["error"], x
    return lines


def by(lines, attack, clock):
    return [x for x in lines if x["attack"] == attack and x.get("clock") == clock]


@pytest.mark.parametrize("build", ["dynamic", "static"])
def test_survey(built, build):
    lines = run(built, "clocks", build)
    assert {x["clock"] for x in lines[1:]} == set(CLOCKS.split(","))
    (mono,) = by(lines, "survey", "monotonic")
    assert mono["status"] == "ok" and mono["route"] == "vdso"
    assert mono["reads"] > 100 and mono["read_ns"] > 0
    assert mono["tick_ns"] < 1000 and mono["multiple_of_ns"] == 1 and mono["backwards"] == 0
    (coarse,) = by(lines, "survey", "monotonic_coarse")
    assert coarse["status"] == "ok" and coarse["repeat_share"] > 0.5
    (tsc,) = by(lines, "survey", "rdtsc")
    assert tsc["unit"] == "cycles" and 0 < tsc["ns_per_unit"] < 10


@pytest.mark.parametrize("build", ["dynamic", "static"])
def test_averaging_and_resolution(built, build):
    lines = run(built, "avg", build)
    for clock in CLOCKS.split(","):
        avg = by(lines, "avg", clock)
        assert avg and all(x["status"] == "ok" for x in avg), clock
        assert {x["w_us"] for x in avg} == {0, 5, 10, 30, 50}
        assert {x["n"] for x in avg} == {10, 20}
        for x in avg:
            for f in ("mean_ns", "se_ns", "cmean_ns", "cmean_se_ns", "tmean_ns", "median_ns",
                      "min_ns", "net_mean_ns", "net_cmean_ns", "net_tmean_ns", "net_median_ns",
                      "net_min_ns", "w_true_ns"):
                assert f in x, (clock, f)
        assert len(by(lines, "order", clock)) == 2
        (res,) = by(lines, "resolution", clock)
        assert res["status"] == "ok" and res["bursts"] >= 2
        assert all(b["pairs"] > 0 for b in by(lines, "res_burst", clock))
    (order,) = [x for x in by(lines, "order", "monotonic") if x["n"] == 20]
    assert order["median"], "W = 10, 30, 50 us must come out ordered without a defence"
    (res,) = by(lines, "resolution", "monotonic")
    assert res["resolved"] and res["resolution_ns"] <= 1000, res


@pytest.mark.parametrize("build", ["dynamic", "static"])
def test_edge(built, build):
    lines = run(built, "edge", build)
    (mono,) = by(lines, "edge", "monotonic")
    assert mono["status"] == "ok" and mono["intervals"] >= 2 and not mono["applicable"]
    (coarse,) = by(lines, "edge", "monotonic_coarse")
    assert coarse["status"] == "ok" and coarse["tick_ns"] >= 1e6
    if coarse["applicable"]:
        assert len(by(lines, "edge_w", "monotonic_coarse")) == 3


@pytest.mark.parametrize("build", ["dynamic", "static"])
def test_speed(built, build):
    lines = run(built, "speed", build)
    (mono,) = by(lines, "speed", "monotonic")
    assert mono["status"] == "ok" and mono["loop_reps"] > 0 and mono["cpuid_reps"] > 0
    assert mono["loop_min_ns"] > 0 and mono["cpuid_min_ns"] > 0
    assert mono["vm_guess"] in ("vm", "bare", "unclear")


def _tsc_sigsegv():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_TSC)")


def test_faulting_clocks_are_reported_not_fatal(built):
    """With rdtsc trapping (PR_TSC_SIGSEGV, what a launcher defence sets),
    the static attacker reports rdtsc and the vDSO's TSC clocks as faults,
    picks a reference clock that works, and goes on with the others."""
    lines = run(built, "clocks", "static", preexec_fn=_tsc_sigsegv)
    assert lines[0]["ref"] == "raw_monotonic"
    for clock in ("rdtsc", "monotonic", "vdso_maps"):
        (x,) = by(lines, "survey", clock)
        assert x["status"] == "fault" and x["error"] == "SIGSEGV", x
    (cpu,) = by(lines, "survey", "thread_cputime")
    assert cpu["status"] == "ok"
