"""What the soak drivers read about a running watchdog: /proc (state,
RSS, CPU time, children, its guardian) and bpftool (the BPF objects it
holds, the keys of its budget map); the RSS verdict of a series of
samples, and the verdict lines of a report.  Used by tests/soak/soak.py
and tests/soak/churn.py."""

import json
import os
import subprocess

# The summary's health counters, as both front ends name them (session.py
# HEALTH_NAMES, session.c health_slots): a soak wants every one, at 0.
HEALTH_COUNTERS = {"map_full", "contended", "events_lost", "targets_full", "stops_full"}


def health_ok(health):
    """Every counter listed, and none counted."""
    return set(health) == HEALTH_COUNTERS and not any(health.values())


def status_field(pid, name):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split()[1]
    except OSError:
        return None
    return None


def rss_kb(pid):
    v = status_field(pid, "VmRSS")
    return int(v) if v else None


def hwm_kb(pid):
    """The peak RSS (VmHWM) in kB, or None."""
    v = status_field(pid, "VmHWM")
    return int(v) if v else None


def cpu_s(pid):
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        return [int(p) for p in open("/proc/%d/task/%d/children" % (pid, pid)).read().split()]
    except OSError:
        return []


def guardian_of(wd_pid):
    """The watchdog's guardian: the child forked without exec (same cmdline)."""
    try:
        mine = open("/proc/%d/cmdline" % wd_pid, "rb").read()
    except OSError:
        return None
    for c in children(wd_pid):
        try:
            if open("/proc/%d/cmdline" % c, "rb").read() == mine:
                return c
        except OSError:
            pass
    return None


def bpf_ids(pid):
    """{'prog': {ids}, 'map': {ids}} of the BPF fds the process holds."""
    ids = {"prog": set(), "map": set()}
    fddir = "/proc/%d/fdinfo" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return ids
    for fd in fds:
        try:
            text = open(os.path.join(fddir, fd)).read()
        except OSError:
            continue
        for line in text.splitlines():
            for kind in ids:
                if line.startswith(kind + "_id:"):
                    ids[kind].add(int(line.split()[1]))
    return ids


def bpftool_json(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True)
    if r.returncode:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def find_map(ids, name):
    for mid in sorted(ids):
        info = bpftool_json("map", "show", "id", str(mid))
        if info and info.get("name") == name:
            return mid
    return None


def dump_keys(map_id):
    """The ids (struct wd_key.id, a u64) of the entries of a wd_state map."""
    entries = bpftool_json("map", "dump", "id", str(map_id))
    if entries is None:
        return None
    keys = []
    for e in entries:
        if "formatted" in e:
            keys.append(int(e["formatted"]["key"]["id"]))
        else:
            raw = bytes(int(h, 16) for h in e["key"][:8])
            keys.append(int.from_bytes(raw, "little"))
    return keys


def rss_verdict(samples, base_t, col):
    """(baseline kB, end kB, peak after the baseline kB, growth) of one
    column of the samples, or None without samples after base_t."""
    pts = [(s[0], s[col]) for s in samples if s[col]]
    after = [kb for t, kb in pts if t >= base_t]
    if not after:
        return None
    return after[0], pts[-1][1], max(after), (max(after) - after[0]) / after[0]


def write_verdict(w, res, name):
    """The checks, the failures and PASSED/FAILED of a soak's result."""
    w("checks: %s\n" % ", ".join("%s %s" % (k, "ok" if v else "FAIL")
                                 for k, v in res["checks"].items()))
    for f in res["failures"]:
        w("FAIL: %s\n" % f)
    w("%s %s\n" % (name, "PASSED" if res["passed"] else "FAILED"))
