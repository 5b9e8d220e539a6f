"""Bad recordings and outputs for `watchdog.py replay` and `export`: each
is one line on stderr and exit status 2, never a traceback, a hang or a
half-written output; records out of time order have a defined result.
Each command runs as a process, as a user would run it."""

import json
import os
import random
import resource
import subprocess
import sys

import pytest

from ethoswd.policy import FS_MAGIC
from ethoswd.research import replay
from ethoswd.research.recording import END, MAGIC, RECORD, Writer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WATCHDOG = os.path.join(ROOT, "watchdog.py")
BASE_NS = 10 ** 12
PROC = FS_MAGIC["proc"]


def wd(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, WATCHDOG] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, **kw)


def one_line_error(r, *words):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr)
    assert lines[0].startswith("watchdog: error: ") and "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def pack(ms, tgid=10, us=0):
    return RECORD.pack(BASE_NS + ms * replay.MS + us * 1000, tgid, tgid, tgid, 0, 1,
                       PROC, 0, 0, 0)


def recording(path, records=(), meta=None, trailer=None):
    """A recording of `records` (packed); the trailer Writer makes from
    meta, or the raw JSON text `trailer`."""
    w = Writer(str(path))
    w.write_raw(b"".join(records))
    if trailer is None:
        w.close(meta or {"policy": {"key": "process", "count": "all"}})
    else:
        blob = trailer.encode()
        w.f.write(blob + len(blob).to_bytes(4, "little") + END)
        w.f.close()
    return path


@pytest.mark.parametrize("trailer,words", [
    ("[" * 100000 + "]" * 100000, ["trailer is not valid JSON"]),
    ("[1, 2]", ["trailer is a JSON list, not an object"]),
    ('{"version": 1, "record_size": 40, "policy": "process"}',
     ["policy must be an object", '"process"']),
    ('{"version": 1, "record_size": 40, "policy": 5}', ["policy must be an object, not 5"]),
    ('{"version": "1", "record_size": 40}', ['version must be a whole number, not "1"']),
    ('{"version": 2, "record_size": 40}', ["recording version 2, this watchdog reads version 1"]),
    ('{"version": 1, "record_size": 40, "records": 7}', ["trailer says 7 records", "holds 3"]),
    ('{"version": 1, "record_size": 40, "policy": {"key": "pid"}}', ["policy.key"]),
    ('{"version": 1, "record_size": 40, "policy": {"count": "fs:nosuch"}}', ["policy.count"]),
    ('{"version": 1, "record_size": 40, "segments": [{"name": 5}]}', ["segments[1].name"]),
    ('{"record_size": 40}', ["trailer has no version"]),
    ("not json", ["trailer is not valid JSON"]),
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_bad_trailers(tmp_path, trailer, words):
    path = recording(tmp_path / "r.wdrec", [pack(t) for t in range(3)], trailer=trailer)
    for cmd in (["replay", path], ["export", path, "--csv"]):
        r = wd(*cmd)
        one_line_error(r, str(path), *words)
        assert r.stdout == ""


def test_random_bytes_after_the_magic_are_refused(tmp_path):
    path = tmp_path / "noise.wdrec"
    path.write_bytes(MAGIC + random.Random(1).randbytes(40 * 1000))
    one_line_error(wd("replay", path), "record 1 (byte 8) is not a wd_record")
    # Damage in the middle of a good file: found before anything is written.
    good = [pack(t) for t in range(5000)]
    bad = good[:4000] + [good[4000][:37] + b"\x07" + good[4000][38:]] + good[4001:]
    path = recording(tmp_path / "mid.wdrec", bad)
    one_line_error(wd("replay", path), "record 4001", "call 7")
    r = wd("export", path, "--jsonl")
    one_line_error(r, "record 4001")
    assert r.stdout == ""


def test_fifo_and_devices_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero", tmp_path):
        one_line_error(wd("replay", path, timeout=20), "is not a regular file")
        one_line_error(wd("export", path, "--csv", timeout=20), "is not a regular file")


def test_dev_zero_under_a_memory_limit(tmp_path):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    one_line_error(wd("replay", "/dev/zero", preexec_fn=limit), "is not a regular file")


def test_export_to_a_full_device(tmp_path):
    path = recording(tmp_path / "r.wdrec", [pack(t) for t in range(20000)])
    one_line_error(wd("export", path, "--csv", "-o", "/dev/full"),
                   "cannot write /dev/full: No space left on device")


def test_export_leaves_nothing_half_written(tmp_path):
    good = [pack(t) for t in range(100000)]
    bad = good[:90000] + [good[90000][:38] + b"\x01\x00"] + good[90001:]
    path = recording(tmp_path / "mid.wdrec", bad)
    out = tmp_path / "out.csv"
    one_line_error(wd("export", path, "--csv", "-o", out), "record 90001", "pad 1")
    assert os.listdir(tmp_path) == ["mid.wdrec"]          # no OUT, no temporary file
    out.write_text("keep me\n")
    one_line_error(wd("export", path, "--csv", "-o", out), "record 90001")
    assert out.read_text() == "keep me\n"
    one_line_error(wd("export", path, "--csv", "-o", tmp_path / "nodir" / "x.csv"),
                   "cannot write", "No such file or directory")
    good_path = recording(tmp_path / "good.wdrec", good)
    assert wd("export", good_path, "--csv", "-o", out).returncode == 0
    assert len(out.read_text().splitlines()) == 100001
    assert sorted(os.listdir(tmp_path)) == ["good.wdrec", "mid.wdrec", "out.csv"]


def _replay_json(path, *args):
    r = wd("replay", path, "--json", "--max-calls", "2", "--window-ms", "100", *args)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_records_slightly_out_of_order_are_replayed_in_time_order(tmp_path):
    # The probe delivers calls of different CPUs microseconds out of order:
    # 1.0, 0.5, 2.0, 3.0 ms replays as 0.5, 1.0, 2.0, 3.0 (first refusal at 2.0
    # ms, 1.5 ms after the first call; it used to say -0.5).
    late = recording(tmp_path / "late.wdrec", [pack(1), pack(0, us=500), pack(2), pack(3)])
    order = recording(tmp_path / "order.wdrec", [pack(0, us=500), pack(1), pack(2), pack(3)])
    a, b = _replay_json(late), _replay_json(order)
    assert a[0]["late"] == 0
    assert [dict(x, time=0) for x in a[1:]] == [dict(x, time=0) for x in b[1:]]
    assert a[1]["first_refusal_ms"] == 1.5 and a[1]["refused"] == 2


def test_records_far_out_of_order_are_left_out_and_counted(tmp_path):
    recs = [pack(t) for t in range(0, 1000, 10)] + [pack(5)] + [pack(2000)]
    path = recording(tmp_path / "far.wdrec", recs)
    out = _replay_json(path)
    assert out[0]["late"] == 1 and out[0]["records"] == 102
    assert out[1]["allowed"] + out[1]["refused"] == 101
    r = wd("replay", path)
    assert r.returncode == 0
    assert ("1 records more than %d ms out of time order left out" % replay.REORDER_MS
            in r.stdout.splitlines()[0])
