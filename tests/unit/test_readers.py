"""Unit tests of the test readers (tests/progs) and their report parser
(tests/readers.py), without any BPF: every read succeeds here, so these check
argument parsing, the reports, the stop/kill robustness of the report file
and the parser itself.  No root needed."""

import errno
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import readers  # noqa: E402

VARIANTS = readers.VARIANTS


@pytest.fixture(scope="module", autouse=True)
def built():
    readers.build()


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"abc")
    return path


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def all_threads_stopped(pid):
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        text = stat.read_text()
        if text[text.rindex(")") + 2] != "T":
            return False
    return True


def test_makefile_builds_and_cleans_a_copy(tmp_path):
    progs = tmp_path / "progs"
    shutil.copytree(readers.PROGS_DIR, progs, ignore=shutil.ignore_patterns("bin"))
    subprocess.run(["make", "-C", str(progs)], check=True, capture_output=True)
    assert (progs / "bin" / "aggressive_reader").is_file()
    assert (progs / "bin" / "normal_reader").is_file()
    subprocess.run(["make", "-C", str(progs), "clean"], check=True, capture_output=True)
    assert not (progs / "bin").exists()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("source", ["zero", "regular"])
def test_aggressive_every_variant_all_reads_ok(tmp_path, data_file, variant, source):
    report = tmp_path / "r.bin"
    path = "/dev/zero" if source == "zero" else data_file
    res = run(readers.aggressive_cmd(threads=8, reads=1003, bursts=2, variant=variant,
                                     file=path, report=report))
    assert res.returncode == 0, res.stderr
    summary = readers.parse_summary(res.stdout)
    assert summary["ok"] == 2006 and summary["eperm"] == summary["other"] == 0
    assert len(res.stderr.splitlines()) == 2  # one progress line per burst

    r = readers.parse_report(report)
    assert (r["program"], r["variant"], r["state"]) == ("aggressive", variant, "done")
    assert r["pid"] == summary["pid"]
    assert (r["nthreads"], r["nbursts"], r["bursts_started"]) == (8, 2, 2)
    assert r["reads_per_burst"] == 1003 and r["duration_ms"] == 0
    assert r["totals"] == r["file_totals"] == {"ok": 2006, "eperm": 0, "other": 0}
    for b in r["bursts"]:
        assert (b["ok"], b["eperm"], b["other"], b["first_other_errno"]) == (1003, 0, 0, 0)
        assert 0 < b["t_start_ns"] <= b["t_end_ns"]
    assert r["bursts"][0]["t_end_ns"] <= r["bursts"][1]["t_start_ns"]
    assert r["log"] == [] and r["log_capacity"] == 0


def test_reads_split_evenly_remainder_to_first_threads(tmp_path):
    report = tmp_path / "r.bin"
    res = run(readers.aggressive_cmd(threads=3, reads=10, bursts=2, log=100, report=report))
    assert res.returncode == 0
    r = readers.parse_report(report)
    per_thread = [sum(e["thread"] == t for e in r["log"]) for t in range(3)]
    assert per_thread == [8, 6, 6]
    assert r["log_claimed"] == 20 and r["log_dropped"] == 0


def test_log_records_outcomes_inside_the_bursts(tmp_path):
    report = tmp_path / "r.bin"
    res = run(readers.aggressive_cmd(threads=4, reads=400, bursts=3, gap_ms=20, log=2000,
                                     report=report, quiet=True))
    assert res.returncode == 0
    r = readers.parse_report(report)
    assert len(r["log"]) == r["log_claimed"] == 1200
    assert all(e["result"] == 1 and 0 <= e["thread"] < 4 for e in r["log"])
    windows = [(b["t_start_ns"], b["t_end_ns"]) for b in r["bursts"]]
    for e in r["log"]:
        assert sum(lo <= e["t_ns"] <= hi for lo, hi in windows) == 1
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert start - end >= 20_000_000


def test_log_overflow_is_counted_as_dropped(tmp_path):
    report = tmp_path / "r.bin"
    assert run(readers.aggressive_cmd(threads=2, reads=500, log=100, report=report)).returncode == 0
    r = readers.parse_report(report)
    assert len(r["log"]) == r["log_capacity"] == 100
    assert r["log_claimed"] == 500 and r["log_dropped"] == 400
    assert r["totals"]["ok"] == 500


def test_duration_mode(tmp_path):
    report = tmp_path / "r.bin"
    res = run(readers.aggressive_cmd(threads=2, duration_ms=100, bursts=2, gap_ms=50,
                                     variant="preadv", report=report))
    assert res.returncode == 0
    r = readers.parse_report(report)
    assert r["reads_per_burst"] == 0 and r["duration_ms"] == 100 and r["gap_ms"] == 50
    for b in r["bursts"]:
        assert b["ok"] > 0 and b["eperm"] == b["other"] == 0
        assert b["t_end_ns"] - b["t_start_ns"] >= 100_000_000
    assert r["bursts"][1]["t_start_ns"] - r["bursts"][0]["t_end_ns"] >= 50_000_000
    assert readers.parse_summary(res.stdout)["ok"] == r["totals"]["ok"]


def test_eof_counts_as_ok(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for variant in VARIANTS:
        res = run(readers.aggressive_cmd(reads=5, variant=variant, file=empty, quiet=True))
        assert readers.parse_summary(res.stdout)["ok"] == 5, variant


def test_other_errno_is_recorded(tmp_path):
    report = tmp_path / "r.bin"
    res = run(readers.aggressive_cmd(threads=2, reads=10, file=tmp_path, report=report))
    assert res.returncode == 0  # ran to the end, whatever the reads returned
    r = readers.parse_report(report)
    assert r["totals"] == {"ok": 0, "eperm": 0, "other": 10}
    assert r["bursts"][0]["first_other_errno"] == errno.EISDIR


def test_quiet_silences_progress_only(tmp_path):
    res = run(readers.aggressive_cmd(reads=10, bursts=3, quiet=True))
    assert res.returncode == 0 and res.stderr == ""
    assert readers.parse_summary(res.stdout)["ok"] == 30


# -N values both readers refuse: empty, 16 bytes, NUL, octal above \377,
# an unknown or unfinished escape.
BAD_NAMES = ["", "sixteen_bytes_xx", "a\\x00b", "\\0", "\\777", "\\q", "ab\\"]

BAD_AGGRESSIVE = [
    [],                             # neither -n nor -d
    ["-n", "10", "-d", "10"],
    ["-n"],
    ["-n", "abc"],
    ["-n", "-5"],
    ["-n", ""],
    ["-n", "10x"],
    ["-n", "0"],
    ["-n", "99999999999999999999999"],
    ["-n", "10", "-t", "0"],
    ["-n", "10", "-t", "65"],
    ["-n", "10", "-b", "0"],
    ["-n", "10", "-b", "257"],
    ["-n", "10", "-g", "-1"],
    ["-n", "10", "-s", "write"],
    ["-n", "10", "-L", "lots"],
    ["-n", "10", "-x"],
    ["-n", "10", "extra"],
    ["-n", "10", "-f", "/nonexistent/file"],
    ["-n", "10", "-o", "/nonexistent/dir/report"],
    ["-d", "0"],
    ["-n", "10", "-N"],
] + [["-n", "10", "-N", name] for name in BAD_NAMES]


@pytest.mark.parametrize("args", BAD_AGGRESSIVE, ids=" ".join)
def test_aggressive_bad_arguments(args):
    res = run([str(readers.AGGRESSIVE)] + args)
    assert res.returncode == 2
    assert res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and res.stderr.startswith("aggressive_reader: ")


BAD_NORMAL = [["-r", "0"], ["-r", "x"], ["-D", "0"], ["-D"], ["-s", "mmap"], ["-n", "5"],
              ["-f", "/nonexistent/file"], ["extra"], ["-N", "\\x"]] + [
                  ["-N", name] for name in BAD_NAMES]


@pytest.mark.parametrize("args", BAD_NORMAL, ids=" ".join)
def test_normal_bad_arguments(args):
    res = run([str(readers.NORMAL)] + args)
    assert res.returncode == 2
    assert res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and res.stderr.startswith("normal_reader: ")


def test_help_exits_zero():
    for prog in (readers.AGGRESSIVE, readers.NORMAL):
        res = run([str(prog), "-h"])
        assert res.returncode == 0 and res.stdout.startswith("usage:")


NAMES = [  # -N text, the bytes of the name it gives
    (r"\x1b[2J\x1b[31mpwn\n", b"\x1b[2J\x1b[31mpwn\n"),
    (r"a\tb\rc\bd\x7f\e\\\101", b"a\tb\rc\bd\x7f\x1b\\A"),
    (r"\xff\xfe\xc3\xa9", b"\xff\xfe\xc3\xa9"),
    ("fifteen_bytes_x", b"fifteen_bytes_x"),
]


@pytest.mark.parametrize("text,raw", NAMES)
@pytest.mark.parametrize("argv", [readers.aggressive_cmd(reads=10, threads=3),
                                  readers.normal_cmd(total_ms=1)], ids=["agg", "normal"])
def test_name_option_renames_every_thread(text, raw, argv):
    proc = readers.launch(argv + ["-N", text, "-w", "-q"])
    try:
        tasks = list(Path(f"/proc/{proc.pid}/task").glob("*/comm"))
        assert tasks and all(t.read_bytes() == raw + b"\n" for t in tasks)
    finally:
        readers.go(proc)
        proc.communicate(timeout=30)


def test_normal_reader_reads_evenly(tmp_path):
    report = tmp_path / "r.bin"
    t0 = time.monotonic()
    res = run(readers.normal_cmd(rate=50, total_ms=400, log=100, report=report))
    elapsed = time.monotonic() - t0
    assert res.returncode == 0 and elapsed >= 0.4
    r = readers.parse_report(report)
    assert (r["program"], r["state"], r["rate_per_sec"], r["duration_ms"]) == \
        ("normal", "done", 50, 400)
    assert r["reads_per_burst"] == 20 and r["totals"] == {"ok": 20, "eperm": 0, "other": 0}
    start = r["bursts"][0]["t_start_ns"]
    for k, e in enumerate(r["log"]):
        assert e["t_ns"] - start >= k * 20_000_000  # absolute deadlines: never early
    assert readers.parse_summary(res.stdout)["ok"] == 20


@pytest.mark.parametrize("variant", VARIANTS)
def test_normal_reader_variants(tmp_path, data_file, variant):
    report = tmp_path / "r.bin"
    res = run(readers.normal_cmd(rate=200, total_ms=50, variant=variant, file=data_file,
                                 report=report, quiet=True))
    assert res.returncode == 0 and res.stderr == ""
    r = readers.parse_report(report)
    assert r["variant"] == variant and r["totals"]["ok"] == 10


@pytest.mark.parametrize("make_cmd", [
    lambda rep: readers.aggressive_cmd(threads=4, reads=100, report=rep, wait=True, quiet=True),
    lambda rep: readers.normal_cmd(rate=100, total_ms=50, report=rep, wait=True, quiet=True),
], ids=["aggressive", "normal"])
def test_wait_for_sigusr1(tmp_path, make_cmd):
    report = tmp_path / "r.bin"
    proc = readers.launch(make_cmd(report))
    try:
        time.sleep(0.2)
        r = readers.parse_report(report)
        assert r["state"] == "starting" and r["pid"] == proc.pid
        assert sum(r["totals"].values()) == 0 and r["bursts_started"] == 0
        readers.go(proc)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert readers.parse_report(report)["state"] == "done"
    assert readers.parse_summary(out)["pid"] == proc.pid


def test_report_is_frozen_while_stopped(tmp_path):
    report = tmp_path / "r.bin"
    proc = readers.launch(readers.aggressive_cmd(threads=4, duration_ms=600, report=report,
                                                 wait=True, quiet=True))
    try:
        readers.go(proc)
        wait_for(lambda: readers.parse_report(report)["totals"]["ok"] > 1000)
        os.kill(proc.pid, signal.SIGSTOP)
        wait_for(lambda: all_threads_stopped(proc.pid))
        first = readers.parse_report(report)
        time.sleep(0.1)
        assert readers.parse_report(report) == first
        assert first["state"] == "running"
        os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    r = readers.parse_report(report)
    assert proc.returncode == 0 and r["state"] == "done"
    assert r["totals"]["ok"] >= first["totals"]["ok"]
    assert readers.parse_summary(out)["ok"] == r["totals"]["ok"]


def test_report_is_consistent_after_sigkill(tmp_path):
    report = tmp_path / "r.bin"
    threads = 8
    proc = readers.launch(readers.aggressive_cmd(threads=threads, reads=10**9, log=4_000_000,
                                                 report=report, wait=True, quiet=True))
    readers.go(proc)
    # Kill it mid-burst: once it has counted some reads (on a loaded machine
    # the threads may take a while to get going).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # The header alone (parsing the whole log takes longer than filling it).
        with open(report, "rb") as f:
            head = dict(zip(readers._HEADER_FIELDS,
                            readers._HEADER.unpack(f.read(readers._HEADER.size))))
        if head["total_ok"] >= 1000:
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    r = readers.parse_report(report)
    assert r["state"] == "running" and r["log_dropped"] == 0
    counted = sum(r["totals"].values())
    assert counted > 0
    assert counted == r["totals"]["ok"] == r["bursts"][0]["ok"]
    assert 0 <= counted - sum(r["file_totals"].values()) <= threads
    assert counted <= len(r["log"]) <= counted + threads
    assert len(r["log"]) <= r["log_claimed"] <= len(r["log"]) + threads


# --- parser errors, on hand-made files ---------------------------------------

def valid_report(tmp_path):
    path = tmp_path / "r.bin"
    run(readers.aggressive_cmd(reads=10, bursts=2, log=4, report=path, quiet=True))
    return bytearray(path.read_bytes())


def parse_bytes(tmp_path, data):
    path = tmp_path / "broken.bin"
    path.write_bytes(bytes(data))
    return readers.parse_report(path)


def test_parser_rejects_short_file(tmp_path):
    with pytest.raises(readers.ReportError, match="truncated"):
        parse_bytes(tmp_path, b"WDREPT1\0")


def test_parser_rejects_uninitialised_file(tmp_path):
    with pytest.raises(readers.ReportError, match="not initialised"):
        parse_bytes(tmp_path, bytes(4096))


def test_parser_rejects_bad_magic(tmp_path):
    data = valid_report(tmp_path)
    data[0:8] = b"NOTMINE\0"
    with pytest.raises(readers.ReportError, match="bad magic"):
        parse_bytes(tmp_path, data)


def test_parser_rejects_bad_version(tmp_path):
    data = valid_report(tmp_path)
    struct.pack_into("<I", data, 8, 99)
    with pytest.raises(readers.ReportError, match="version 99"):
        parse_bytes(tmp_path, data)


def test_parser_rejects_truncated_file(tmp_path):
    data = valid_report(tmp_path)
    with pytest.raises(readers.ReportError, match="truncated"):
        parse_bytes(tmp_path, data[:-1])


def test_parser_rejects_inconsistent_finished_report(tmp_path):
    data = valid_report(tmp_path)
    struct.pack_into("<Q", data, 88, 12345)  # total_ok
    with pytest.raises(readers.ReportError, match="inconsistent"):
        parse_bytes(tmp_path, data)


def test_parser_reads_the_hand_checked_layout(tmp_path):
    data = valid_report(tmp_path)
    r = parse_bytes(tmp_path, data)
    assert len(data) == 128 + 2 * 48 + 4 * 16
    assert r["nbursts"] == 2 and r["log_capacity"] == 4 and len(r["log"]) == 4
    assert struct.unpack_from("<Q", data, 128)[0] == r["bursts"][0]["ok"] == 10
    assert struct.unpack_from("<Q", data, 128 + 48)[0] == r["bursts"][1]["ok"] == 10
    assert struct.unpack_from("<QiI", data, 128 + 96) == tuple(r["log"][0].values())


# --- argv helpers and the summary line ---------------------------------------

def test_aggressive_cmd():
    argv = readers.aggressive_cmd(threads=8, reads=100, bursts=3, gap_ms=5, variant="preadv2",
                                  file="/tmp/x", report="/tmp/r", log=10, wait=True,
                                  quiet=False, duration_ms=None, name=r"a\x1b")
    assert argv == [str(readers.AGGRESSIVE), "-t", "8", "-n", "100", "-b", "3", "-g", "5",
                    "-s", "preadv2", "-f", "/tmp/x", "-o", "/tmp/r", "-L", "10", "-w",
                    "-N", r"a\x1b"]


def test_normal_cmd():
    argv = readers.normal_cmd(rate=20, total_ms=2000, quiet=True)
    assert argv == [str(readers.NORMAL), "-r", "20", "-D", "2000", "-q"]


def test_cmd_rejects_unknown_option():
    with pytest.raises(TypeError, match="threadz"):
        readers.aggressive_cmd(threadz=2)
    with pytest.raises(TypeError):
        readers.normal_cmd(threads=2)


def test_parse_summary():
    assert readers.parse_summary("ready\npid=7 ok=1 eperm=2 other=3\n") == {
        "pid": 7, "ok": 1, "eperm": 2, "other": 3}
    with pytest.raises(ValueError):
        readers.parse_summary("ready\n")
