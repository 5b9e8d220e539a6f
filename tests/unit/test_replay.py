"""The offline limiter (ethoswd/replay.py) against hand-computed windows,
and the recording file format (ethoswd/recording.py)."""

import io
import re

import pytest

from ethoswd import replay
from ethoswd.cli import MAP_H
from ethoswd.errors import SetupError
from ethoswd.policy import FS_MAGIC
from ethoswd.recording import LOSS, RECORD, Record, Recording, Writer, export

BASE = 1_000_000        # ms since boot of the first call: far from window 0
PROC, EXT4 = FS_MAGIC["proc"], FS_MAGIC["ext4"]


def rec(ms, tgid=10, root=10, uid=0, cgroup=1, magic=PROC, listed=0, us=0):
    return Record((BASE + ms) * replay.MS + us * 1000, tgid, tgid, root, uid,
                  cgroup, magic, listed, 0)


ALL = replay.CountClass("all")


def starts(wins):
    return [(w.start_ms - BASE, w.calls) for w in wins]


def test_windows_open_at_first_call_and_at_expiry():
    # window 100 ms: 0..99 one window; a call at exactly +100 opens the next
    # one at its own time, not at a multiple of 100.
    recs = [rec(t) for t in (0, 10, 20, 99, 100, 150, 199, 200, 450)]
    wins = replay.windows(recs, "process", ALL, 100)[10]
    assert starts(wins) == [(0, 4), (100, 3), (200, 1), (450, 1)]


def test_sub_millisecond_times_truncate_like_the_probe():
    # 99.999 ms after the start is still ms 99: same window.
    recs = [rec(0), rec(99, us=999), rec(100, us=1)]
    assert starts(replay.windows(recs, "process", ALL, 100)[10]) == [(0, 2), (100, 1)]


def test_verdict_counts_allowed_limited_and_first_refusal():
    recs = [rec(t) for t in (0, 1, 2, 3, 4, 200, 201, 202, 500)]
    wins = replay.windows(recs, "process", ALL, 100)[10]
    v = replay.verdict(wins, 3)
    assert v["allowed"] == 3 + 3 + 1
    assert v["limited"] == 2
    assert v["limited_windows"] == [(BASE, 3, 2)]
    assert v["first_refusal_ns"] == (BASE + 3) * replay.MS
    assert v["peak"] == 5
    assert replay.verdict(wins, 5)["limited"] == 0


def test_keys_split_and_share_budgets():
    recs = [rec(0, tgid=1, root=7, uid=5), rec(1, tgid=2, root=7, uid=5),
            rec(2, tgid=3, root=8, uid=5, cgroup=9)]
    assert sorted(replay.windows(recs, "process", ALL, 100)) == [1, 2, 3]
    tree = replay.windows(recs, "tree", ALL, 100)
    assert {k: len(w[0].times) for k, w in tree.items()} == {7: 2, 8: 1}
    assert list(replay.windows(recs, "uid", ALL, 100)) == [5]
    assert sorted(replay.windows(recs, "cgroup", ALL, 100)) == [1, 9]


def test_tree_key_ignores_calls_without_root():
    recs = [rec(0, root=0), rec(1, root=4)]
    assert list(replay.windows(recs, "tree", ALL, 100)) == [4]


def test_count_classes():
    recs = [rec(0, magic=PROC), rec(1, magic=EXT4), rec(2, magic=EXT4, listed=1),
            rec(3, magic=0)]
    calls = lambda text: sum(w.calls for ws in replay.windows(  # noqa: E731
        recs, "process", replay.CountClass(text), 100).values() for w in ws)
    assert calls("all") == 4
    assert calls("sysinfo") == 1
    assert calls("files") == 1
    assert calls("sysinfo,files") == 2
    assert calls("fs:ext4") == 2


def test_window_zero_and_u32_wrap_follow_the_probe():
    # Within window_ms of boot the first call lands in window 0 (start 0).
    early = [Record(5 * replay.MS, 1, 1, 1, 0, 0, PROC, 0, 0)]
    assert [(w.start_ms, w.calls) for w in
            replay.windows(early, "process", ALL, 100)[1]] == [(0, 1)]
    # Across the 2^32 ms wrap, 50 ms later is the same window, and a call
    # 200 ms later opens the next one at its time mod 2^32 (the probe keeps
    # a 32-bit window start): 2^32 - 20 + 200 -> 180.
    wrap = (1 << 32) - 20
    recs = [Record(t * replay.MS, 1, 1, 1, 0, 0, PROC, 0, 0)
            for t in (wrap, wrap + 50, wrap + 200)]
    assert [(w.start_ms, w.calls) for w in replay.windows(recs, "process", ALL, 100)[1]] == \
        [(wrap, 2), (180, 1)]


def test_grid_reports_every_point():
    recs = [rec(t) for t in range(30)] + [rec(1000 + t, tgid=11, root=10) for t in range(5)]
    pts = replay.grid(recs, ["process", "tree"], ["all"], [100, 5000], [10, 20],
                      t0_ns=(BASE) * replay.MS)
    assert len(pts) == 8
    p = [x for x in pts if x["key"] == "process" and x["window_ms"] == 100
         and x["max_calls"] == 10][0]
    assert (p["budgets"], p["limited_budgets"], p["refused"], p["first_refusal_ms"]) == \
        (2, 1, 20, 10.0)
    t = [x for x in pts if x["key"] == "tree" and x["window_ms"] == 5000
         and x["max_calls"] == 20][0]
    assert (t["budgets"], t["refused"], t["peak"]) == (1, 15, 35)


@pytest.mark.parametrize("bad", ["", "x", "0", "1,,2", "-5"])
def test_bad_grid_values(bad):
    with pytest.raises(SetupError):
        replay.check_grid("--max-calls", bad, 1, 100)


def test_bad_keys():
    with pytest.raises(SetupError, match="expected"):
        replay.check_keys("process,pid")
    with pytest.raises(SetupError, match="system-wide"):
        replay.check_keys("tree", has_roots=False)


def test_record_struct_matches_header():
    text = open(MAP_H).read()
    body = re.search(r"struct wd_record \{(.*?)\};", text, re.S).group(1)
    sizes = {"__u64": 8, "__u32": 4, "__u16": 2, "__u8": 1}
    total = sum(sizes[m] for m in re.findall(r"^\s*(__u\d+)\s+\w+;", body, re.M))
    assert total == RECORD.size == 40


def test_recording_round_trip_with_loss(tmp_path):
    path = str(tmp_path / "r.wdrec")
    w = Writer(path)
    w.write_raw(b"".join(RECORD.pack(*rec(t), 0) for t in (0, 1, 2)))
    w.loss(BASE * replay.MS + 5, 7)
    w.write_raw(RECORD.pack(*rec(9), 0))
    meta = w.close({"command": ["x"]})
    assert (meta["records"], meta["lost"]) == (4, 7)
    r = Recording(path)
    assert r.complete and r.lost == 7 and len(r.records) == 4
    assert r.records[3] == rec(9)
    out = io.StringIO()
    export(r, out, "csv")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("t_ns,tid,tgid") and len(lines) == 6
    assert any(line.endswith(",7") for line in lines)
    out = io.StringIO()
    export(r, out, "jsonl")
    assert len(out.getvalue().splitlines()) == 5
    assert LOSS == 255


def test_incomplete_and_foreign_files(tmp_path):
    path = tmp_path / "cut.wdrec"
    w = Writer(str(path))
    w.write_raw(RECORD.pack(*rec(0), 0))
    w.f.close()                     # no trailer: the watchdog died
    r = Recording(str(path))
    assert not r.complete and len(r.records) == 1
    bad = tmp_path / "bad"
    bad.write_bytes(b"hello")
    with pytest.raises(SetupError, match="not a watchdog recording"):
        Recording(str(bad))
    with pytest.raises(SetupError, match="cannot read"):
        Recording(str(tmp_path / "missing"))
