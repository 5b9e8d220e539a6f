"""--config FILE and SIGHUP on the host kernel, both front ends (issue 20
section 4).  Only the test's own reader is limited (-- CMD).

The limit of a running watchdog drops from 100 to 20 at a reload: the
reader's own log of every read shows 101 reads per window before it (the
tracepoint lets the crossing call run, then throttle stops the reader
until its window ends) and 21 after.  Before that, a bad file and a
change that needs another probe (--key) are refused and the running
policy stays.
"""

import os
import signal
import time

import wdrun
from readers import aggressive_cmd, parse_report

WINDOW_MS = 300


def _write(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.rename(path)            # the watchdog reads a whole file, old or new


def _reload(run, n):
    """Send SIGHUP; the n-th reload event (1-based) and when it was sent."""
    def reloads():
        return [r for r in run.records if r.get("event") == "reload"]

    sent = time.monotonic_ns()
    run.signal(signal.SIGHUP)
    found = run.wait_for(lambda _r: len(reloads()) >= n, 20)
    assert found is not None, "no reload event %d; stderr:\n%s" % (n, "".join(run._stderr))
    return reloads()[n - 1], sent


def _windows(log):
    """The reader's reads grouped into windows: a throttled reader reads in
    clusters, stopped in between until its window ends.  [(t_first_ns,
    t_last_ns, reads)]."""
    out, gap = [], WINDOW_MS * 1000000 // 3
    for t in sorted(e["t_ns"] for e in log if e["result"] >= 0):
        if out and t - out[-1][1] < gap:
            out[-1] = (out[-1][0], t, out[-1][2] + 1)
        else:
            out.append((t, t, 1))
    return out


POLICY = ('# the test\'s own reader only: -- CMD\nbackend = "tracepoint"\n'
          'action = "throttle"\nwindow-ms = %d\n' % WINDOW_MS)


def test_sighup_lowers_the_limit_and_refuses_what_it_cannot_apply(tmp_path, report):
    cfg = tmp_path / "ethoswd.toml"
    _write(cfg, POLICY + "max-calls = 100\n")
    rep = report("agg")
    run = wdrun.Watchdog(["--config", str(cfg)],
                         aggressive_cmd(duration_ms=6000, report=rep, log=100000, quiet=True))
    run.wait_started()
    time.sleep(1.2)
    _write(cfg, POLICY + "max-calls = 20\nmax-calls = 30\n")
    bad, _ = _reload(run, 1)
    time.sleep(0.6)
    _write(cfg, POLICY + "max-calls = 20\nkey = \"uid\"\n")
    rekey, _ = _reload(run, 2)
    time.sleep(0.6)
    _write(cfg, POLICY + "max-calls = 20\n")
    good, sent = _reload(run, 3)
    applied = time.monotonic_ns()
    res = run.finish(60)
    assert res.rc == 0, res.stderr

    assert bad["applied"] is False and bad["changes"] == [] and bad["error"] == (
        "--config %s: line 6: 'max-calls' is set twice" % cfg), bad
    assert rekey["applied"] is False and rekey["error"] is None, rekey
    assert rekey["changes"] == [{"setting": "max-calls", "old": "100", "new": "20"},
                                {"setting": "key", "old": "process", "new": "uid"}], rekey
    assert rekey["refused"] == [{"setting": "key", "reason": "built into the loaded probe: "
                                 "restart to apply"}], rekey
    assert good == dict(good, applied=True, error=None, refused=[], config=str(cfg),
                        changes=[{"setting": "max-calls", "old": "100", "new": "20"}]), good

    wins = _windows(parse_report(rep)["log"])
    # (The first window is left out: the reader's threads start in it.)
    before = [w[2] for w in wins[1:-1] if w[1] < sent]
    after = [w[2] for w in wins[:-1] if w[0] > applied]
    print("reads per window before the reload: %s; after: %s" % (before, after))
    # The refused reloads changed nothing: 100 allowed per window, plus the
    # one call a tracepoint lets through before the stop lands.
    assert len(before) >= 6 and set(before) == {101}, before
    assert len(after) >= 3 and set(after) == {21}, after
    row = res.summary_for(res.start["targets"][0])
    limits = [(e["max_calls"], e["window_ms"]) for e in res.events("limit")]
    assert limits == [(100, WINDOW_MS)], limits     # throttled in every window: one LIMIT
    assert row["limited_windows"] == len(wins) - (wins[-1][2] <= 20), (row, wins)


def test_limit_lines_show_the_limit_the_probe_holds(tmp_path, report):
    """A LIMIT after a reload names the new limit (it used to repeat the
    start-up one): bursts far enough apart that each is limited anew."""
    cfg = tmp_path / "ethoswd.toml"
    _write(cfg, 'action = "monitor"\nmax-calls = 100\nwindow-ms = %d\n' % WINDOW_MS)
    run = wdrun.Watchdog(["--config", str(cfg), "--max-calls", "50"],
                         aggressive_cmd(reads=150, bursts=4, gap_ms=1000, quiet=True))
    run.wait_started()
    assert run.wait_for(lambda r: r.get("event") == "limit", 20), "no first LIMIT"
    _write(cfg, 'action = "monitor"\nmax-calls = 100\nwindow-ms = 200\n')
    rec, _ = _reload(run, 1)
    res = run.finish(60)
    assert res.rc == 0, res.stderr
    # --max-calls on the command line still wins over the file.
    assert rec["changes"] == [{"setting": "window-ms", "old": str(WINDOW_MS),
                               "new": "200"}] and rec["applied"], rec
    limits = [(e["max_calls"], e["window_ms"], e["allowed"]) for e in res.events("limit")]
    assert len(limits) == 4, limits
    assert limits[0][:2] == (50, WINDOW_MS) and limits[-1][:2] == (50, 200), limits
    # Each burst of 150 reads: 50 allowed, whatever the window.
    assert [a for _, _, a in limits] == [50, 100, 150, 200], limits
    assert res.summary["processes"][0]["allowed"] == 200


def test_sighup_without_config_stops_cleanly():
    run = wdrun.Watchdog(["--action", "monitor", "--backend", "tracepoint"],
                         ["sleep", "30"])
    run.wait_started()
    res = run.finish(30, sig=signal.SIGHUP)
    stop = res.events("stop")
    if stop and stop[0].get("command_running"):
        os.kill(stop[0]["command_running"], signal.SIGKILL)
    assert res.rc == 0, res.stderr
    assert stop and stop[0]["reason"] == "SIGHUP", stop
