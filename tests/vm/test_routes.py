"""Each route that moves a file's bytes into a process, with deny on each
deny backend of the guest kernel: a route the backend covers allows
exactly 100 reads and fails the other 200 with EPERM (an io_uring read in
its completion entry); a route it refuses fails where the guide says.
The io_uring routes include SPLICE, a batch of reads in one io_uring_enter
and an SQPOLL ring's linked READ -> WRITE pairs; TEE is no read.
The source is a file on the guest's /tmp (tmpfs, not the overlay root)."""

import errno
import os

import pytest

import readers
import wdrun

LIMIT = 100
# What each deny backend does with io_uring (docs/watchdog_guide.md, section 2).
URING_UNDER_DENY = {"lsm": "counted", "kprobe": "refused"}


@pytest.fixture
def source(tmp_path):
    return readers.route_source(tmp_path)


def _uring_status(res):
    """{row: status} of the start record's io_uring rows, the reads row as
    "reads"."""
    return {("reads" if r["route"].startswith("io_uring READ,") else r["route"]): r["status"]
            for r in res.start["routes"] if "io_uring" in r["route"]}


@pytest.mark.parametrize("route", readers.ROUTES)
def test_every_route_denied_over_the_limit(deny_backend, route, source):
    res, out = wdrun.run_routes(["--backend", deny_backend, "--action", "deny",
                                 "--max-calls", str(LIMIT), "--window-ms", "60000"],
                                readers.route_cmd(route, 300, source))
    got = out["route"]
    status = _uring_status(res)
    if route.startswith("uring-") and URING_UNDER_DENY[deny_backend] == "refused":
        # No io_uring read can be failed on its own here: the ring is refused.
        assert status["reads"] == status["io_uring SQPOLL, batched submissions"] == "refused"
        assert (got["setup"], got["ok"], got["eperm"], got["other"]) == (1, 0, 0, 0), got
        return
    assert (got["setup"], got["ok"], got["eperm"], got["other"]) == \
        (0, LIMIT, 300 - LIMIT, 0), got
    row = res.summary_for(got["pid"])
    assert (row["allowed"], row["limited"]) == (LIMIT, 300 - LIMIT), row
    if route == "uring-sqpoll":
        # A denied read cancels its linked write: only the allowed ones copy.
        assert got["copied"] == LIMIT, got


def test_tee_is_no_read(deny_backend, source):
    """300 tees of one spliced byte: the splice is the one read (lsm); the
    kprobe backend refuses the ring."""
    res, out = wdrun.run_routes(["--backend", deny_backend, "--action", "deny",
                                 "--max-calls", str(LIMIT), "--window-ms", "60000"],
                                readers.route_cmd("uring-tee", 300, source))
    got = out["route"]
    if URING_UNDER_DENY[deny_backend] == "refused":
        assert (got["setup"], got["ok"]) == (1, 0), got
        return
    assert (got["setup"], got["ok"], got["eperm"], got["other"]) == (0, 300, 0, 0), got
    assert res.summary_for(got["pid"])["total"] == 1


@pytest.mark.parametrize("route", ["uring-readv-fixed", "uring-read-multishot"])
def test_newer_read_opcodes_are_not_in_this_kernel(deny_backend, route, source):
    """6.1 has neither READV_FIXED (6.15) nor READ_MULTISHOT (6.7): the
    kernel refuses them (EINVAL) and the routes do not name them."""
    res, out = wdrun.run_routes(["--backend", deny_backend, "--action", "monitor",
                                 "--max-calls", str(LIMIT), "--window-ms", "60000"],
                                readers.route_cmd(route, 300, source))
    got = out["route"]
    assert got["ok"] == 0 and got["first_other"] == errno.EINVAL, got
    reads = [r["route"] for r in res.start["routes"] if r["route"].startswith("io_uring READ,")]
    assert reads == ["io_uring READ, READV, READ_FIXED"], reads


@pytest.mark.parametrize("action", ["throttle", "kill"])
@pytest.mark.parametrize("route", ["uring-batch", "uring-sqpoll"])
def test_unstoppable_requests_past_the_limit(deny_backend, action, route, source, tmp_path):
    """A batch in one io_uring_enter, or an SQPOLL thread's linked pairs,
    under throttle and kill: lsm fails each read past the limit with EPERM
    (the SQPOLL thread's too; with kill the process dies at the first, so
    no read past it completes); kprobe refuses the ring whenever it enforces."""
    out = tmp_path / "out"
    res = wdrun.run(["--backend", deny_backend, "--action", action, "--max-calls", str(LIMIT),
                     "--window-ms", "3000"], readers.route_cmd(route, 300, source, out=out),
                    timeout=600)
    got = readers.route_results(res.other_lines).get("route")
    if URING_UNDER_DENY[deny_backend] == "refused":
        assert _uring_status(res)["reads"] == "refused"
        assert res.rc == 0 and (got["setup"], got["ok"]) == (1, 0), (res.rc, got)
        return
    reads, copies = readers.route_outcome(out, 300)
    assert reads == LIMIT and copies <= LIMIT, (reads, copies)
    if action == "throttle":
        assert res.rc == 0 and (got["ok"], got["eperm"]) == (LIMIT, 300 - LIMIT), got
    else:
        assert res.rc == 128 + 9 and got is None, (res.rc, got)


# kprobe works only where bpf_override_return does (the override kernel).
COUNTING = ["tracepoint"] + (["kprobe"] if os.environ.get("WATCHDOG_VM_KERNEL") ==
                             "override" else [])


@pytest.mark.parametrize("backend", COUNTING)
@pytest.mark.parametrize("route", ["uring-read", "uring-read+async", "uring-splice",
                                   "uring-batch", "uring-sqpoll"])
def test_uring_reads_counted_at_submission(backend, route, source):
    """Without deny, kprobe and tracepoint count each submitted io_uring
    read or splice at io_uring_submit_sqe (the 6.1 name), charged to the
    submitter (for the SQPOLL route, the ring's thread submits)."""
    res, out = wdrun.run_routes(["--backend", backend, "--action", "monitor",
                                 "--max-calls", str(LIMIT), "--window-ms", "60000"],
                                readers.route_cmd(route, 300, source))
    got = out["route"]
    assert (got["setup"], got["ok"], got["other"]) == (0, 300, 0), got
    row = res.summary_for(got["pid"])
    assert (row["allowed"], row["limited"]) == (LIMIT, 300 - LIMIT), row


@pytest.mark.parametrize("route", ["uring-batch", "uring-sqpoll"])
def test_tracepoint_kills_what_throttle_cannot_stop(route, source, tmp_path):
    """tracepoint, throttle: the thread's second request past the limit
    kills the process.  On this kernel a tmpfs read does not look for a
    pending SIGKILL, so the batch that crossed the limit still reads to its
    end (the documented slack), but no linked copy runs and no other batch
    follows.  The watchdog allowed exactly LIMIT before it acted; how many
    of those completed is the kernel's race, not the watchdog's: 6.1 hands
    every tmpfs read to an io-wq worker (shmem has no FMODE_NOWAIT there),
    and the kill cancels the workers' queued reads, so the SQPOLL route
    completed 0 and 49 of its 100 allowed reads in two CI runs."""
    out = tmp_path / "out"
    res = wdrun.run(["--backend", "tracepoint", "--action", "throttle",
                     "--max-calls", str(LIMIT), "--window-ms", "3000"],
                    readers.route_cmd(route, 300, source, out=out), timeout=600)
    reads, copies = readers.route_outcome(out, 300)
    assert res.rc == 128 + 9, (res.rc, res.stderr)
    assert not readers.route_results(res.other_lines), "the reader lived on"
    assert reads <= 300 and copies <= LIMIT + 1, (reads, copies)
    row = res.summary_for(res.start["targets"][0])
    assert (row["total"], row["allowed"]) == (300, LIMIT), row


@pytest.mark.parametrize("backend", COUNTING)
def test_splice_class_looks_at_the_source(backend, source, tmp_path):
    """--file: an IORING_OP_SPLICE counts when its source (splice_fd_in, at
    this kernel's BTF offsets) is the listed file, not for another file."""
    other = tmp_path / "other"
    other.write_bytes(b"other\n")
    cmd = ["/bin/sh", "-c", "%s; %s" % (
        " ".join(readers.route_cmd("uring-splice", 50, source, "listed")),
        " ".join(readers.route_cmd("uring-splice", 50, other, "other")))]
    res, out = wdrun.run_routes(["--backend", backend, "--action", "monitor",
                                 "--max-calls", "1000000", "--count", "files",
                                 "--file", str(source)], cmd)
    assert out["listed"]["ok"] == out["other"]["ok"] == 50, out
    assert res.summary_for(out["listed"]["pid"])["total"] == 50
    assert all(r["total"] == 0 for r in res.summary["processes"]
               if r["pid"] == out["other"]["pid"])
