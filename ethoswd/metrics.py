"""Prometheus metrics: --metrics-file and --metrics-listen (src/metrics.c
is the same for ethoswd, byte for byte apart from the info metric's
frontend label and the start time).

- --metrics-file PATH: the text exposition format 0.0.4
  (prometheus_client.generate_latest), written every interval and at the
  end to PATH.PID.tmp in the same directory, then renamed over PATH, for
  node_exporter's textfile collector: no socket.  A failed write is
  warned once and tried again every interval.
- --metrics-listen ADDR:PORT: /metrics (the same text, always format
  0.0.4) and /healthz ("ok", or 503 "stalled" when the session loop has
  not turned for 5 s) over HTTP, served by a thread; its collector reads
  the probe's maps when scraped.

Counters are totals over every budget of the run: the budgets in the map
now plus those that ended (their EXIT event's final counts), so they
never go down when a process exits.  A budget that left the map before
its EXIT event arrived keeps its last scraped counts until then.  With
--metrics-per-cgroup N (--key cgroup) the first N cgroups seen get a
series each, labelled cgroup/container_runtime/container_id/pod_uid, for
the whole run; every later one is summed into cgroup="other".  Budgets
are known by the session's idents (budgets.ident(): key, id, uid), so two
users' budgets of one cgroup count in its one series, and a caller of the
root cgroup, which the cgroup key gives a budget of its own ("process"),
counts in the root cgroup's series.  No series is labelled by process.
The HTTP thread reads the cgroup names (cgnames.CgroupNames, locked)
while the session loop does.

python3-prometheus-client is imported only when a metrics option is
given; without it such a run is refused with one line naming it.
"""

import os
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

from .abi import DEFS
from .errors import SetupError
from .safetext import escape
from .session import HEALTH_NAMES

# Every health counter the session has (session.HEALTH_NAMES), in the
# order src/metrics_text.c writes them.
HEALTH = ("map_full", "targets_full", "events_lost", "contended", "stops_full")
assert set(HEALTH) == set(HEALTH_NAMES.values()), "a health counter has no metric"
OTHER = "other"
STALLED_S = 5.0


def import_client():
    """prometheus_client, or SetupError naming the package."""
    try:
        import prometheus_client  # noqa: F401
        from prometheus_client import core, exposition
        return core, exposition
    except ImportError:
        raise SetupError("--metrics-file and --metrics-listen need Python's "
                         "prometheus_client: apt-get install python3-prometheus-client "
                         "(./install.sh installs it)") from None


def families(snap):
    """The metric families of a snapshot (a dict: see Metrics.snapshot()),
    as prometheus_client objects, in the order src/metrics.c writes them."""
    core, _ = import_client()
    g, c = core.GaugeMetricFamily, core.CounterMetricFamily
    info = snap["info"]
    fam = g("ethos_watchdog_info",
            "The running watchdog: version, front end, backend, action, policy "
            "profile, budget key and read class", labels=sorted(info))
    fam.add_metric([info[k] for k in sorted(info)], 1)
    out = [fam]
    for name, doc, key in (
            ("ethos_start_time_seconds", "Start of the watchdog, seconds since the Unix "
             "epoch", "start_time"),
            ("ethos_limit_calls", "Counted calls allowed per window per budget "
             "(--max-calls)", "max_calls"),
            ("ethos_window_seconds", "Length of a budget's window (--window-ms)",
             "window_s"),
            ("ethos_programs_attached", "BPF programs attached", "programs"),
            ("ethos_budgets", "Budgets in the probe's map now", "budgets"),
            ("ethos_budgets_limit", "Budgets the probe's map can hold (--map-size)",
             "budgets_limit"),
            ("ethos_budgets_limited", "Budgets that hit the limit in their current or "
             "last window (state LIMITED or STOPPED)", "budgets_limited"),
            ("ethos_processes_stopped", "Processes stopped by throttle now", "stopped")):
        out.append(g(name, doc, value=snap[key]))
    for name, doc, key in (
            ("ethos_calls_allowed", "Counted calls within the limit, every budget "
             "of the run", "allowed"),
            ("ethos_calls_limited", "Counted calls over the limit (denied, stopped, "
             "killed, or only reported with monitor), every budget of the run", "limited"),
            ("ethos_limited_windows", "Windows in which a budget hit the limit",
             "limited_windows")):
        out.append(c(name, doc, value=snap[key]))
    helps = {"map_full": "Calls of processes the full map could not track, NOT "
                         "limited (raise --map-size)",
             "targets_full": "Children of targets that got no entry (the map was "
                             "full), NOT limited",
             "events_lost": "Ring-buffer events lost",
             "contended": "Calls that lost every race to open a window, counted "
                          "as over the limit",
             "stops_full": "Throttled processes that could not be recorded as stopped: "
                           "a SIGCONT to them is NOT escalated"}
    for name in HEALTH:
        out.append(c("ethos_health_%s" % name, helps[name], value=snap["health"][name]))
    if snap.get("cgroups") is not None:
        labels = ["cgroup", "container_id", "container_runtime", "pod_uid"]
        for what in ("allowed", "limited"):
            fam = c("ethos_cgroup_calls_%s" % what,
                    "Counted calls %s, per cgroup: the first --metrics-per-cgroup "
                    "cgroups seen, the rest summed in cgroup=\"other\""
                    % ("within the limit" if what == "allowed" else "over the limit"),
                    labels=labels)
            for s in snap["cgroups"]:
                fam.add_metric([s["cgroup"], s["container_id"], s["container_runtime"],
                                s["pod_uid"]], s[what])
            out.append(fam)
    return out


def render(snap):
    """The text exposition (format 0.0.4) of a snapshot, as bytes."""
    core, exposition = import_client()
    reg = core.CollectorRegistry(auto_describe=False)
    reg.register(_Fixed(snap))
    return exposition.generate_latest(reg)


class _Fixed:
    def __init__(self, snap):
        self.snap = snap

    def collect(self):
        return families(self.snap)


def series_labels(cg):
    """The labels of a cgroup's series (escaped text: paths are untrusted)."""
    if cg is None:
        return None
    return {"cgroup": escape(cg.path.encode("utf-8", "surrogateescape")),
            "container_runtime": cg.runtime or "", "container_id": cg.container_id or "",
            "pod_uid": cg.pod_uid or ""}


class Metrics:
    """The run's counters and gauges, read when scraped or written."""

    def __init__(self, opts, info, names=None):
        self.opts, self.info, self.names = opts, info, names
        import_client()
        self.per_cgroup = opts.metrics_per_cgroup or 0
        self.probe = None
        self.gauges = lambda: (0, 0)     # (budgets limited, processes stopped)
        self.start_time = time.time()
        self.programs = 0
        self._lock = threading.Lock()
        self._retired = {}       # series -> [allowed, limited, windows] of ended budgets
        self._seen = {}          # budget id -> [allowed, limited, windows, series]
        self._ended = set()      # budgets ended since the last snapshot
        self._series = []        # label dicts, first come (per-cgroup)
        self._series_of = {}     # cgroup path -> index in _series
        self._beat = time.monotonic()
        self._server = self._thread = None
        self._file_failed = False
        self.rep = None
        if opts.metrics_file:
            self._check_file(opts.metrics_file)
        if opts.metrics_listen:
            self._bind(*opts.metrics_listen)

    # -- setup (before anything is attached) --------------------------
    @staticmethod
    def _check_file(path):
        tmp = "%s.%d.check" % (path, os.getpid())
        try:
            with open(tmp, "wb"):
                pass
            os.unlink(tmp)
        except OSError as e:
            raise SetupError("--metrics-file %s: cannot write in %s: %s" % (
                escape(path), escape(os.path.dirname(os.path.abspath(path))),
                e.strerror)) from None

    def _bind(self, addr, port):
        import socket

        class _Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

        class _Quiet(WSGIRequestHandler):
            def log_message(self, *_args):
                pass

        try:
            self._server = make_server(addr, port, self._app, _Server, _Quiet)
        except OSError as e:
            raise SetupError("--metrics-listen %s: cannot listen: %s" % (
                listen_text(addr, port), e.strerror)) from None

    def start(self, probe, programs, gauges):
        """Serve (after the attach): the probe's maps are read from now on."""
        self.probe, self.programs, self.gauges = probe, programs, gauges
        if self._server:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            name="metrics", daemon=True)
            self._thread.start()
        self.write_file()

    def close(self):
        """The last file, then stop serving (before the probe closes)."""
        self.write_file()
        if self._server:
            if self._thread:
                self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            self.probe = None

    def start_line(self):
        """The start-up line: where the metrics go."""
        parts = []
        if self.opts.metrics_file:
            parts.append("writing %s every %g s"
                         % (escape(self.opts.metrics_file), self.opts.interval))
        if self.opts.metrics_listen:
            parts.append("serving http://%s/metrics and /healthz"
                         % listen_text(*self.opts.metrics_listen))
        if self.per_cgroup:
            parts.append("a series for each of the first %d cgroups" % self.per_cgroup)
        return "metrics: " + "; ".join(parts)

    # -- counts -------------------------------------------------------
    def beat(self):
        self._beat = time.monotonic()

    def _series_index(self, ident):
        """A budget's series (--key cgroup): its cgroup's, a fallback's
        ("process": a caller in the root cgroup) the root cgroup's."""
        if not self.per_cgroup:
            return None
        cgid = ident[1] if ident[0] == "cgroup" else DEFS["WD_ROOT_CGROUP_ID"]
        cg = self.names.by_id(cgid) if self.names else None
        labels = series_labels(cg)
        if labels is None:
            return OTHER
        key = labels["cgroup"]
        if key not in self._series_of:
            if len(self._series) >= self.per_cgroup:
                return OTHER
            self._series_of[key] = len(self._series)
            self._series.append(labels)
        return self._series_of[key]

    def retire(self, ident, allowed, limited, windows):
        """A budget ended (its EXIT event): keep its final counts."""
        with self._lock:
            seen = self._seen.pop(ident, None)
            series = seen[3] if seen else self._series_index(ident)
            tot = self._retired.setdefault(series, [0, 0, 0])
            for i, v in enumerate((allowed, limited, windows)):
                tot[i] += v
            self._ended.add(ident)

    def snapshot(self):
        """Every value the exposition shows, read now (a dict)."""
        with self._lock:
            entries = self.probe.entries() if self.probe else {}
            health = self.probe.health() if self.probe else {}
            for ident, v in entries.items():
                if ident in self._ended:
                    continue      # its EXIT came first; the delete is on its way
                old = self._seen.get(ident)
                series = old[3] if old else self._series_index(ident)
                self._seen[ident] = [v.allowed, v.limited, v.limited_windows, series]
            self._ended.clear()
            per = {}
            for series, tot in self._retired.items():
                per[series] = list(tot)
            for a, lim, w, series in self._seen.values():
                acc = per.setdefault(series, [0, 0, 0])
                acc[0] += a
                acc[1] += lim
                acc[2] += w
        limited, stopped = self.gauges()
        snap = {"info": self.info, "start_time": self.start_time,
                "max_calls": self.opts.policy.max_calls,
                "window_s": self.opts.policy.window_ms / 1000.0,
                "programs": self.programs, "budgets": len(entries),
                "budgets_limit": self.opts.map_size,
                "budgets_limited": limited, "stopped": stopped,
                "allowed": sum(t[0] for t in per.values()),
                "limited": sum(t[1] for t in per.values()),
                "limited_windows": sum(t[2] for t in per.values()),
                "health": {n: health.get(i, 0) for i, n in HEALTH_NAMES.items()}}
        if self.per_cgroup:
            rows = []
            for i, labels in enumerate(self._series):
                a, lim, _w = per.get(i, (0, 0, 0))
                rows.append(dict(labels, allowed=a, limited=lim))
            a, lim, _w = per.get(OTHER, (0, 0, 0))
            rows.append({"cgroup": OTHER, "container_runtime": "", "container_id": "",
                         "pod_uid": "", "allowed": a, "limited": lim})
            snap["cgroups"] = rows
        return snap

    # -- outputs ------------------------------------------------------
    def write_file(self):
        """The exposition to --metrics-file: PATH.PID.tmp, then rename."""
        if not self.opts.metrics_file or self.probe is None:
            return
        _, exposition = import_client()
        text = exposition.generate_latest(_registry(self))
        path = self.opts.metrics_file
        tmp = "%s.%d.tmp" % (path, os.getpid())
        try:
            with open(tmp, "wb") as f:
                f.write(text)
            os.rename(tmp, path)
            self._file_failed = False
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if not self._file_failed and self.rep:
                self.rep.warn("metrics file: cannot write: %s; trying again every "
                              "interval" % e.strerror)
            self._file_failed = True

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
        elif path == "/metrics":
            _, exposition = import_client()
            status, body = "200 OK", exposition.generate_latest(_registry(self))
            ctype = exposition.CONTENT_TYPE_LATEST
        elif path == "/healthz":
            if time.monotonic() - self._beat < STALLED_S:
                status, body = "200 OK", b"ok\n"
            else:
                status, body = "503 Service Unavailable", b"stalled\n"
            ctype = "text/plain; charset=utf-8"
        else:
            status, body, ctype = "404 Not Found", b"not found: /metrics, /healthz\n", \
                "text/plain; charset=utf-8"
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]


class _Live:
    """The collector: a snapshot of the maps each time it is collected."""

    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        return families(self.metrics.snapshot())


def _registry(metrics):
    core, _ = import_client()
    reg = core.CollectorRegistry(auto_describe=False)
    reg.register(_Live(metrics))
    return reg


def listen_text(addr, port):
    return "%s:%d" % ("[%s]" % addr if ":" in addr else addr, port)
