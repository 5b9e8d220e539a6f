"""The C metrics text and cgroup names (src/metrics_text.c, cgname.c,
idmap.c) against the Python modules they mirror (ethoswd/metrics.py,
cgnames.py): the same snapshot must give the same exposition bytes, the
same path the same container, the same cgroup ID the same path.

src/test_metrics.c is built with gcc (a missing gcc fails the test)."""

import os
import shutil
import subprocess

import pytest

from ethoswd import cgnames, metrics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")
SOURCES = ["test_metrics.c", "metrics_text.c", "cgname.c", "idmap.c", "text.c", "errors.c"]
CFLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
          "-iquote", SRC]
ID = "0123456789abcdef" * 4
UID = "1b2c3d4e-0000-4111-8222-123456789abc"


@pytest.fixture(scope="module")
def drv(tmp_path_factory):
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build src/test_metrics.c"
    out = str(tmp_path_factory.mktemp("cmetrics") / "test_metrics")
    subprocess.run([gcc] + CFLAGS + ["-fsanitize=address,undefined",
                                     "-fno-sanitize-recover=all", "-o", out] +
                   [os.path.join(SRC, s) for s in SOURCES] + ["-lm"], check=True)
    return out


def run(drv, *args):
    p = subprocess.run([drv] + list(args), capture_output=True, check=True)
    return p.stdout.decode("utf-8", "surrogateescape")


PATHS = [
    "/libpod_parent/libpod-" + ID,                                    # podman, cgroupfs
    "/machine.slice/libpod-%s.scope" % ID,                            # podman, systemd
    "/machine.slice/libpod-%s.scope/container" % ID,                  # its sub-cgroup
    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-%s.scope" % ID,
    "/system.slice/docker-%s.scope" % ID,
    "/docker/" + ID,
    "/docker/%s/init.scope" % ID,
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
    "cri-containerd-%s.scope" % (UID.replace("-", "_"), ID),
    "/kubepods.slice/kubepods-pod%s.slice/crio-%s.scope" % (UID.replace("-", "_"), ID),
    "/kubepods/burstable/pod%s/%s" % (UID, ID),
    "/kubepods/pod%s/%s" % (UID, ID),
    "/kubepods/besteffort/pod%s" % UID,                               # the pod, no container
    "/kubepods.slice/kubepods-pod%s.slice/crio-conmon-%s.scope" % (UID, ID),
    "/" + ID,                                                         # bare, no docker/kubepods
    "/libpod_parent/libpod-" + ID[:-1],                               # 63 hex
    "/libpod_parent/libpod-" + ID.upper(),
    "/libpod_parent/conmon",
    "/system.slice/sshd.service", "/", "", "/a//b/",
    "/x/libpod-%s.scopex" % ID, "/x/docker-%s" % ID, "/x/crio-%s.scope/\x1b[2J" % ID,
    "/kubepods-podx%s.slice/%s" % (UID, ID),
    "/kubepods-abcdefab-pod%s.slice/cri-containerd-%s.scope" % (UID, ID),
    "/kubepods/podabcdefab-%s/%s" % (UID[9:], ID),
    "/bad\udcff/libpod-%s" % ID,
]


def test_container_of_like_python(drv):
    args = [p.encode("utf-8", "surrogateescape").hex() or "00" for p in PATHS]
    got = run(drv, "container", *args).splitlines()
    assert len(got) == len(PATHS)
    for path, line in zip(PATHS, got):
        found = cgnames.container_of(path)
        want = "%s %s %s" % (found[0], found[1], found[2] or "-") if found else "-"
        assert line == want, path
    assert cgnames.container_of(PATHS[0]) == ("podman", ID, None)
    assert cgnames.container_of(PATHS[7]) == ("containerd", ID, UID)
    assert cgnames.container_of(PATHS[9]) == ("cri", ID, UID)
    assert cgnames.container_of(PATHS[13]) is None


def test_float_text_like_prometheus_client(drv):
    from prometheus_client.utils import floatToGoString
    values = [0, 1, 0.5, 0.3, 0.1, 1e-5, 0.0001, 123456, 1234567, 1e7, 12345678901,
              2 ** 53, 2 ** 64, 1e15, 1e16, 1.5e16, 1764000000.123456, 86400, 100.25,
              4000000000, 65536, 1e-7, 123456789012345]
    got = run(drv, "gofloat", *[repr(float(v)) for v in values]).splitlines()
    assert got == [floatToGoString(v) for v in values]


def _snapshot(series):
    snap = {"info": {"version": "1.0", "frontend": "ethoswd", "backend": "tracepoint",
                     "action": "monitor", "profile": "fingerprint", "key": "cgroup",
                     "count": 'sysinfo,fs:a"b'},
            "start_time": 1764000000.123456, "max_calls": 16, "window_s": 0.3,
            "programs": 11, "budgets": 3, "budgets_limit": 65536, "budgets_limited": 1,
            "stopped": 0, "allowed": 999999, "limited": 1000000, "limited_windows": 7,
            "health": {"map_full": 1, "targets_full": 2, "events_lost": 3,
                       "contended": 4, "stops_full": 5}}
    if series:
        snap["cgroups"] = [
            {"cgroup": "/libpod_parent/libpod-" + ID, "container_runtime": "podman",
             "container_id": ID, "pod_uid": "", "allowed": 1234567, "limited": 89},
            {"cgroup": '/we\\x1bird"\\n', "container_runtime": "", "container_id": "",
             "pod_uid": "", "allowed": 0, "limited": 0},
            {"cgroup": "other", "container_runtime": "", "container_id": "",
             "pod_uid": "", "allowed": 10000000, "limited": 123456789012345}]
    return snap


def test_render_like_prometheus_client(drv):
    """The exposition text of one snapshot: ethoswd's and watchdog.py's
    (prometheus_client.generate_latest) are the same bytes."""
    want = metrics.render(_snapshot(True)) + metrics.render(_snapshot(False))
    got = run(drv, "render").encode()
    assert got.decode().splitlines() == want.decode().splitlines()
    assert got == want
    text = want.decode()
    assert "# TYPE ethos_calls_limited_total counter\nethos_calls_limited_total 1e+06\n" in text
    assert 'ethos_watchdog_info{action="monitor",backend="tracepoint",count="sysinfo,fs:a\\"b"' \
        in text
    assert 'cgroup="/we\\\\x1bird\\"\\\\n"' in text


def test_series_labels_are_escaped():
    cg = cgnames.make("/x/\x1b[2J\n\"/libpod-" + ID)
    labels = metrics.series_labels(cg)
    assert labels == {"cgroup": '/x/\\x1b[2J\\n"/libpod-' + ID, "container_runtime": "podman",
                      "container_id": ID, "pod_uid": ""}
    assert cgnames.fields(cg)["cgroup_hex"] == cg.path.encode().hex()


def _cgroup_dirs():
    root = cgnames.cgroup2_root()
    assert root, "no cgroup2 mount on this machine"
    dirs = [root]
    for top, subdirs, _files in os.walk(root):
        dirs += [os.path.join(top, d) for d in subdirs]
        if len(dirs) > 40:
            break
    return root, dirs


def test_ids_resolve_like_python(drv):
    """Every cgroup directory's inode number (its ID) resolves to its
    path in both front ends; an unknown ID to nothing."""
    root, dirs = _cgroup_dirs()
    ids = [os.stat(d).st_ino for d in dirs] + [2 ** 62 + 12345]
    want = ["/" if d == root else d[len(root):] for d in dirs] + ["-"]
    got = run(drv, "resolve", *map(str, ids)).splitlines()
    py = cgnames.CgroupNames()
    assert got == want
    assert [c.path if c else "-" for c in map(py.by_id, ids)] == want
    py.close()


def test_trimmed_cache_resolves_again(drv):
    """The cgroup ID cache (idmap.c's wd_keep) trimmed to 3 entries, as the
    session trims it after a table: every ID still resolves to its path,
    in both front ends; the Python cache holds 3 after its trim.  The ID
    of a cgroup's file (not a cgroup: ENOTDIR) resolves to nothing and
    does not turn the file handles off."""
    root, dirs = _cgroup_dirs()
    not_a_cgroup = os.stat(os.path.join(root, "cgroup.procs")).st_ino
    ids = [not_a_cgroup] + [os.stat(d).st_ino for d in dirs] + [2 ** 62 + 12345]
    want = ["-"] + ["/" if d == root else d[len(root):] for d in dirs] + ["-"]
    assert run(drv, "trim", "3", *map(str, ids)).splitlines() == want
    py = cgnames.CgroupNames()
    for i in ids:
        py.by_id(i)
    assert py._open is not None, "a file's ID turned the handles off"
    py.trim(3)
    assert len(py._by_id) == 3
    assert [c.path if c else "-" for c in map(py.by_id, ids)] == want
    py.close()


def test_process_cgroup_like_python(drv):
    pid = os.getpid()
    with open("/proc/%d/cgroup" % pid) as f:
        want = [line[3:].rstrip("\n") for line in f if line.startswith("0::")][0]
    assert run(drv, "pid", str(pid), "999999999").splitlines() == [want, "-"]
    py = cgnames.CgroupNames()
    assert py.of_pid(pid).path == want and py.of_pid(999999999) is None
    py.close()


def test_cgroup_names_shared_with_a_thread():
    """watchdog.py's metrics thread resolves cgroup IDs while the session
    loop resolves, forgets and trims (CgroupNames's lock): two threads
    hammering one cache with trims in between get every path right and
    raise nothing."""
    import threading
    root, dirs = _cgroup_dirs()
    ids = [os.stat(d).st_ino for d in dirs]
    want = {i: ("/" if d == root else d[len(root):]) for i, d in zip(ids, dirs)}
    py = cgnames.CgroupNames()
    errors = []

    def scrape():
        try:
            for _ in range(200):
                for i in ids:
                    cg = py.by_id(i)
                    if cg is None or cg.path != want[i]:
                        errors.append((i, cg))
        except Exception as e:   # noqa: BLE001 - any error fails the test
            errors.append(e)

    t = threading.Thread(target=scrape)
    t.start()
    for n in range(200):
        py.trim(n % 4)
        py.of_pid(os.getpid())
        py.forget_pid(os.getpid())
    t.join()
    py.close()
    assert not errors, errors[:3]
