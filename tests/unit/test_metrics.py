"""ethoswd/metrics.py without BPF: a fake probe's maps, the counters'
bookkeeping across ended budgets, the bounded per-cgroup series, the
HTTP endpoint and the file (src/metrics.c keeps the same books; the
host suite checks both front ends against a real Prometheus)."""

import socket
import types
import urllib.error
import urllib.request

import pytest

from ethoswd import cgnames, cli, metrics


class FakeProbe:
    def __init__(self):
        self.map = {}
        self.slots = {0: 0, 1: 0, 2: 0, 3: 0}

    def set(self, ident, allowed, limited, windows=0):
        self.map[ident] = types.SimpleNamespace(allowed=allowed, limited=limited,
                                                limited_windows=windows)

    def entries(self):
        return dict(self.map)

    def health(self):
        return dict(self.slots)


class FakeNames:
    def by_id(self, ident):
        return cgnames.make("/libpod_parent/libpod-%064x" % ident if ident < 100
                            else "/system.slice/x%d.service" % ident)


def _metrics(argv, tmp_path=None):
    opts = cli.parse(["--action", "monitor"] + argv)
    info = {"version": "1.0", "frontend": "watchdog.py", "backend": "tracepoint",
            "action": "monitor", "profile": opts.policy.profile, "key": opts.policy.key,
            "count": opts.policy.count}
    m = metrics.Metrics(opts, info)
    probe = FakeProbe()
    m.names = FakeNames()
    m.start(probe, 3, lambda: (1, 0))
    return m, probe


def test_counters_cover_ended_budgets_and_never_go_down():
    m, probe = _metrics([])
    probe.set(10, 100, 50, 1)
    probe.set(11, 7, 0)
    s = m.snapshot()
    assert (s["allowed"], s["limited"], s["limited_windows"], s["budgets"]) == (107, 50, 1, 2)
    # 10 leaves the map before its EXIT event is read: its last counts stay
    del probe.map[10]
    s = m.snapshot()
    assert (s["allowed"], s["limited"]) == (107, 50)
    # the EXIT event's final counts replace them
    m.retire(10, 100, 60, 1)
    assert (m.snapshot()["allowed"], m.snapshot()["limited"]) == (107, 60)
    # EXIT read while the entry is still in the map (the probe deletes
    # right after): not counted twice
    probe.set(11, 9, 0)
    m.retire(11, 9, 0, 0)
    assert m.snapshot()["allowed"] == 109
    del probe.map[11]
    assert m.snapshot()["allowed"] == 109
    m.close()


def test_per_cgroup_series_are_bounded_and_first_come():
    """Budgets are the session's idents (key, id, uid): two users' budgets
    of cgroup 1 are one series, and a caller of the root cgroup with a
    budget of its own ("process", PID, None) counts in the root cgroup's
    series (WD_ROOT_CGROUP_ID, 1 here), never in one of its own."""
    m, probe = _metrics(["--key", "cgroup", "--metrics-listen", "127.0.0.1:%d" % _port(),
                         "--metrics-per-cgroup", "2"])
    for ident, (a, lim) in {("cgroup", 1, 0): (5, 1), ("cgroup", 1, 1000): (2, 0),
                            ("cgroup", 2, 0): (6, 2), ("process", 4321, None): (1, 1),
                            ("cgroup", 300, 0): (7, 3), ("cgroup", 301, 0): (8, 4)}.items():
        probe.set(ident, a, lim)
    rows = m.snapshot()["cgroups"]
    assert [(r["cgroup"], r["container_runtime"], r["allowed"], r["limited"]) for r in rows] == [
        ("/libpod_parent/libpod-%064x" % 1, "podman", 8, 2),
        ("/libpod_parent/libpod-%064x" % 2, "podman", 6, 2),
        ("other", "", 15, 7)]
    # an ended budget's final counts stay in its series
    m.retire(("cgroup", 1, 1000), 3, 1, 1)
    del probe.map["cgroup", 1, 1000]
    assert m.snapshot()["cgroups"][0]["allowed"] == 9
    text = metrics.render(m.snapshot()).decode()
    assert text.count("ethos_cgroup_calls_limited_total{") == 3
    assert "4321" not in text
    m.close()


def test_every_health_counter_is_a_metric():
    """session.HEALTH_NAMES (the probe's health slots) each have a counter."""
    from ethoswd.session import HEALTH_NAMES
    m, probe = _metrics(["--metrics-listen", "127.0.0.1:%d" % _port()])
    probe.slots = {slot: 10 + slot for slot in HEALTH_NAMES}
    text = metrics.render(m.snapshot()).decode()
    for slot, name in HEALTH_NAMES.items():
        assert "ethos_health_%s_total %d.0\n" % (name, 10 + slot) in text, name
    m.close()


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def test_http_endpoint(tmp_path):
    port = _port()
    m, probe = _metrics(["--metrics-listen", "127.0.0.1:%d" % port,
                         "--metrics-file", str(tmp_path / "m.prom")])
    probe.set(10, 100, 50, 1)
    base = "http://127.0.0.1:%d" % port
    status, ctype, body = _get(base + "/metrics")
    assert (status, ctype) == (200, "text/plain; version=0.0.4; charset=utf-8")
    assert b"ethos_calls_limited_total 50.0\n" in body
    assert b'frontend="watchdog.py"' in body and b"ethos_processes_stopped 0.0\n" in body
    assert _get(base + "/healthz")[::2] == (200, b"ok\n")
    assert _get(base + "/x")[0] == 404
    assert _get(base + "/metrics", "POST")[0] == 405
    m._beat -= 10
    assert _get(base + "/healthz")[::2] == (503, b"stalled\n")
    assert m.start_line() == "metrics: writing %s every 1 s; serving %s/metrics and /healthz" % (
        tmp_path / "m.prom", base)
    m.close()
    assert b"ethos_calls_limited_total 50.0\n" in (tmp_path / "m.prom").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_http_endpoint_on_ipv6_loopback():
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    m, probe = _metrics(["--metrics-listen", "[::1]:%d" % port])
    probe.set(5, 10, 3)
    status, _, body = _get("http://[::1]:%d/metrics" % port)
    assert status == 200 and b"ethos_calls_limited_total 3.0\n" in body
    assert m.start_line() == "metrics: serving http://[::1]:%d/metrics and /healthz" % port
    m.close()
