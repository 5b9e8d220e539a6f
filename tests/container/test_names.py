"""Containers by name (issue 20, section 2), run by tests/container/run.sh
once it has built ethos-watchdog:test: two podman containers (runc) of
that image, one running the aggressive reader, the other the normal
reader, each in its own cgroup.  The watchdog runs on the host, both
front ends in turn, with --key cgroup --action monitor and --comm of the
two readers' names (so only their reads count, and nothing on the host
is acted on).  Each container's budget must be named by its cgroup path,
runtime podman and the ID podman gave it; the aggressive one limited
exactly as its report implies, the quiet one not at all; the per-cgroup
metrics series must say the same.

Where podman puts a container in the cgroup v2 tree depends on the
machine: with cgroupfs and hybrid cgroups (these machines) runc makes
/libpod_parent/libpod-<ID> in the unified hierarchy too; with systemd
it is a libpod-<ID>.scope.  The test reads the path the container's
process had (/proc/PID/cgroup, "0::" line) while it ran and checks the
watchdog named that path, not an assumed one.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import readers  # noqa: E402
import wdrun  # noqa: E402
from promstack import free_port  # noqa: E402

IMAGE = "ethos-watchdog:test"
RUNC = "/usr/sbin/runc"
BIN = "/opt/ethos-watchdog/tests/progs/bin/"
MAX, WINDOW_MS = 100, 300


@pytest.fixture(scope="module", autouse=True)
def image():
    assert os.geteuid() == 0, "needs root (podman, BPF)"
    p = subprocess.run(["podman", "image", "exists", IMAGE])
    assert p.returncode == 0, "no %s image: tests/container/run.sh builds it" % IMAGE


def _podman_run(tmp, name, argv):
    """Start a container of the image running argv (its reports go to
    tmp, mounted at /out); the Popen and its --cidfile path."""
    cid = tmp / ("%s.cid" % name)
    return subprocess.Popen(
        ["podman", "--runtime", RUNC, "run", "--rm", "--network", "none",
         "--name", "%s-%d" % (name, os.getpid()), "--cidfile", str(cid),
         "-v", "%s:/out" % tmp, "--entrypoint", argv[0], IMAGE] + argv[1:],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), cid


def _host_cgroup(comm, timeout=30):
    """The cgroup v2 path of the host process named comm, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/comm" % pid) as f:
                    if f.read().rstrip("\n") != comm:
                        continue
                with open("/proc/%s/cgroup" % pid) as f:
                    return [ln[3:].rstrip("\n") for ln in f if ln.startswith("0::")][0]
            except (OSError, IndexError):
                continue
        time.sleep(0.05)
    raise AssertionError("no process named %s appeared" % comm)


@pytest.mark.parametrize("front", wdrun.FRONTENDS)
def test_two_containers_each_named_and_budgeted(front, tmp_path):
    wdrun.use(front)
    tmp_path.chmod(0o777)
    tag = os.getpid() % 10000
    loud, quiet = "wdloud%d" % tag, "wdquiet%d" % tag
    port = free_port()
    run = wdrun.Watchdog(["--backend", "tracepoint", "--action", "monitor", "--key", "cgroup",
                          "--max-calls", str(MAX), "--window-ms", str(WINDOW_MS),
                          "--comm", loud, "--comm", quiet, "-i", "0.5",
                          "--metrics-listen", "127.0.0.1:%d" % port,
                          "--metrics-per-cgroup", "4"])
    boxes = []
    try:
        run.wait_started()
        boxes.append(_podman_run(tmp_path, "loud", [
            BIN + "aggressive_reader", "-n", "250", "-b", "3", "-g", "700", "-N", loud,
            "-o", "/out/loud.rep", "-q"]))
        boxes.append(_podman_run(tmp_path, "quiet", [
            BIN + "normal_reader", "-r", "20", "-D", "2500", "-N", quiet,
            "-o", "/out/quiet.rep", "-q"]))
        paths = {loud: _host_cgroup(loud), quiet: _host_cgroup(quiet)}
        for proc, _ in boxes:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, "podman run: %s %s" % (out, err)
        scrape = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                        timeout=10).read().decode()
        res = run.finish(sig=signal.SIGINT)
    finally:
        run.kill()
        for proc, _ in boxes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        wdrun.use("watchdog.py")
    ids = {loud: boxes[0][1].read_text().strip(), quiet: boxes[1][1].read_text().strip()}
    reps = {loud: readers.parse_report(tmp_path / "loud.rep"),
            quiet: readers.parse_report(tmp_path / "quiet.rep")}
    assert res.rc == 0, res.stderr
    budgets = {b["container_id"]: b for b in res.summary["budgets"] if "container_id" in b}
    print("\n%s: cgroups %s" % (front, paths))
    for b in res.summary["budgets"]:
        print("  budget %s" % {k: v for k, v in b.items() if k != "processes"})
    for name in (loud, quiet):
        assert paths[name].endswith("libpod-" + ids[name]) or \
            paths[name].endswith("libpod-%s.scope" % ids[name]), paths
        b = budgets.get(ids[name])
        assert b, "no budget named by container %s: %s" % (ids[name], res.summary["budgets"])
        assert (b["key"], b["cgroup"], b["name"], b["container_runtime"]) == \
            ("cgroup", paths[name], paths[name], "podman"), b
        assert [p["comm"] for p in b["processes"]] == [name], b
        assert all(p["container_id"] == ids[name] for p in b["processes"]), b
        assert b["total"] == reps[name]["totals"]["ok"], (b, reps[name]["totals"])
    over = sum(max(0, x["ok"] - MAX) for x in reps[loud]["bursts"])
    assert over == 450 and budgets[ids[loud]]["limited"] == over
    assert budgets[ids[quiet]]["limited"] == 0 and budgets[ids[quiet]]["total"] > 0
    assert budgets[ids[loud]]["id"] != budgets[ids[quiet]]["id"]
    limits = [e for e in res.events("limit") if e.get("container_id") == ids[loud]]
    assert limits and limits[0]["container_runtime"] == "podman"
    assert not [e for e in res.events("limit") if e.get("container_id") == ids[quiet]]
    # The per-cgroup series carry the same counts, labelled by container.
    for name in (loud, quiet):
        want = 'ethos_cgroup_calls_limited_total{cgroup="%s",container_id="%s",' \
            'container_runtime="podman",pod_uid=""} %s\n' % (
                paths[name], ids[name], float(budgets[ids[name]]["limited"]))
        assert want in scrape, scrape
