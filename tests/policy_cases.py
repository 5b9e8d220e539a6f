"""Policy scenarios shared by the host suite (tracepoint backend, kill) and
the VM suite (deny backends): read classes, --file, budget keys and
--exclude-exe, each checked with exact counts.

Every scenario runs tests/progs/bin/tree_reader, whose result line
(label=L procs=N ok=N eperm=N other=N) counts the outcome of each read in
memory shared by its whole tree, so the counts survive killed readers.
With deny the calls over the limit fail with EPERM; with kill the first
call over the limit kills its caller before the program sees the result,
so in both cases exactly the allowed calls succeed.
"""

import os
import re
import shlex
import shutil
import subprocess

import probed
import readers
import wdrun

TREE = readers.BIN_DIR / "tree_reader"
LIMIT = 100


def tree_cmd(label, reads, children=1, file="/dev/zero", detach=False, exe=TREE):
    argv = [str(exe), "-c", str(children), "-n", str(reads), "-f", str(file),
            "-l", label]
    return argv + (["-s"] if detach else [])


def shell(*commands):
    """One command that runs the given argv lists (or shell text) in turn."""
    parts = [c if isinstance(c, str) else shlex.join(c) for c in commands]
    return ["/bin/sh", "-c", " ; ".join(parts)]


def outcomes(res):
    """{label: {procs, ok, eperm, other}} from the readers' result lines."""
    out = {}
    for line in res.other_lines:
        m = re.match(r"label=(\S+) (procs=.*)", line.strip())
        if m:
            out[m.group(1)] = {k: int(v) for k, v in
                               (kv.split("=") for kv in m.group(2).split())}
    return out


def expect(res, label, allowed, over, action):
    """The reader `label` had exactly `allowed` reads succeed; with deny
    the other `over` failed with EPERM, with kill it died at the first."""
    got = outcomes(res).get(label)
    assert got is not None, "no result from %s: %s\nstderr:\n%s" % (
        label, res.other_lines, res.stderr)
    assert got["ok"] == allowed, (label, got)
    assert got["other"] == 0, (label, got)
    assert got["eperm"] == (over if action == "deny" else 0), (label, got)


def run(args, cmd, action, *policy):
    res = wdrun.run(list(args) + ["--action", action, "--max-calls", str(LIMIT)]
                    + list(policy), cmd, timeout=600)
    assert res.rc == 0, "rc %s, stderr:\n%s" % (res.rc, res.stderr)
    return res


def budget(res, ident, key=None, uid=None):
    """The summary's budget row with this id (and key, and uid, if given:
    a key's budgets are split by user, and a caller that fell back has a
    "process" budget whose id is its PID)."""
    rows = [b for b in res.summary["budgets"] if b["id"] == ident
            and (key is None or b["key"] == key) and (uid is None or b["uid"] == uid)]
    assert len(rows) == 1, (ident, key, uid, res.summary["budgets"])
    return rows[0]


def file_lookup(args, action, without_class=True):
    """The start line says how the probe reads a call's file, as the probed
    features imply (typed loads where bpf_rdonly_cast loads, Linux 6.2+;
    else four bpf_probe_read_kernel calls), for a read class with --file;
    and (without_class) a run that reads no file says nothing of it.  The
    class still counts /proc reads and not /dev/zero either way:
    sysinfo_class and file_class count exactly, on whichever way this
    kernel gives.  One run per case: the guests compile watchdog.py's probe
    in ~16 s under TCG."""
    typed = probed.features()["typed file reads (bpf_rdonly_cast)"]["ok"]
    want = "typed loads" if typed else "bpf_probe_read_kernel, four per check"
    cmd = ["/bin/sh", "-c", "head -c1 /proc/version; head -c1 /dev/zero"]
    r = wdrun.run_text(list(args) + ["--action", action, "--count", "sysinfo",
                                     "--file", "/etc/passwd"], cmd)
    assert r.returncode == 0, r.stderr
    said = [ln.split(b": file lookup: ", 1)[1].decode()
            for ln in r.stderr.splitlines() if b": file lookup: " in ln]
    assert len(said) == 1 and said[0].startswith(want), (want, r.stderr)
    if without_class:
        r = wdrun.run_text(list(args) + ["--action", action], cmd)
        assert r.returncode == 0 and b": file lookup: " not in r.stderr, r.stderr


def sysinfo_class(args, action):
    """--count sysinfo: /proc reads are limited, /dev/zero reads untouched."""
    res = run(args, shell(tree_cmd("proc", 300, file="/proc/self/stat"),
                          tree_cmd("zero", 300)), action, "--count", "sysinfo")
    expect(res, "proc", LIMIT, 200, action)
    expect(res, "zero", 300, 0, action)
    assert sum(r["allowed"] for r in res.summary["processes"]) == LIMIT
    assert res.start["policy"]["count"] == "sysinfo"
    return res


def file_class(args, action, tmp):
    """--file: a hard link, a bind mount and a rename of the listed file
    all count; another file with the same content does not."""
    listed, link, bind, other = (tmp / n for n in ("listed", "link", "bind", "other"))
    listed.write_bytes(b"machine-id\n")
    other.write_bytes(b"machine-id\n")
    os.link(listed, link)
    bind.write_bytes(b"")
    subprocess.run(["mount", "--bind", str(listed), str(bind)], check=True)
    try:
        res = run(args, shell(tree_cmd("link", 300, file=link),
                              tree_cmd("bind", 300, file=bind),
                              tree_cmd("other", 300, file=other),
                              "mv %s %s" % (link, tmp / "renamed"),
                              tree_cmd("renamed", 300, file=tmp / "renamed")),
                  action, "--count", "files", "--file", str(listed))
    finally:
        subprocess.run(["umount", str(bind)], check=True)
    for label in ("link", "bind", "renamed"):
        expect(res, label, LIMIT, 200, action)
    expect(res, "other", 300, 0, action)
    return res


def tree_key(args, action, detach):
    """--key tree: 20 children of 100 reads share one budget of 100, also
    when each leaves the session with setsid() and a double fork."""
    res = run(args, tree_cmd("tree", 100, children=20, detach=detach), action,
              "--key", "tree", "--window-ms", "5000")
    expect(res, "tree", LIMIT, 1900, action)
    b = budget(res, res.start["targets"][0], "tree", 0)
    assert (b["key"], b["allowed"], b["limited_windows"]) == ("tree", LIMIT, 1), b
    assert len(b["pids"]) == 20, b
    assert len(res.summary["budgets"]) == 1, res.summary["budgets"]
    return res


def _as_user(uid, argv):
    """argv run as uid.  The checkout may sit where uid cannot look (a clone
    in /root, 0700): a root shell enters the program's directory first, and
    setpriv runs it from there by a relative path."""
    where, name = os.path.split(str(argv[0]))
    return ["/bin/sh", "-c", 'cd "$0" && exec "$@"', where,
            "setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
            "./" + name] + [str(a) for a in argv[1:]]


def uid_key(args, action):
    """--key uid: two users' readers each get their own budget of 100."""
    res = run(args, shell(_as_user(65534, tree_cmd("u65534", 250)),
                          _as_user(65533, tree_cmd("u65533", 250))),
              action, "--key", "uid")
    for uid in (65534, 65533):
        expect(res, "u%d" % uid, LIMIT, 150, action)
        assert budget(res, uid, "uid", uid)["allowed"] == LIMIT
    return res


def cgroup2_mount(tmp):
    """The cgroup v2 mount point, mounting one under tmp if none is:
    (path, what to unmount afterwards or None)."""
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1], None
    point = tmp / "cgroup2"
    point.mkdir()
    subprocess.run(["mount", "-t", "cgroup2", "none", str(point)], check=True)
    return str(point), point


def cgroup_key(args, action, tmp):
    """--key cgroup: readers moved into two new cgroups get one budget each
    (a cgroup's ID is its directory's inode number)."""
    root, mounted = cgroup2_mount(tmp)
    groups = {n: os.path.join(root, "wdtest-%d-%s" % (os.getpid(), n)) for n in "ab"}
    ids = {}
    for n, g in groups.items():
        os.mkdir(g)
        ids[n] = os.stat(g).st_ino
    try:
        # Each reader's shell moves itself into its group, then execs it.
        moves = ["/bin/sh -c %s" % shlex.quote("echo $$ > %s/cgroup.procs && exec %s"
                                               % (g, shlex.join(tree_cmd("cg" + n, 250))))
                 for n, g in groups.items()]
        res = run(args, shell(*moves), action, "--key", "cgroup")
    finally:
        for g in groups.values():
            os.rmdir(g)
        if mounted:
            subprocess.run(["umount", str(mounted)], check=True)
    for n, g in groups.items():
        expect(res, "cg" + n, LIMIT, 150, action)
        b = budget(res, ids[n], "cgroup", 0)
        assert b["allowed"] == LIMIT and b["name"].endswith(os.path.basename(g)), b
    return res


def exclude_exe(args, action, tmp):
    """--exclude-exe: the excluded file is spared under any name (a hard
    link); another binary with the same command name is still limited."""
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    trusted, alias, impostor = tmp / "a/trusted", tmp / "a/alias", tmp / "b/trusted"
    shutil.copy2(TREE, trusted)
    shutil.copy2(TREE, impostor)
    os.link(trusted, alias)
    res = run(args, shell(tree_cmd("trusted", 300, exe=trusted),
                          tree_cmd("alias", 300, exe=alias),
                          tree_cmd("impostor", 300, exe=impostor)),
              action, "--exclude-exe", str(trusted))
    expect(res, "trusted", 300, 0, action)
    expect(res, "alias", 300, 0, action)
    expect(res, "impostor", LIMIT, 200, action)
    return res
