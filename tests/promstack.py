"""A real Prometheus for the tests: Debian's `prometheus` server and
`prometheus-node-exporter` (textfile collector only), started in a
temporary directory on localhost ports, scraping every second.

    with PromStack(tmp_path, watchdog_port) as prom:   # both ready
        prom.textfile_dir                 # where --metrics-file writes
        prom.query("ethos_calls_limited_total")   # {job: value}

Both servers run in their own sessions and are killed (the whole process
group) when the block ends, whatever happened in it.  A missing package
is a failure naming it (install.sh --tests installs both).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body bytes) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


class PromStack:
    def __init__(self, tmp, watchdog_port):
        for exe, pkg in ((PROMETHEUS, "prometheus"),
                         (NODE_EXPORTER, "prometheus-node-exporter")):
            assert os.access(exe, os.X_OK), "%s is missing: apt-get install %s " \
                "(./install.sh --tests)" % (exe, pkg)
        self.dir = tmp / "prom"
        self.textfile_dir = self.dir / "textfile"
        self.textfile_dir.mkdir(parents=True)
        self.watchdog_port = watchdog_port
        self.node_port, self.port = free_port(), free_port()
        self.procs = []

    def _start(self, argv, log):
        out = open(self.dir / log, "wb")
        self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True, cwd=self.dir))
        out.close()

    def __enter__(self):
        try:
            self._start([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % self.node_port,
                         "--collector.disable-defaults", "--collector.textfile",
                         "--collector.textfile.directory=%s" % self.textfile_dir],
                        "node_exporter.log")
            (self.dir / "prometheus.yml").write_text(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n"
                "  - job_name: watchdog\n"
                "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                "  - job_name: node\n"
                "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                % (self.watchdog_port, self.node_port))
            self._start([PROMETHEUS, "--config.file=%s" % (self.dir / "prometheus.yml"),
                         "--storage.tsdb.path=%s" % (self.dir / "data"),
                         "--web.listen-address=127.0.0.1:%d" % self.port],
                        "prometheus.log")
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            assert not dead, "prometheus/node_exporter exited: %s" % self.logs()
            if http_get("http://127.0.0.1:%d/-/ready" % self.port)[0] == 200 and \
                    http_get("http://127.0.0.1:%d/metrics" % self.node_port)[0] == 200:
                return
            time.sleep(0.2)
        raise AssertionError("prometheus not ready in %ds: %s" % (timeout, self.logs()))

    def logs(self):
        return "".join("\n--- %s\n%s" % (f.name, f.read_text(errors="replace")[-2000:])
                       for f in sorted(self.dir.glob("*.log")))

    def query(self, expr):
        """{job: float value} of an instant query (the HTTP API)."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        status, body = http_get(url)
        assert status == 200, "query %s: HTTP %s %r" % (expr, status, body[:300])
        data = json.loads(body)
        assert data["status"] == "success", data
        return {r["metric"].get("job"): float(r["value"][1]) for r in data["data"]["result"]}

    def wait_for(self, expr, want, timeout=30):
        """Query until every job in `want` ({job: value}) has its value;
        the last answer either way."""
        deadline = time.monotonic() + timeout
        got = {}
        while time.monotonic() < deadline:
            got = self.query(expr)
            if all(got.get(job) == v for job, v in want.items()):
                break
            time.sleep(0.5)
        return got

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()
        self.procs = []

    def __exit__(self, *exc):
        self.close()
        shutil.rmtree(self.dir / "data", ignore_errors=True)
