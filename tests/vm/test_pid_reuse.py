"""PID reuse (issue #9, item 6): a process that gets the PID of an exited
target starts with a fresh budget, and is a target only if it descends
from one.

The PID is handed out again on purpose: writing A-1 to
/proc/sys/kernel/ns_last_pid (root, as CRIU does) makes the next fork get
PID A if it is free, so no wait for PIDs to come round.  The window is a
minute, so without the exit hook's cleanup the old budget (300 calls in
this window) would still be there and the new process would get nothing.
"""

import os
import subprocess
import time

import readers
import wdrun

LIMIT = 100
TRIES = 20
LAST_PID = "/proc/sys/kernel/ns_last_pid"


def _fork_as(pid, argv):
    """Run argv in a child that gets `pid` (route_reader -P exits 3 when the
    PID was taken by someone else in between; then try again)."""
    for _ in range(TRIES):
        with open(LAST_PID, "w") as f:
            f.write(str(pid - 1))
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode != 3:
            return p
    raise AssertionError("never got PID %d from outside the tree" % pid)


def test_reused_pid_gets_a_fresh_budget_and_only_a_descendant_is_a_target(
        deny_backend, tmp_path):
    src = readers.route_source(tmp_path)
    first, fifo = tmp_path / "first.pid", tmp_path / "go"
    os.mkfifo(fifo)
    rr = "%s -r pread -n 300 -f %s" % (readers.ROUTE, src)
    # The target tree: a reader (PID A) runs and exits; then the tree's shell
    # sets ns_last_pid to A-1 and forks a reader that runs only as PID A
    # (echo is a builtin: no fork in between), retrying if another task took
    # A; then it waits on the fifo while the test does the same from outside.
    script = ("%(rr)s -l first & A=$!; wait $A; echo $A > %(first)s; i=0; "
              "until echo $((A-1)) > %(last)s; %(rr)s -l descendant -P $A; do "
              "i=$((i+1)); [ $i -ge %(tries)d ] && break; done; read x < %(fifo)s"
              % dict(rr=rr, first=first, fifo=fifo, last=LAST_PID, tries=TRIES))
    run = wdrun.Watchdog(["--backend", deny_backend, "--action", "deny",
                          "--max-calls", str(LIMIT), "--window-ms", "60000"],
                         ["/bin/sh", "-c", script])
    try:
        run.wait_started(timeout=300)
        deadline = time.monotonic() + 300
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with open(fifo, "w") as f:     # blocks until the tree's shell reads
            a = int(first.read_text())
            outside = _fork_as(a, readers.route_cmd("pread", 300, src, "outside",
                                                    only_pid=a))
            f.write("\n")
        res = run.finish(timeout=300)
    except BaseException:
        run.kill()
        raise
    out = readers.route_results(res.other_lines)
    assert "descendant" in out, "the tree never got PID %d back: %s" % (a, out)
    assert out["first"]["pid"] == out["descendant"]["pid"] == a, out
    # The target and its descendant with the same PID: 100 each, in one window.
    for label in ("first", "descendant"):
        assert (out[label]["ok"], out[label]["eperm"]) == (LIMIT, 300 - LIMIT), out
    # The same PID outside the tree: not a target, nothing limited.
    got = readers.route_results(outside.stdout.splitlines())["outside"]
    assert (got["pid"], got["ok"], got["eperm"]) == (a, 300, 0), got
    assert res.summary["health"]["targets_full"] == 0
