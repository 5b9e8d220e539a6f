"""Every route that moves a file's bytes into a process counts as one read
call of that process, on the host kernel (tracepoint backend, monitor):
sendfile, splice, copy_file_range and io_uring's read and splice requests
(inline, run by an io-wq worker, submitted in one batch or by an SQPOLL
thread, charged to the submitter), with exact counts.  test_uring_routes.py
has the rest of io_uring."""

import pytest

import readers
import wdrun

MONITOR = ["--backend", "tracepoint", "--action", "monitor"]


@pytest.fixture
def source(tmp_path):
    return readers.route_source(tmp_path)


@pytest.mark.parametrize("route", readers.ROUTES)
def test_every_route_counted_once_per_read(route, source):
    res, out = wdrun.run_routes(MONITOR + ["--max-calls", "100"],
                                readers.route_cmd(route, 300, source))
    got = out["route"]
    assert (got["setup"], got["ok"], got["other"]) == (0, 300, 0), got
    row = res.summary_for(got["pid"])
    # monitor: the limiter's verdicts without changing anything.
    assert (row["total"], row["allowed"], row["limited"]) == (300, 100, 200), row


@pytest.mark.parametrize("route", ["sendfile", "splice", "uring-read", "uring-read+async",
                                   "uring-splice"])
def test_read_class_applies_to_the_source_file(route, source, tmp_path):
    """--file: a route counts when its source is the listed file, not when
    the source is another file (the copy's destination never counts)."""
    other = tmp_path / "other"
    other.write_bytes(b"other\n")
    cmd = ["/bin/sh", "-c", "%s; %s" % (
        " ".join(readers.route_cmd(route, 50, source, "listed")),
        " ".join(readers.route_cmd(route, 50, other, "other")))]
    res, out = wdrun.run_routes(MONITOR + ["--max-calls", "1000000", "--count", "files",
                                           "--file", str(source)], cmd)
    assert out["listed"]["ok"] == out["other"]["ok"] == 50, out
    assert res.summary_for(out["listed"]["pid"])["total"] == 50
    assert all(r["total"] == 0 for r in res.summary["processes"]
               if r["pid"] == out["other"]["pid"])


def test_start_record_lists_each_routes_status(source):
    res, _ = wdrun.run_routes(MONITOR + ["--max-calls", "100"],
                              readers.route_cmd("pread", 1, source))
    status = {r["route"]: r["status"] for r in res.start["routes"]}
    assert status["sendfile, splice, copy_file_range"] == "counted"
    reads = [r for r in status if r.startswith("io_uring READ, READV, READ_FIXED")]
    assert [status[r] for r in reads] == ["counted"], status
    assert status["io_uring SPLICE"] == "counted"
    assert status["mmap'ed file pages"] == "out of reach"
