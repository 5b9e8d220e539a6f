"""The service's default, system-wide, with throttle and deny: one
unprivileged process reading /proc in a loop never gets an unrelated
reader limited, stopped or slowed (issue 17, section 4).

The guest's processes all sit in the root cgroup, as on a host with
hybrid cgroups: before budgets were split by user and the root cgroup
fell back to per-process budgets, `--profile fingerprint` (one budget per
cgroup) made the whole machine one budget, and an attacker running as
nobody got every other /proc reader refused or stopped.

The victims read /proc/self/stat 10 times every 500 ms (6 bursts): under
the profile's 16 per 500 ms on their own.  One runs as another user
(daemon) in the root cgroup, one as the attacker's own user in another
cgroup (on a kernel with cgroup v2; the override kernel has no cgroups,
so the profile runs there with --key uid and the first victim only).
Their wall times with and without the attacker are printed (WDMEASURE
lines) for the record, never asserted: the assertions are on counts (no
read refused, no budget of theirs limited, no LIMIT event).
"""

import os
import pwd
import time

import policy_cases as pc
import readers
import wdrun
from conftest import KERNELS, kernel

NOBODY, DAEMON = pwd.getpwnam("nobody"), pwd.getpwnam("daemon")
PROC = "/proc/self/stat"
VICTIM = dict(reads=10, bursts=6, gap_ms=500, file=PROC)


def _launch(user, **opts):
    cmd = readers.aggressive_cmd(wait=True, quiet=True, **opts)
    return readers.launch(cmd, user=user.pw_uid, group=user.pw_gid, extra_groups=[])


def _wait_all(procs, t0):
    """{name: seconds from t0 to its exit}, each taken as it exits."""
    ends, deadline = {}, time.monotonic() + 300
    while len(ends) < len(procs) and time.monotonic() < deadline:
        for name, p in procs.items():
            if name not in ends and p.poll() is not None:
                ends[name] = time.monotonic() - t0
        time.sleep(0.01)
    return ends


def _scenario(args, group, attacker):
    """Run the two victims (and the attacker) under a system-wide watchdog:
    (watchdog result, {name: (pid, outcome, wall seconds)})."""
    wd = wdrun.Watchdog(args)
    procs = {}
    try:
        wd.wait_started(600)
        procs["other user"] = _launch(DAEMON, **VICTIM)
        if group:
            procs["same user, other cgroup"] = _launch(NOBODY, **VICTIM)
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(procs["same user, other cgroup"].pid))
        if attacker:
            procs["attacker"] = _launch(NOBODY, duration_ms=5000, file=PROC)
        t0 = time.monotonic()
        for p in procs.values():
            readers.go(p)
        ends = _wait_all(procs, t0)
        out = {name: (p.pid, readers.parse_summary(p.communicate(timeout=60)[0]),
                      ends.get(name)) for name, p in procs.items()}
        res = wd.finish(300, sig=2)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        wd.kill()
    assert res.rc == 0, res.stderr
    return res, out


def _check(res, out, action):
    victims = {n: v for n, v in out.items() if n != "attacker"}
    for name, (pid, got, _) in victims.items():
        assert got["ok"] == 60 and got["eperm"] == 0 and got["other"] == 0, (name, got)
        rows = [b for b in res.summary["budgets"] if pid in b["pids"]]
        assert rows and all(b["limited"] == 0 for b in rows), (name, rows)
        assert not [e for e in res.events("limit") if pid in e.get("pids", [])
                    or e.get("id") == pid], name
    # No budget is the root cgroup's or UID 0's.
    assert not [b for b in res.summary["budgets"]
                if (b["key"], b["id"]) in (("cgroup", 1), ("uid", 0))], res.summary["budgets"]
    # The attacker's own budget (a process's in the root cgroup; nobody's
    # with --key uid) was limited: enforcement was on.
    pid, got, _ = out["attacker"]
    own = [b for b in res.summary["budgets"] if pid in b["pids"]]
    assert own and own[0]["limited"] > 0, res.summary["budgets"]
    if action == "deny":
        assert got["eperm"] > 0, got


def _run(args, action, tmp_path):
    group = None
    if KERNELS[kernel()]["cgroup2"]:
        root, _ = pc.cgroup2_mount(tmp_path)
        group = os.path.join(root, "wdtest-victim-%d" % os.getpid())
        os.mkdir(group)
    try:
        _, alone = _scenario(args, group, attacker=False)
        res, out = _scenario(args, group, attacker=True)
    finally:
        if group:
            os.rmdir(group)
    for name in alone:
        print("WDMEASURE frontend=%s action=%s victim=%r alone=%.2fs with_attacker=%.2fs "
              "eperm=%d" % (wdrun.frontend(), action, name, alone[name][2], out[name][2],
                            out[name][1]["eperm"]))
    _check(res, out, action)
    return res


def _args(backend, action):
    """The service's options (packaging/ethoswd.default), the action set."""
    args = ["--profile", "fingerprint", "--backend", backend, "--action", action,
            "--interval", "60"]
    if not KERNELS[kernel()]["cgroup2"]:
        args += ["--key", "uid"]    # no cgroups at all: the profile is refused
    return args


def test_service_profile_deny_spares_other_users_and_cgroups(deny_backend, tmp_path):
    res = _run(_args(deny_backend, "deny"), "deny", tmp_path)
    if KERNELS[kernel()]["cgroup2"]:
        assert res.start["policy"]["key"] == "cgroup"
        assert res.start["policy"]["fallback"]["key"] == "process"


def test_service_profile_throttle_spares_other_users_and_cgroups(tmp_path):
    _run(_args("tracepoint", "throttle"), "throttle", tmp_path)
