"""The offline limiter (ethoswd/research/replay.py) against hand-computed windows,
and the recording file format (ethoswd/research/recording.py)."""

import io
import re

import pytest

from ethoswd.cli import MAP_H
from ethoswd.errors import SetupError
from ethoswd.policy import FS_MAGIC
from ethoswd.research import replay
from ethoswd.research.recording import LOSS, RECORD, Record, Recording, Writer, export

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
    recs = [rec(0, tgid=1, root=7, uid=5, cgroup=9), rec(1, tgid=2, root=7, uid=5, cgroup=9),
            rec(2, tgid=3, root=8, uid=5, cgroup=9)]
    assert sorted(replay.windows(recs, "process", ALL, 100)) == [1, 2, 3]
    tree = replay.windows(recs, "tree", ALL, 100)
    assert {k: len(w[0].times) for k, w in tree.items()} == {
        ("tree", 7, 5): 2, ("tree", 8, 5): 1}
    assert list(replay.windows(recs, "uid", ALL, 100)) == [("uid", 5, 5)]
    assert list(replay.windows(recs, "cgroup", ALL, 100)) == [("cgroup", 9, 5)]


def test_shared_budgets_never_span_users_or_the_whole_host():
    """As probe/limiter.h wd_budget_key: a tree's and a cgroup's budgets
    are split by real UID; the root cgroup (cgroup key) and UID 0 (uid key)
    get a budget per process."""
    recs = [rec(0, tgid=1, root=7, uid=5, cgroup=9), rec(1, tgid=2, root=7, uid=6, cgroup=9),
            rec(2, tgid=3, root=7, uid=0, cgroup=1), rec(3, tgid=4, root=7, uid=0, cgroup=1)]
    assert sorted(replay.windows(recs, "tree", ALL, 100)) == [
        ("tree", 7, 0), ("tree", 7, 5), ("tree", 7, 6)]
    assert sorted(replay.windows(recs, "cgroup", ALL, 100)) == [
        ("cgroup", 9, 5), ("cgroup", 9, 6), ("process", 3, None), ("process", 4, None)]
    assert sorted(replay.windows(recs, "uid", ALL, 100)) == [
        ("process", 3, None), ("process", 4, None), ("uid", 5, 5), ("uid", 6, 6)]
    assert replay.budget_label(("cgroup", 9, 5)) == "cgroup:9 uid 5"
    assert replay.budget_label(("process", 3, None)) == "process:3"
    assert replay.budget_label(("uid", 5, 5)) == "uid:5" and replay.budget_label(4) == "4"


def test_tree_key_ignores_calls_without_root():
    recs = [rec(0, root=0), rec(1, root=4)]
    assert list(replay.windows(recs, "tree", ALL, 100)) == [("tree", 4, 0)]


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


def test_streaming_grid_equals_the_reference_windows():
    """Replayer (one pass, per-budget state only, fed in batches) against
    windows() + verdict() on the whole sorted list, for every grid point."""
    import random
    rnd = random.Random(3)
    recs, t = [], BASE * replay.MS
    for _ in range(20000):
        t += rnd.choice((10000, 200000, 3000000, 90000000))
        tgid = rnd.randrange(1, 9)
        recs.append(Record(t, tgid, tgid, tgid % 3, tgid % 2, 1 + tgid % 4,
                           rnd.choice((PROC, EXT4)), rnd.randrange(2), 0))
    keys, counts, wins, calls = ["process", "tree", "uid"], ["all", "sysinfo,files"], \
        [100, 500, 1000], [1, 5, 25, 100]
    rp = replay.Replayer(keys, counts, wins, calls)
    for i in range(0, len(recs), 777):
        rp.feed(recs[i:i + 777])
    got = rp.points(recs[0].t_ns)
    i = 0
    for c in counts:
        for k in keys:
            for w in wins:
                per = replay.windows(recs, k, replay.CountClass(c), w)
                for mc in calls:
                    p = got[i]
                    i += 1
                    assert (p["count"], p["key"], p["window_ms"], p["max_calls"]) == \
                        (replay.CountClass(c).label, k, w, mc)
                    want = {b: replay.verdict(ws, mc) for b, ws in per.items()}
                    hit = {b: v for b, v in want.items() if v["limited"]}
                    assert p["budgets"] == len(want)
                    assert p["allowed"] == sum(v["allowed"] for v in want.values())
                    assert p["peak"] == max(v["peak"] for v in want.values())
                    assert set(p["detail"]) == set(hit)
                    for b, v in hit.items():
                        d = p["detail"][b]
                        assert (d["allowed"], d["limited"], d["limited_windows"],
                                d["windows"], d["first_refusal_ns"]) == \
                            (v["allowed"], v["limited"], v["limited_windows"],
                             len(v["limited_windows"]), v["first_refusal_ns"])
    assert i == len(got)


def test_in_time_order_holds_back_and_counts_late_records():
    ms = replay.MS
    chunks = [[(t * ms,) for t in (5, 3, 10, 200)], [(150 * ms,), (50 * ms,), (400 * ms,)],
              [(20 * ms,), (401 * ms,)]]
    info = {}
    out = [r[0] // ms for batch in replay.in_time_order(chunks, info) for r in batch]
    # 50 comes after 200 (150 ms newer): left out; 20 after 400: left out.
    assert out == [3, 5, 10, 150, 200, 400, 401] and info["late"] == 2
