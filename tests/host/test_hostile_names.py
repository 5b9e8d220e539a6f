"""Hostile process names on the host kernel (tracepoint backend, monitor):
a reader renames itself (prctl PR_SET_NAME, via -N) to bytes that would
clear and recolour a terminal or split a line.  In text mode every LIMIT,
EXIT and table line shows the name escaped on one line, columns intact;
--json keeps the exact bytes in comm_hex."""

import re

import pytest

import wdrun
from readers import aggressive_cmd, parse_report

MONITOR = ["--backend", "tracepoint", "--action", "monitor", "--max-calls", "100"]
# -N text, the raw name it gives, the COMM cell the watchdog must show
NAMES = [
    (r"\x1b[2J\x1b[31mpwn\n", b"\x1b[2J\x1b[31mpwn\n", r"\x1b[2J\x1b[31m+"),
    (r"\xff\r\t\b\x7f\n12345678", b"\xff\r\t\b\x7f\n12345678", r"\xff\r\t\x08+"),
]
HEAD = ("    PID COMM               WINDOW       TOTAL     ALLOWED     LIMITED "
        "STATE   ")
CLOCK = r"\d\d:\d\d:\d\d"
# Every shape a line of stdout may have; anything else is a split record.
SHAPES = [r"", re.escape(HEAD), CLOCK + r"  \d+ processes tracked",
          CLOCK + r" (LIMIT|CLEAR|EXIT ) +\d+ .{16} .+", r" {0,6}\d+ .{16} .+",
          r"Summary: .+", r" {9}\d+ allowed, \d+ limited in \d+ windows",
          r"pid=\d+ ok=\d+ eperm=\d+ other=\d+"]      # the reader's own line


def _hostile_run(report, text):
    rep = report("hostile")
    res = wdrun.run_text(MONITOR + ["-i", "0.5"], aggressive_cmd(
        reads=300, bursts=3, gap_ms=400, name=text, report=rep, quiet=True))
    return res, parse_report(rep)["pid"]


@pytest.mark.parametrize("text,raw,shown", NAMES, ids=["ansi", "controls"])
def test_text_output_escapes_the_name(report, text, raw, shown):
    res, pid = _hostile_run(report, text)
    assert res.returncode == 0, res.stderr
    for stream in (res.stdout, res.stderr):
        assert b"\x1b" not in stream and b"\r" not in stream and raw not in stream
        assert all(0x20 <= b < 0x7F or b == 0x0A for b in stream), stream
    out, err = res.stdout.decode(), res.stderr.decode()
    for line in out.split("\n")[:-1]:
        assert any(re.fullmatch(s, line) for s in SHAPES), (line, out)
    assert all(ln.startswith(wdrun.prefix()) for ln in err.splitlines()), err

    lines = out.splitlines()
    limit = [ln for ln in lines if ln[9:14] == "LIMIT"]
    assert limit and limit[0][15:] == "%7d %s over 100 calls in 500 ms -> monitor" % (
        pid, shown.ljust(16)), out
    assert any(ln[9:14] == "EXIT " and ln[23:39] == shown.ljust(16) for ln in lines), out
    rows = [ln for ln in lines if ln.startswith("%7d " % pid)]
    assert len(rows) >= 2, out              # interval table(s) and the summary
    for row in rows:
        assert row[8:24] == shown.ljust(16) and len(row) == len(HEAD), row
        assert all(row[i] == " " for i in (7, 24, 33, 45, 57, 69)), row
        fields = row[25:].split()
        assert len(fields) == 5 and fields[4] in ("ok", "LIMITED", "exited"), row
    window, total, allowed, limited, state = rows[-1][25:].split()
    assert (window, total, state) == ("-", "900", "exited"), rows[-1]
    assert int(allowed) + int(limited) == 900 and int(limited) >= 600, rows[-1]


def test_json_keeps_the_exact_bytes(report):
    text, raw, _ = NAMES[0]
    rep = report("hostile-json")
    res = wdrun.run(MONITOR, aggressive_cmd(reads=300, name=text, report=rep, quiet=True))
    row = res.summary_for(parse_report(rep)["pid"])
    # Only the reader's own summary line is not JSON.
    assert all(ln.startswith("pid=") for ln in res.other_lines), res.other_lines
    assert row["comm"] == raw.decode() and bytes.fromhex(row["comm_hex"]) == raw
    limit = res.events("limit")[0]
    assert (limit["comm"], limit["comm_hex"]) == (row["comm"], row["comm_hex"])
