"""io_uring beyond one read per call, on the host kernel (tracepoint
backend): SPLICE counted by its source file, TEE not a read, the newer read
opcodes where the kernel has them, and what throttle and kill let through
when a signal cannot stop the requests (a batch in one io_uring_enter, an
SQPOLL ring's kernel thread).  docs/watchdog_guide.md, section 2."""

import errno

import pytest

import readers
import wdrun
from ethoswd import bpfsys

LIMIT = 20
MONITOR = ["--backend", "tracepoint", "--action", "monitor"]


@pytest.fixture
def source(tmp_path):
    return readers.route_source(tmp_path)


def _kernel_has(op):
    btf = bpfsys.Btf()
    try:
        return "IORING_OP_" + op in btf.enumerators("io_uring_op")
    finally:
        btf.close()


def test_tee_reads_no_file(source):
    """300 tees of a pipe buffer after one splice from the file: only the
    splice is a read."""
    res, out = wdrun.run_routes(MONITOR + ["--max-calls", "100"],
                                readers.route_cmd("uring-tee", 300, source))
    got = out["route"]
    assert (got["setup"], got["ok"], got["other"]) == (0, 300, 0), got
    row = res.summary_for(got["pid"])
    assert (row["total"], row["allowed"], row["limited"]) == (1, 1, 0), row


@pytest.mark.parametrize("count, file, counted", [
    (["--count", "sysinfo"], "/proc/cpuinfo", 50),
    (["--count", "sysinfo"], "source", 0),
    (["--count", "files", "--file", "source"], "source", 50)])
def test_splice_counted_by_its_source(count, file, counted, source):
    """A read class looks at IORING_OP_SPLICE's source (splice_fd_in), not
    at the pipe it fills: /proc/cpuinfo is sysinfo, a file in /tmp is not."""
    count = [str(source) if c == "source" else c for c in count]
    path = source if file == "source" else file
    res, out = wdrun.run_routes(MONITOR + ["--max-calls", "1000000"] + count,
                                readers.route_cmd("uring-splice", 50, path))
    got = out["route"]
    assert (got["setup"], got["ok"], got["other"]) == (0, 50, 0), got
    rows = [r for r in res.summary["processes"] if r["pid"] == got["pid"]]
    assert sum(r["total"] for r in rows) == counted, res.summary


def test_readv_fixed_counted_where_the_kernel_has_it(source):
    """IORING_OP_READV_FIXED (6.15): counted per request, and named in the
    start record's io_uring row, where the kernel has it; elsewhere the
    kernel refuses it (EINVAL) before it is submitted, and it is not named."""
    has = _kernel_has("READV_FIXED")
    res, out = wdrun.run_routes(MONITOR + ["--max-calls", "100"],
                                readers.route_cmd("uring-readv-fixed", 300, source))
    got = out["route"]
    reads_row = [r["route"] for r in res.start["routes"] if r["route"].startswith(
        "io_uring READ,")]
    assert ("READV_FIXED" in reads_row[0]) == has, reads_row
    if has:
        assert (got["ok"], got["other"]) == (300, 0), got
        row = res.summary_for(got["pid"])
        assert (row["total"], row["allowed"], row["limited"]) == (300, 100, 200), row
    else:
        assert (got["ok"], got["other"], got["first_other"]) == (0, 300, errno.EINVAL), got
        assert all(r["pid"] != got["pid"] for r in res.summary["processes"])


def test_read_multishot_counted_once_per_request():
    """IORING_OP_READ_MULTISHOT (6.7) on a pollable file (/proc/cpuinfo):
    one request reads on through the file, here one byte per provided
    buffer, 50 completions until the buffers run out (ENOBUFS); it counts
    as the one request it is, like one read() of a larger buffer."""
    has = _kernel_has("READ_MULTISHOT")
    res, out = wdrun.run_routes(MONITOR + ["--max-calls", "100"],
                                readers.route_cmd("uring-read-multishot", 50, "/proc/cpuinfo"))
    got = out["route"]
    if not has:
        assert (got["ok"], got["other"], got["first_other"]) == (0, 1, errno.EINVAL), got
        return
    assert (got["ok"], got["other"], got["first_other"]) == (50, 1, errno.ENOBUFS), got
    assert res.summary_for(got["pid"])["total"] == 1


@pytest.mark.parametrize("action", ["throttle", "kill"])
@pytest.mark.parametrize("route", ["uring-batch", "uring-sqpoll"])
def test_requests_a_signal_cannot_stop(action, route, source, tmp_path):
    """1000 reads of a file in one io_uring_enter(), or 1000 linked READ ->
    WRITE pairs queued for an SQPOLL thread (which SIGSTOP does not stop),
    at 20 per window: each request is counted when submitted, the process
    is killed (throttle: at its thread's second request past the limit),
    and reads of a page-cache file after the kill fail, so at most one read
    past the limit completes, and no copy."""
    n, out = 1000, tmp_path / "out"
    res = wdrun.run(["--backend", "tracepoint", "--action", action,
                     "--max-calls", str(LIMIT), "--window-ms", "2000"],
                    readers.route_cmd(route, n, source, out=out), timeout=120)
    reads, copies = readers.route_outcome(out, n)
    assert res.rc == 128 + 9, (res.rc, res.stderr)
    assert not readers.route_results(res.other_lines), "the reader lived on"
    assert LIMIT <= reads <= LIMIT + 1 and copies <= LIMIT + 1, (reads, copies)
    assert res.summary_for(res.start["targets"][0])["total"] == n


def test_proc_reads_of_a_killed_batch_run_to_its_end(tmp_path):
    """The documented slack: a /proc read does not look for a pending
    SIGKILL, so the SQPOLL thread's batch that crossed the limit still reads
    into the dying process's memory (here a shared mapping); the process is
    killed before it can make another, and the linked copies never run."""
    n, out = 1000, tmp_path / "out"
    res = wdrun.run(["--backend", "tracepoint", "--action", "throttle",
                     "--max-calls", str(LIMIT), "--window-ms", "2000"],
                    readers.route_cmd("uring-sqpoll", n, "/proc/cpuinfo", out=out),
                    timeout=120)
    reads, copies = readers.route_outcome(out, n)
    assert res.rc == 128 + 9, (res.rc, res.stderr)
    assert LIMIT <= reads <= n and copies <= LIMIT + 1, (reads, copies)


@pytest.mark.parametrize("action, status", [("monitor", "counted"), ("throttle", "killed"),
                                            ("kill", "killed")])
def test_start_record_says_what_happens_to_a_batch(action, status, source):
    res, _ = wdrun.run_routes(["--backend", "tracepoint", "--action", action,
                               "--max-calls", "100"], readers.route_cmd("pread", 1, source))
    rows = {r["route"]: r["status"] for r in res.start["routes"]}
    assert rows["io_uring SQPOLL, batched submissions"] == status
    assert rows["io_uring SPLICE"] == "counted"
    assert rows["tee, io_uring TEE"] == "not a read"
    assert rows["io_uring URING_CMD"] == "out of reach"
