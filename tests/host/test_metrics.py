"""Prometheus metrics against a real Prometheus (issue 20, section 1):
Debian's prometheus server scrapes the watchdog's /metrics endpoint and
node_exporter's textfile collector, which reads --metrics-file; the
limited counter Prometheus answers must be what the reader's own report
implies, from both front ends.  Also: /healthz, the exposition's names,
and refusals (a busy port, a directory that cannot be written) that
leave nothing attached."""

import os
import re
import signal

import pytest

import readers
import wdrun
from promstack import PromStack, free_port, http_get
from readers import AGGRESSIVE, parse_report

MAX, WINDOW_MS, BURST, BURSTS = 100, 300, 250, 3
METRIC = re.compile(r"^(ethos_[a-z_]+)(\{[^}]*\})? (\S+)$")


def _wait_done(path, timeout=60):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = parse_report(path)
            if r["state"] == "done":
                return r
        except (OSError, readers.ReportError):
            pass
        time.sleep(0.1)
    raise AssertionError("the reader did not finish in %ds" % timeout)


def _expected(r):
    """Calls over the limit the reader's report implies: each burst fits
    in one window (checked), so a burst's calls past MAX are limited."""
    for b in r["bursts"]:
        assert b["t_end_ns"] - b["t_start_ns"] < WINDOW_MS * 1e6, b
    return sum(max(0, b["ok"] - MAX) for b in r["bursts"])


def test_prometheus_scrapes_what_the_reader_saw(tmp_path, report):
    """Monitor only, on a reader named by --comm inside -- CMD (so only
    its reads count): Prometheus's ethos_calls_limited_total, from the
    HTTP endpoint and from the textfile, equals the calls over the limit
    in the reader's report, and the calls of both counters its reads."""
    rep, port = report("agg"), free_port()
    name = "wdprom%d" % (os.getpid() % 100000)
    # sh keeps the command (and so the watchdog) running once the reader
    # is done, until Prometheus has scraped the final counts.
    cmd = ["sh", "-c", '"$0" "$@"; exec sleep 300', str(AGGRESSIVE), "-n", str(BURST),
           "-b", str(BURSTS), "-g", "700", "-N", name, "-o", rep, "-q"]
    with PromStack(tmp_path, port) as prom:
        prom_file = prom.textfile_dir / "ethoswd.prom"
        run = wdrun.Watchdog(["--backend", "tracepoint", "--action", "monitor",
                              "--max-calls", str(MAX), "--window-ms", str(WINDOW_MS),
                              "--comm", name, "-i", "0.2", "--metrics-file", str(prom_file),
                              "--metrics-listen", "127.0.0.1:%d" % port], cmd=cmd)
        holder = None
        try:
            start = run.wait_started()
            holder = start["targets"][0]
            r = _wait_done(rep)
            limited = _expected(r)
            calls = r["totals"]["ok"]
            assert calls == BURST * BURSTS and limited == (BURST - MAX) * BURSTS
            want = {"watchdog": limited, "node": limited}
            got = prom.wait_for("ethos_calls_limited_total", want)
            total = prom.wait_for("ethos_calls_allowed_total + ethos_calls_limited_total",
                                  {"watchdog": calls, "node": calls})
            info = prom.query('ethos_watchdog_info{frontend="%s",action="monitor",'
                              'backend="tracepoint",key="process",count="all"}'
                              % wdrun.frontend())
            health = prom.query("ethos_health_map_full_total + ethos_health_targets_full_total"
                                " + ethos_health_events_lost_total")
            status, body = http_get("http://127.0.0.1:%d/healthz" % port)
            status404, _ = http_get("http://127.0.0.1:%d/nothing" % port)
            scrape = http_get("http://127.0.0.1:%d/metrics" % port)[1].decode()
            res = run.finish(sig=signal.SIGINT)
        finally:
            run.kill()
            if holder:
                try:
                    os.kill(holder, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        print("prometheus: ethos_calls_limited_total = %s (reader: %d over the limit of "
              "%d reads)" % (got, limited, calls))
        (tmp_path / "scrape.txt").write_text(scrape)
    assert got == want, "Prometheus answered %s; the reader's report implies %d" % (
        got, limited)
    assert total == {"watchdog": calls, "node": calls}, total
    assert info == {"watchdog": 1.0, "node": 1.0}, info
    assert health == {"watchdog": 0.0, "node": 0.0}, health
    assert (status, body, status404) == (200, b"ok\n", 404)
    assert res.rc == 0, res.stderr
    row = res.summary_for(r["pid"])
    assert (row["allowed"], row["limited"]) == (calls - limited, limited)
    # The exposition: every family named as documented, no per-PID labels.
    names = set()
    for line in scrape.splitlines():
        if line.startswith("#"):
            continue
        m = METRIC.match(line)
        assert m, line
        names.add(m.group(1))
        assert "pid" not in (m.group(2) or ""), line
    assert names == {
        "ethos_watchdog_info", "ethos_start_time_seconds", "ethos_limit_calls",
        "ethos_window_seconds", "ethos_programs_attached", "ethos_budgets",
        "ethos_budgets_limit", "ethos_budgets_limited", "ethos_processes_stopped",
        "ethos_calls_allowed_total", "ethos_calls_limited_total",
        "ethos_limited_windows_total", "ethos_health_map_full_total",
        "ethos_health_targets_full_total", "ethos_health_events_lost_total",
        "ethos_health_contended_total", "ethos_health_stops_full_total"}
    assert "ethos_window_seconds 0.3\n" in scrape and "ethos_limit_calls 100.0\n" in scrape
    assert "ethos_limited_windows_total %s\n" % float(BURSTS) in scrape
    assert "ethos_programs_attached %s\n" % float(len(res.start["attached"])) in scrape
    assert not list(prom_file.parent.glob("*.tmp")), "a temporary file was left behind"


def test_a_busy_port_is_refused_before_anything_is_attached(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        res = wdrun.run(["--action", "monitor", "--metrics-listen", "127.0.0.1:%d" % port],
                        cmd=["true"])
    lines = res.stderr.splitlines()
    assert res.rc == 2 and len(lines) == 1, res.stderr
    assert lines[0] == "%serror: --metrics-listen 127.0.0.1:%d: cannot listen: Address " \
        "already in use" % (wdrun.prefix(), port)


def test_an_unwritable_metrics_file_is_refused(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "m.prom"
    res = wdrun.run(["--action", "monitor", "--metrics-file", str(path)], cmd=["true"])
    assert res.rc == 2, res.stderr
    assert res.stderr == "%serror: --metrics-file %s: cannot write in %s: No such file or " \
        "directory\n" % (wdrun.prefix(), path, path.parent)


@pytest.mark.frontends("watchdog.py")
def test_watchdog_py_names_the_missing_client(tmp_path):
    """Without python3-prometheus-client a metrics option is one line
    naming the package (simulated: the module hidden from the import)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "prometheus_client.py").write_text("raise ImportError('hidden by the test')\n")
    env = dict(os.environ, PYTHONPATH=str(shim))
    res = wdrun.run(["--action", "monitor", "--metrics-file", str(tmp_path / "m.prom")],
                    cmd=["true"], env=env)
    assert res.rc == 2
    assert res.stderr == "watchdog: error: --metrics-file and --metrics-listen need Python's " \
        "prometheus_client: apt-get install python3-prometheus-client (./install.sh " \
        "installs it)\n"


def test_ipv6_endpoint_and_file_while_running(tmp_path):
    """[::1]:PORT serves /healthz and /metrics while the watchdog runs,
    and the file is there from the start (before the first interval)."""
    import socket
    import time
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "m.prom"
    run = wdrun.Watchdog(["--action", "monitor", "-i", "30", "--metrics-file", str(path),
                          "--metrics-listen", "[::1]:%d" % port], cmd=["sleep", "3"])
    try:
        run.wait_started()
        first = path.read_text()
        health = http_get("http://[::1]:%d/healthz" % port)
        scrape = http_get("http://[::1]:%d/metrics" % port)
        time.sleep(0.1)
        res = run.finish()
    finally:
        run.kill()
    assert res.rc == 0, res.stderr
    assert 'ethos_watchdog_info{action="monitor",' in first
    assert health == (200, b"ok\n")
    assert scrape[0] == 200 and b"# TYPE ethos_calls_allowed_total counter\n" in scrape[1]
