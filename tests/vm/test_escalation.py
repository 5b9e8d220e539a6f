"""Throttle holds against SIGCONT on the guest kernels too (issue 17, 2),
with each deny backend the kernel has and --action throttle: a helper
that sends the throttled reader SIGCONT every millisecond gets it killed
in its throttled window (there the over-limit calls also fail with EPERM,
so the kill is what the escalation adds), and a reader without a helper
is never killed.  The host suite (tests/host/test_escalation.py) covers
-p, --comm, tgkill, pidfd_send_signal, shared budgets and ptrace.

Windows are long (2 s): TCG makes every syscall slow."""

import readers
import wdrun
from readers import aggressive_cmd, parse_report

MAX_CALLS, WINDOW_MS = 100, 2000
STORM = str(readers.BIN_DIR / "sigcont_storm")


def throttle(backend):
    return ["--backend", backend, "--action", "throttle", "--max-calls", str(MAX_CALLS),
            "--window-ms", str(WINDOW_MS)]


def test_a_sigcont_helper_gets_the_reader_killed(deny_backend, report):
    rep = report("agg")
    sh = '"$0" "$@" & %s $! & wait' % STORM
    res = wdrun.run(throttle(deny_backend), ["/bin/sh", "-c", sh] +
                    aggressive_cmd(duration_ms=6000, report=rep, quiet=True), timeout=600)
    assert res.rc == 0, res.stderr
    ra = parse_report(rep)
    escalations = res.events("escalate")
    assert len(escalations) == 1, res.records
    e = escalations[0]
    assert e["pid"] == ra["pid"] and e["reason"] == "resumed during its throttled window", e
    assert e["resumed_by"]["comm"] == "sigcont_storm" and e["resumed_by"]["sender_known"], e
    assert ra["state"] == "running", ra
    print("reads completed: %s, %d windows limited" % (ra["totals"], e["limited_windows"]))
    # The over-limit calls fail here: exactly the allowance completes.
    assert ra["totals"]["ok"] <= MAX_CALLS * e["limited_windows"], (ra["totals"], e)


def test_a_throttled_reader_without_a_helper_is_never_killed(deny_backend, report):
    rep = report("agg")
    res = wdrun.run(throttle(deny_backend),
                    aggressive_cmd(threads=4, duration_ms=7000, report=rep, quiet=True),
                    timeout=600)
    assert res.rc == 0, res.stderr
    assert not res.events("escalate")
    ra = parse_report(rep)
    assert ra["state"] == "done"
    row = res.summary_for(ra["pid"])
    assert row["limited_windows"] >= 2, row
    assert 0 <= row["allowed"] - MAX_CALLS * row["limited_windows"] < MAX_CALLS, row
    assert ra["totals"]["ok"] == row["allowed"], (ra["totals"], row)
