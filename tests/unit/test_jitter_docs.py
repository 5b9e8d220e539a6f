"""--jitter's coverage table lives in one place, ethos-clockd --coverage
(src/jitter/coverage.c): docs/jitter.md shows it word for word, and
watchdog.py's --probe-features block is built from it (ethoswd's from the
same output: tests/host/test_cfront_features.py compares the two)."""

import os
import subprocess

from ethoswd import REPO_ROOT, jitter

STATUSES = {"clamped", "refused", "out of reach"}


def _rows():
    assert os.access(jitter.CLOCKD, os.X_OK), "%s is missing: run make clockd" % jitter.CLOCKD
    out = subprocess.run([jitter.CLOCKD, "--coverage"], capture_output=True, text=True,
                         check=True).stdout
    rows = [tuple(line.split("\t")) for line in out.splitlines()]
    assert rows and all(len(r) == 3 for r in rows), out
    return rows


def test_every_row_has_a_known_status():
    assert {r[1] for r in _rows()} == STATUSES


def test_docs_show_the_table_word_for_word():
    with open(os.path.join(REPO_ROOT, "docs", "jitter.md")) as f:
        doc = f.read()
    missing = [r for r in _rows() if "| %s | %s | %s |" % r not in doc]
    assert not missing, "docs/jitter.md lacks %s" % missing


def test_probe_features_block_is_the_table():
    rows = jitter.coverage()
    assert rows == _rows()
    bpf = (False, "refused here")
    lines = jitter.features_lines(rows, bpf)
    assert lines[1] == "JITTER (--jitter GRAIN, launcher mode: -- CMD):"
    assert lines[2] == "  supervisor ethos-clockd: available"
    assert lines[3:3 + len(rows)] == ["  %s: %s (%s)" % r for r in rows]
    # then the BPF modes' part (tests/unit/test_jitter_cover.py)
    assert lines[3 + len(rows)].startswith("  BPF modes (-p, --comm, system-wide")
    assert jitter.features_json(rows, bpf)["launcher"][0] == dict(
        zip(("source", "status", "how"), rows[0]))
    assert jitter.features_lines(None, bpf)[2] == \
        "  supervisor ethos-clockd: missing (run make clockd)"
