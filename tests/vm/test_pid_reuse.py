"""PID reuse (issue #9, item 6): a process that gets the PID of an exited
target starts with a fresh budget, and is a target only if it descends
from one.  pid_max is lowered so PIDs come round within seconds; the
window is a minute, so without the exit hook's cleanup the old budget
(300 calls in this window) would still be there."""

import os
import time

import readers
import wdrun

LIMIT = 100
PID_MAX = 1000


def test_reused_pid_gets_a_fresh_budget_and_only_a_descendant_is_a_target(
        deny_backend, tmp_path):
    src = tmp_path / "source"
    src.write_bytes(b"pid\n")
    first, done, fifo = (tmp_path / n for n in ("first.pid", "descendant.done", "go"))
    os.mkfifo(fifo)
    rr = "%s -r pread -n 300 -f %s" % (readers.ROUTE, src)
    # The target tree: a reader (PID A) runs and exits; then the tree forks
    # readers that run only if they got PID A (route_reader -P) until one
    # does; then it waits on the fifo while the test does the same from
    # outside the tree.
    script = ("%(rr)s -l first & A=$!; wait $A; echo $A > %(first)s; i=0; "
              "until %(rr)s -l descendant -P $A; do i=$((i+1)); "
              "[ $i -ge 50000 ] && break; done; touch %(done)s; read x < %(fifo)s"
              % dict(rr=rr, first=first, done=done, fifo=fifo))
    with open("/proc/sys/kernel/pid_max") as f:
        old_max = f.read().strip()
    with open("/proc/sys/kernel/pid_max", "w") as f:
        f.write(str(PID_MAX))
    try:
        run = wdrun.Watchdog(["--backend", deny_backend, "--action", "deny",
                              "--max-calls", str(LIMIT), "--window-ms", "60000"],
                             ["/bin/sh", "-c", script])
        run.wait_started(timeout=300)
        # About PID_MAX - 300 forks and execs (PIDs below 300 are reserved);
        # slow under TCG.
        deadline = time.monotonic() + 900
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not done.exists():
            run.kill()
            raise AssertionError("the tree never got its first reader's PID back")
        a = int(first.read_text())
        outside = None
        for _ in range(50000):
            p = readers.subprocess.run(readers.route_cmd("pread", 300, src, "outside",
                                                         only_pid=a),
                                       capture_output=True, text=True)
            if p.returncode == 0:
                outside = readers.route_results(p.stdout.splitlines())["outside"]
                break
        with open(fifo, "w") as f:
            f.write("\n")
        res = run.finish(timeout=300)
    finally:
        with open("/proc/sys/kernel/pid_max", "w") as f:
            f.write(old_max)
    out = readers.route_results(res.other_lines)
    assert out["first"]["pid"] == out["descendant"]["pid"] == a, out
    # The target and its descendant with the same PID: 100 each, in one window.
    for label in ("first", "descendant"):
        assert (out[label]["ok"], out[label]["eperm"]) == (LIMIT, 300 - LIMIT), out
    # The same PID outside the tree: not a target, nothing limited.
    assert outside is not None, "never got PID %d from outside the tree" % a
    assert (outside["pid"], outside["ok"], outside["eperm"]) == (a, 300, 0), outside
    assert res.summary["health"]["targets_full"] == 0
