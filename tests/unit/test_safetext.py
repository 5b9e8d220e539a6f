"""Hostile process names (ethoswd.safetext) in every text output of
ethoswd.report: escaped, one record per line, columns intact; and the
exact bytes kept in --json."""

import io
import json
import random

import pytest

from ethoswd import safetext
from ethoswd.report import HEAD, Reporter

# raw name -> its COMM cell (16 columns).  Rule: printable ASCII stays,
# everything else is escaped, non-ASCII UTF-8 included.
NAMES = [
    (b"\x1b[2J\x1b[31mpwn\n", r"\x1b[2J\x1b[31m+"),
    (b"a\nb", r"a\nb"),
    (b"a\rb", r"a\rb"),
    (b"a\bb", r"a\x08b"),
    (b"a\tb", r"a\tb"),
    (b"a\x7fb", r"a\x7fb"),
    (b"\xff\xfeok", r"\xff\xfeok"),
    (b"caf\xc3\xa9", r"caf\xc3\xa9"),
    (b"\xe2\x80\xaeevil", r"\xe2\x80\xaeevil"),      # U+202E, right-to-left
    (b"a\\x1b", r"a\\x1b"),                           # a literal backslash
    (b"fifteen_bytes_x", "fifteen_bytes_x"),
    (b"\x1b" * 15, r"\x1b\x1b\x1b+"),
    (b"x" * 13 + b"\n\n", "x" * 13 + r"\n+"),
]
IDS = [repr(raw) for raw, _ in NAMES]
CLEAN = b"plain"


def _row(raw, pid=4194304):
    row = {"pid": pid, "window": 101, "total": 404, "allowed": 400, "limited": 4,
           "limited_windows": 1, "state": "STOPPED", "activity": 1}
    row.update(safetext.name_fields(raw))
    return row


def _all_outputs(raw):
    out = io.StringIO()
    rep = Reporter(False, out)
    rep.limit(_row(raw), 100, 500, "monitor")
    rep.clear(_row(raw))
    rep.exited(_row(raw))
    rep.table([_row(raw)], {})
    rep.summary([_row(raw)], {}, 1.0)
    return out.getvalue()


def _assert_safe(text):
    assert all(" " <= ch <= "~" for ch in text.replace("\n", "")), repr(text)


@pytest.mark.parametrize("raw,shown", NAMES, ids=IDS)
def test_every_text_output_escapes_the_name_on_one_line(raw, shown):
    text = _all_outputs(raw)
    _assert_safe(text)
    assert text.count("\n") == _all_outputs(CLEAN).count("\n")
    lines = text.splitlines()
    for kind in ("LIMIT", "CLEAR", "EXIT "):
        line = next(ln for ln in lines if ln[9:14] == kind)
        assert line[23:39] == shown.ljust(16), line


@pytest.mark.parametrize("raw,shown", NAMES, ids=IDS)
def test_table_columns_after_comm_stay_in_place(raw, shown):
    rows = [ln for ln in _all_outputs(raw).splitlines() if ln.startswith("4194304 ")]
    clean = [ln for ln in _all_outputs(CLEAN).splitlines() if ln.startswith("4194304 ")]
    assert len(rows) == len(clean) == 2    # the interval table and the summary
    for line, ref in zip(rows, clean):
        assert line[8:24] == shown.ljust(16)
        assert line[24:] == ref[24:] and len(line) == len(ref) == len(HEAD)
        # PID | COMM | WINDOW | TOTAL | ALLOWED | LIMITED | STATE
        assert all(line[i] == HEAD[i] == " " for i in (7, 24, 33, 45, 57, 69))
        assert line[25:].split() == ref[25:].split() and len(line[25:].split()) == 5


@pytest.mark.parametrize("raw,shown", NAMES, ids=IDS)
def test_json_keeps_the_exact_bytes(raw, shown):
    out = io.StringIO()
    Reporter(True, out).limit(_row(raw), 100, 500, "monitor")
    rec = json.loads(out.getvalue())
    assert "\n" not in out.getvalue().rstrip("\n")
    assert rec["comm"] == raw.decode("utf-8", "replace")
    clean = raw.decode("utf-8", "replace").isprintable() and b"\xff" not in raw
    assert ("comm_hex" in rec) == (not clean)
    assert safetext.raw_name(rec) == raw


def test_name_fields_from_a_kernel_buffer():
    assert safetext.name_fields(b"ab\nc\0\0junk") == {"comm": "ab\nc",
                                                      "comm_hex": "61620a63"}
    assert safetext.name_fields(b"aggressive_read\0") == {"comm": "aggressive_read"}


def test_cell_never_cuts_an_escape():
    rng = random.Random(12)
    for _ in range(2000):
        raw = bytes(rng.choice(b"ab\\\n\x1b\xff\xc3") for _ in range(rng.randint(1, 15)))
        width = rng.randint(4, 20)
        full, text = safetext.escape(raw), safetext.cell(raw, width)
        assert len(text) == width
        body = text.rstrip(" ")
        if len(full) <= width:
            assert body == full.rstrip(" ")
        else:
            kept = body[:-1]
            assert body.endswith(safetext.CUT) and full.startswith(kept)
            units = [safetext.escape(bytes([b])) for b in raw]
            assert kept in ["".join(units[:i]) for i in range(len(units) + 1)]


def test_composed_lines_stay_one_line(capsys):
    out = io.StringIO()
    rep = Reporter(False, out)
    rep.warn("odd \x1b[2J\r\nthing\u2028")
    rep.info("status \x1b]0;title\x07 \\ ok")
    assert out.getvalue().count("\n") == 1 and "\\x1b[2J\\r\\nthing\\u2028" in out.getvalue()
    err = capsys.readouterr().err
    assert err == "watchdog: status \\x1b]0;title\\x07 \\ ok\n"
