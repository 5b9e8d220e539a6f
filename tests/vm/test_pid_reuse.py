"""PID reuse (issue #9, item 6): a process that gets the PID of an exited
target starts with a fresh budget, and is a target only if it descends
from one.

The PID is handed out again on purpose: tests/progs/bin/spawn_as runs a
command as PID A with clone3(set_tid) (root, as CRIU does), so there is no
wait for PIDs to come round (and no need for ns_last_pid, which the
override kernel lacks).  The window is a
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
SPAWN_AS = readers.BIN_DIR / "spawn_as"


def _run_as(pid, argv):
    """Run argv as PID `pid` (spawn_as exits 3 while another task holds it,
    e.g. a process still being reaped; then try again)."""
    for _ in range(TRIES):
        p = subprocess.run([str(SPAWN_AS), str(pid)] + argv, capture_output=True,
                           text=True)
        if p.returncode != 3:
            return p
        time.sleep(0.1)
    raise AssertionError("never got PID %d from outside the tree" % pid)


def test_reused_pid_gets_a_fresh_budget_and_only_a_descendant_is_a_target(
        deny_backend, tmp_path):
    src = readers.route_source(tmp_path)
    first, fifo = tmp_path / "first.pid", tmp_path / "go"
    os.mkfifo(fifo)
    rr = "%s -r pread -n 300 -f %s" % (readers.ROUTE, src)
    # The target tree: a reader (PID A) runs and exits; then the tree's shell
    # runs a reader as PID A through spawn_as (a descendant of the target),
    # retrying while A is still taken; then it waits on the fifo while the
    # test does the same from outside the tree.
    script = ("%(rr)s -l first & A=$!; wait $A; echo $A > %(first)s; i=0; "
              "until %(spawn)s $A %(rr)s -l descendant -P $A; do "
              "i=$((i+1)); [ $i -ge %(tries)d ] && break; sleep 0.1; done; "
              "read x < %(fifo)s"
              % dict(rr=rr, first=first, fifo=fifo, spawn=SPAWN_AS, tries=TRIES))
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
            outside = _run_as(a, readers.route_cmd("pread", 300, src, "outside",
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
