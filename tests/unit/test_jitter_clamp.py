"""The keyed clamp (probe/jitter_clamp.h) through its C driver
src/jitter/test_clamp.c, built with gcc as is and under ASan+UBSan: monotonic
per timeline, keyed, deterministic within an interval, multiples of the grain,
switch points uniform across keys (fixed seeds: the statistics cannot flake),
and the pause helpers."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
         "-I" + os.path.join(ROOT, "probe")]
BUILDS = {"plain": [], "sanitized": ["-fsanitize=address,undefined",
                                     "-fno-sanitize-recover=undefined"]}
CHECKS = ["monotonic", "multiples", "within_one_grain", "deterministic", "switch_edges",
          "keyed_by_secret", "keyed_by_timeline", "switch_in_window", "uniform_across_keys",
          "spacing", "pause_next", "skip_first_reading", "skip_short_work", "skip_monotonic"]


@pytest.fixture(scope="module", params=sorted(BUILDS))
def output(request, tmp_path_factory):
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build the clamp's test driver"
    exe = str(tmp_path_factory.mktemp("clamp") / ("test_clamp_" + request.param))
    build = subprocess.run([gcc] + FLAGS + BUILDS[request.param]
                           + [os.path.join(ROOT, "src", "jitter", "test_clamp.c"),
                              "-lm", "-o", exe], capture_output=True, text=True)
    assert build.returncode == 0, "gcc failed:\n" + build.stderr
    p = subprocess.run([exe], capture_output=True, text=True, timeout=120)
    assert "runtime error" not in p.stderr and "Sanitizer" not in p.stderr, p.stderr
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.splitlines()


@pytest.mark.parametrize("name", CHECKS)
def test_clamp_property(output, name):
    assert "ok " + name in output, "\n".join(output)


def test_uniformity_numbers_are_within_bounds(output):
    stats = dict(line.split()[1:] for line in output if line.startswith("stat "))
    ks = {k: float(v) for k, v in stats.items() if k.startswith("ks_distance")}
    chi = {k: float(v) for k, v in stats.items() if k.startswith("chi_square")}
    assert len(ks) == 3 and len(chi) == 3, stats
    assert max(ks.values()) < 0.0115 and max(chi.values()) < 36.19, stats
