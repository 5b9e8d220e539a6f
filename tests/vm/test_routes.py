"""Each route that moves a file's bytes into a process, with deny on each
deny backend of the guest kernel: a route the backend covers allows
exactly 100 reads and fails the other 200 with EPERM (an io_uring read in
its completion entry); a route it refuses fails where the guide says.
The source is a file on the guest's /tmp (tmpfs, not the overlay root)."""

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


@pytest.mark.parametrize("route", readers.ROUTES)
def test_every_route_denied_over_the_limit(deny_backend, route, source):
    res, out = wdrun.run_routes(["--backend", deny_backend, "--action", "deny",
                                 "--max-calls", str(LIMIT), "--window-ms", "60000"],
                                readers.route_cmd(route, 300, source))
    got = out["route"]
    status = {r["route"].split()[0]: r["status"] for r in res.start["routes"]}
    if route.startswith("uring-") and URING_UNDER_DENY[deny_backend] == "refused":
        # No io_uring read can be failed on its own here: the ring is refused.
        assert status["io_uring"] == "refused"
        assert (got["setup"], got["ok"], got["eperm"], got["other"]) == (1, 0, 0, 0), got
        return
    assert (got["setup"], got["ok"], got["eperm"], got["other"]) == \
        (0, LIMIT, 300 - LIMIT, 0), got
    row = res.summary_for(got["pid"])
    assert (row["allowed"], row["limited"]) == (LIMIT, 300 - LIMIT), row


# kprobe works only where bpf_override_return does (the override kernel).
COUNTING = ["tracepoint"] + (["kprobe"] if os.environ.get("WATCHDOG_VM_KERNEL") ==
                             "override" else [])


@pytest.mark.parametrize("backend", COUNTING)
@pytest.mark.parametrize("route", ["uring-read", "uring-read+async"])
def test_uring_reads_counted_at_submission(backend, route, source):
    """Without deny, kprobe and tracepoint count each submitted io_uring
    read at io_uring_submit_sqe (the 6.1 name), charged to the submitter."""
    res, out = wdrun.run_routes(["--backend", backend, "--action", "monitor",
                                 "--max-calls", str(LIMIT), "--window-ms", "60000"],
                                readers.route_cmd(route, 300, source))
    got = out["route"]
    assert (got["setup"], got["ok"], got["other"]) == (0, 300, 0), got
    row = res.summary_for(got["pid"])
    assert (row["allowed"], row["limited"]) == (LIMIT, 300 - LIMIT), row
