"""Throttle holds against SIGCONT (issue 17, section 2): a helper process
that sends a throttled reader SIGCONT every millisecond (tests/progs/
sigcont_storm) gets it killed in its throttled window, so the reader
completes at most one window's allowance per window plus the per-thread
slack; a reader without a helper is never killed.  Host kernel: tracepoint
backend, where an over-limit read cannot be failed, only stopped.

The same scenario for `-- CMD` (the issue's `sh -c "READER & HELPER $! &
wait"`), `-p` and `--comm`, with SIGCONT sent by kill(), by tgkill() to a
thread that is not the leader and by pidfd_send_signal(); and with a
shared (tree) budget.  Before the escalation the reader completed about
3 300 reads in 3 s on this loaded machine (10 399 in the issue), 606 without
the helper.
"""

import re
import subprocess

import pytest

import readers
import wdrun
from readers import aggressive_cmd, parse_report

MAX_CALLS, WINDOW_MS = 100, 500
THROTTLE = ["--backend", "tracepoint", "--action", "throttle",
            "--max-calls", str(MAX_CALLS), "--window-ms", str(WINDOW_MS)]
STORM = str(readers.BIN_DIR / "sigcont_storm")
EATER = str(readers.BIN_DIR / "stop_eater")
THREAD_PER_READ = str(readers.BIN_DIR / "thread_per_read")
# si_code the kernel gives each way of sending (SI_USER, SI_TKILL).
SI_CODE = {"kill": 0, "tgkill": -6, "pidfd": 0}


def _escalation(res, pid, comm="aggressive_read"):
    escalations = res.events("escalate")
    assert len(escalations) == 1, res.records
    e = escalations[0]
    assert e["pid"] == pid and e["action"] == "kill", e
    assert e["comm"] == comm and e["state"] == "killed", e
    assert e["limited_windows"] >= 1, e
    return e


def _check_bound(done, e, threads):
    """At most one window's allowance per window the reader ran, plus the
    slack: per thread, the call that crossed the limit (a tracepoint cannot
    fail it) and the call that found the process had run on (it runs, the
    kill lands on its return)."""
    windows = e["limited_windows"]
    print("reads completed: %d (%d windows limited before the kill)" % (done, windows))
    assert done <= MAX_CALLS * windows + 2 * threads, (done, windows)
    assert done <= MAX_CALLS * (3000 // WINDOW_MS + 1) + 2 * threads


def _check_escalated(res, rep, threads, storm_pid=None, mode="kill", key="process"):
    """The reader was killed for the SIGCONT and completed at most its
    allowance per window plus the slack."""
    ra = parse_report(rep)
    e = _escalation(res, ra["pid"])
    assert e["reason"] == "resumed during its throttled window", e
    by = e["resumed_by"]
    assert by["comm"] == "sigcont_storm" and by["sender_known"], by
    assert by["si_code"] == SI_CODE[mode], by
    if storm_pid is not None:
        assert by["pid"] == storm_pid, (by, storm_pid)
    if key != "process":
        assert e["key"] == key, e
    # Killed mid-run: the reader never finished its 3 s.
    assert ra["state"] == "running", ra["state"]
    _check_bound(ra["totals"]["ok"], e, threads)


@pytest.mark.parametrize("mode", ["kill", "tgkill", "pidfd"])
def test_command_with_a_sigcont_helper_is_killed(report, mode):
    """The issue's scenario: -- sh -c "READER 3000 & HELPER $READER & wait"."""
    rep = report("agg")
    sh = '"$0" "$@" & %s -m %s $! & wait' % (STORM, mode)
    res = wdrun.run(THROTTLE, ["/bin/sh", "-c", sh] +
                    aggressive_cmd(duration_ms=3000, report=rep, quiet=True))
    assert res.rc == 0, res.stderr
    storm = [re.match(r"sigcont_storm (\d+): sent \d+ .*; target gone$", line.rstrip())
             for line in res.other_lines]
    storm = [m for m in storm if m]
    assert len(storm) == 1, res.other_lines
    _check_escalated(res, rep, 1, storm_pid=int(storm[0].group(1)), mode=mode)


def test_pid_target_with_a_sigcont_helper_is_killed(report):
    rep = report("agg")
    proc = readers.launch(aggressive_cmd(duration_ms=3000, report=rep, wait=True, quiet=True))
    run = wdrun.Watchdog(THROTTLE + ["-p", str(proc.pid)])
    run.wait_started()
    storm = subprocess.Popen([STORM, str(proc.pid)], stdout=subprocess.PIPE, text=True)
    readers.go(proc)
    proc.wait(60)
    storm.communicate(timeout=60)
    res = run.finish()
    assert proc.returncode == -9
    _check_escalated(res, rep, 1, storm_pid=storm.pid)


def test_comm_target_with_a_sigcont_helper_is_killed(report):
    rep = report("agg")
    run = wdrun.Watchdog(THROTTLE + ["--comm", "aggressive_read", "--duration", "5"])
    run.wait_started()
    proc = subprocess.Popen(aggressive_cmd(duration_ms=3000, report=rep, quiet=True))
    storm = subprocess.Popen([STORM, "-m", "tgkill", str(proc.pid)], stdout=subprocess.PIPE,
                             text=True)
    proc.wait(60)
    storm.communicate(timeout=60)
    res = run.finish()
    assert proc.returncode == -9
    _check_escalated(res, rep, 1, storm_pid=storm.pid, mode="tgkill")


def test_threads_and_a_shared_budget_escalate_too(report):
    """Four reading threads in a tree budget, SIGCONT to one of them: the
    whole process is killed and each thread completes at most its slack."""
    rep = report("agg")
    sh = '"$0" "$@" & %s -m tgkill $! & wait' % STORM
    res = wdrun.run(THROTTLE + ["--key", "tree"], ["/bin/sh", "-c", sh] +
                    aggressive_cmd(threads=4, duration_ms=3000, report=rep, quiet=True))
    assert res.rc == 0, res.stderr
    _check_escalated(res, rep, 4, mode="tgkill", key="tree")


def test_a_throttled_reader_without_a_helper_is_never_killed(report):
    """The watchdog's own SIGCONT at each window's end never escalates:
    8 threads, 20 windows of 200 ms, each allowing exactly MAX_CALLS."""
    rep = report("agg")
    res = wdrun.run(["--backend", "tracepoint", "--action", "throttle",
                     "--max-calls", str(MAX_CALLS), "--window-ms", "200"],
                    aggressive_cmd(threads=8, duration_ms=4000, report=rep, quiet=True))
    assert res.rc == 0, res.stderr
    assert not res.events("escalate")
    ra = parse_report(rep)
    assert ra["state"] == "done"
    row = res.summary_for(ra["pid"])
    assert row["limited_windows"] >= 10, row
    assert 0 <= row["allowed"] - MAX_CALLS * row["limited_windows"] < MAX_CALLS, row


def test_text_mode_says_throttle_escalates_and_who_resumed(report):
    rep = report("agg")
    sh = '"$0" "$@" & %s $! & wait' % STORM
    out = wdrun.run_text(THROTTLE, ["/bin/sh", "-c", sh] +
                         aggressive_cmd(duration_ms=3000, report=rep, quiet=True))
    assert out.returncode == 0, out.stderr
    assert b"throttle escalates to kill: a process that another one resumes" in out.stderr
    ra = parse_report(rep)
    line = re.search(rb"KILL +%d aggressive_read +resumed by pid (\d+) \(sigcont_storm\) "
                     rb"during its throttled window -> killed\n" % ra["pid"], out.stdout)
    assert line, out.stdout


DISCARDED = "ran on during its throttled window although stopped"


def test_a_tracer_that_discards_the_stop_gets_the_reader_killed(report):
    """ptrace, no signal: stop_eater resumes the reader at each stop without
    the SIGSTOP (104 128 reads in 3 s before); its second over-limit call in
    the window kills it."""
    rep = report("agg")
    proc = readers.launch(aggressive_cmd(duration_ms=3000, report=rep, wait=True, quiet=True))
    run = wdrun.Watchdog(THROTTLE + ["-p", str(proc.pid)])
    run.wait_started()
    eater = subprocess.Popen([EATER, str(proc.pid)], stdout=subprocess.PIPE, text=True)
    assert eater.stdout.readline().startswith("stop_eater"), "stop_eater did not attach"
    readers.go(proc)
    proc.wait(60)
    eater.communicate(timeout=60)
    res = run.finish()
    assert proc.returncode == -9
    ra = parse_report(rep)
    e = _escalation(res, proc.pid)
    assert e["reason"].startswith(DISCARDED) and e["resumed_by"] is None, e
    _check_bound(ra["totals"]["ok"], e, 1)


def _thread_per_read(traced):
    proc = readers.launch([THREAD_PER_READ, "-w", "3000"])
    run = wdrun.Watchdog(THROTTLE + ["-p", str(proc.pid)])
    run.wait_started()
    eater = None
    if traced:
        eater = subprocess.Popen([EATER, str(proc.pid)], stdout=subprocess.PIPE, text=True)
        assert eater.stdout.readline().startswith("stop_eater"), "stop_eater did not attach"
    readers.go(proc)
    out = proc.communicate(timeout=60)[0]
    if eater:
        eater.communicate(timeout=60)
    return proc, run.finish(), out


def test_a_fresh_thread_per_read_under_such_a_tracer_is_killed(report):
    """Each read from a new thread, every stop discarded (18 586 reads in
    3 s before): the first thread made after the process's stop and
    calling in that window kills it."""
    proc, res, _ = _thread_per_read(True)
    assert proc.returncode == -9
    e = _escalation(res, proc.pid, "thread_per_read")
    assert e["reason"].startswith(DISCARDED), e
    row = res.summary_for(proc.pid)
    # Counted calls (the reader's own count dies with it): the allowance,
    # the call that crossed the limit and the one that killed.
    assert row["total"] <= MAX_CALLS * e["limited_windows"] + 2, (row, e)


def test_a_fresh_thread_per_read_without_a_tracer_is_never_killed(report):
    """The new-thread rule never fires on its own: threads made after a
    window's stop run only after the watchdog's SIGCONT, in a new window."""
    proc, res, out = _thread_per_read(False)
    assert proc.returncode == 0, out
    assert not res.events("escalate")
    done = int(re.search(r"ok=(\d+)", out).group(1))
    row = res.summary_for(proc.pid)
    assert row["limited_windows"] >= 5, row
    # One thread per read: one call past the limit per window.
    assert done <= (MAX_CALLS + 1) * row["limited_windows"] + MAX_CALLS, (done, row)
