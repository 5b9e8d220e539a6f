"""Budgets never span users or the whole host, -u USER, and `-- CMD`
checked before anything attaches, on the host kernel.

Shared keys run with --action monitor here (enforcement on the host is
only ever for the test's own targets; the system-wide service profile
with throttle and deny runs in the VM: tests/vm/test_users.py).  Every
reader is tests/progs/bin/tree_reader, statically linked, whose children
make exactly -n reads of /proc/self/stat, so a budget's counts are exact:
with monitor nothing is refused, and `allowed` is the limit exactly when
the budget was over it.
"""

import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile

import policy_cases as pc
import wdrun

ARGS = ["--backend", "tracepoint", "--window-ms", "5000", "--count", "sysinfo"]
PROC = "/proc/self/stat"
NOBODY, DAEMON = pwd.getpwnam("nobody"), pwd.getpwnam("daemon")


def as_user(user, argv):
    """argv run as another user (real, effective and saved ids)."""
    return ["setpriv", "--reuid", str(user.pw_uid), "--regid", str(user.pw_gid),
            "--clear-groups"] + argv


def reader(label, reads, children=1):
    return pc.tree_cmd(label, reads, children=children, file=PROC)


def in_cgroup(group, argv):
    """Shell text: move this shell into `group`, then exec argv."""
    return "/bin/sh -c %s" % shlex.quote("echo $$ > %s/cgroup.procs && exec %s"
                                         % (group, shlex.join(argv)))


def rows(res, key, **match):
    return [b for b in res.summary["budgets"] if b["key"] == key
            and all(b[k] == v for k, v in match.items())]


def test_cgroup_budgets_are_split_by_user_and_never_the_root_cgroup(tmp_path):
    """--key cgroup: two users' readers in one cgroup get a budget each;
    two readers in the root cgroup (where every process of this host sits)
    get a budget of their own each, not one for the whole host."""
    root, mounted = pc.cgroup2_mount(tmp_path)
    group = os.path.join(root, "wdtest-users-%d" % os.getpid())
    os.mkdir(group)
    ino = os.stat(group).st_ino     # a cgroup's ID is its directory's inode
    try:
        res = pc.run(ARGS, pc.shell(in_cgroup(group, as_user(NOBODY, reader("nobody", 250))),
                                    in_cgroup(group, as_user(DAEMON, reader("daemon", 250))),
                                    reader("rootcg", 150, children=2)),
                     "monitor", "--key", "cgroup")
    finally:
        os.rmdir(group)
        if mounted:
            subprocess.run(["umount", str(mounted)], check=True)
    assert res.start["policy"]["fallback"] == {
        "key": "process", "when": "the caller is in the root cgroup (cgroup ID 1)"}
    for user in (NOBODY, DAEMON):
        b = pc.budget(res, ino, "cgroup", user.pw_uid)
        assert (b["allowed"], b["limited"], b["user"]) == (pc.LIMIT, 150, user.pw_name), b
        assert b["name"].endswith(os.path.basename(group)), b
    # Nothing is keyed by the root cgroup; its two readers have 150 each.
    assert not rows(res, "cgroup", id=1), res.summary["budgets"]
    own = [b for b in rows(res, "process") if b["allowed"] + b["limited"] == 150]
    assert len(own) == 2 and all(b["allowed"] == pc.LIMIT for b in own), \
        res.summary["budgets"]
    assert all(b["uid"] is None and b["pids"] == [b["id"]] for b in own), own


def test_uid_key_gives_uid_0_a_budget_per_process():
    """--key uid: the system's daemons (UID 0) are no one budget; another
    user's processes share theirs."""
    res = pc.run(ARGS, pc.shell(reader("root", 150, children=2),
                                as_user(NOBODY, reader("nobody", 150, children=2))),
                 "monitor", "--key", "uid")
    assert res.start["policy"]["fallback"]["when"] == "the caller's real UID is 0"
    assert not rows(res, "uid", id=0), res.summary["budgets"]
    b = rows(res, "uid", id=NOBODY.pw_uid)
    assert len(b) == 1 and (b[0]["allowed"], b[0]["limited"]) == (pc.LIMIT, 200), b
    assert len(b[0]["pids"]) == 2, b
    own = [b for b in rows(res, "process") if b["allowed"] + b["limited"] == 150]
    assert len(own) == 2 and all(b["allowed"] == pc.LIMIT for b in own), \
        res.summary["budgets"]


def test_tree_member_of_another_user_gets_that_users_budget_of_the_tree():
    """--key tree: a member that runs as another user (here after setuid,
    as su or sudo would) is charged to that user's budget of the tree,
    never to the budget its tree's other user fills."""
    res = pc.run(ARGS, pc.shell(reader("root", 150, children=2),
                                as_user(NOBODY, reader("nobody", 150))),
                 "monitor", "--key", "tree")
    target = res.start["targets"][0]
    mine = pc.budget(res, target, "tree", NOBODY.pw_uid)
    assert (mine["allowed"], mine["limited"], mine["user"]) == (pc.LIMIT, 50, "nobody"), mine
    roots = pc.budget(res, target, "tree", 0)
    assert roots["allowed"] == pc.LIMIT and roots["allowed"] + roots["limited"] >= 300, roots


# ---- -u USER ------------------------------------------------------------------

def test_user_reader_is_limited_exactly_as_root():
    """-u nobody: the same reads limited the same way as when root runs
    them (kill: exactly the limit completes), and the budget is its."""
    got = {}
    for user in ([], ["-u", "nobody"]):
        res = pc.run(["--backend", "tracepoint", "--window-ms", "5000"] + user,
                     reader("r", 300), "kill")
        got[bool(user)] = pc.outcomes(res)["r"]
        assert res.start["user"] == ("nobody" if user else None)
    assert got[True] == got[False] == {"procs": 1, "ok": pc.LIMIT, "eperm": 0, "other": 0}, got


def test_user_command_has_the_users_ids_and_cannot_read_shadow():
    script = ('grep -E "^(Uid|Gid|Groups):" /proc/self/status; '
              'cat /etc/shadow 2>&1 >/dev/null; echo rc=$?')
    res = pc.run(["--backend", "tracepoint"], ["/bin/sh", "-c", script], "monitor",
                 "-u", "nobody")
    lines = [re.sub(r"\s+", " ", x.strip()) for x in res.other_lines]
    u, g = NOBODY.pw_uid, NOBODY.pw_gid
    groups = " ".join(map(str, sorted(os.getgrouplist("nobody", g))))
    assert lines == ["Uid: %d %d %d %d" % (u, u, u, u), "Gid: %d %d %d %d" % (g, g, g, g),
                     "Groups: %s" % groups,
                     "cat: /etc/shadow: Permission denied", "rc=1"], res.other_lines


# ---- -- CMD checked before anything attaches ----------------------------------

def test_command_that_cannot_run_is_refused_before_anything_attaches(tmp_path):
    """One line, exit 2, and no start line: nothing was attached (the
    conftest also checks that no program is left)."""
    plain = tmp_path / "plain"
    plain.write_text("x\n")
    plain.chmod(0o644)
    script = tmp_path / "noshebang"
    marker = tmp_path / "ran"
    script.write_text("touch %s\n" % marker)
    script.chmod(0o755)
    # A root-only script in a directory nobody may search, and in one it may.
    hidden = tmp_path / "private"
    hidden.write_text("#!/bin/sh\ntrue\n")
    hidden.chmod(stat.S_IRWXU)
    open_dir = tempfile.mkdtemp(prefix="wd-users-")
    os.chmod(open_dir, 0o755)
    private = os.path.join(open_dir, "private")
    shutil.copy(hidden, private)
    cases = [
        ([], ["/nonexistent"], "-- /nonexistent: No such file or directory"),
        ([], [str(plain)], "-- %s is not executable" % plain),
        ([], [str(tmp_path)], "-- %s is a directory" % tmp_path),
        ([], [str(script)], "-- %s is neither an ELF executable nor a #! script: the "
         "kernel cannot run it, and the watchdog does not run it through /bin/sh" % script),
        ([], ["no-such-command-h4"], "-- no-such-command-h4: command not found in PATH"),
        (["-u", "nobody"], [private], "-- %s is not executable by user nobody" % private),
        (["-u", "nobody"], [str(hidden)], "-- %s: Permission denied" % hidden),
    ]
    try:
        for extra, cmd, line in cases:
            r = wdrun.run_text(["--backend", "tracepoint", "--action", "monitor"] + extra, cmd)
            assert (r.returncode, r.stdout) == (2, b""), (cmd, r)
            assert r.stderr.decode() == "%serror: %s\n" % (wdrun.prefix(), line), cmd
        assert not marker.exists()
        # The same file as root is fine: the check is the user's.
        r = wdrun.run_text(["--backend", "tracepoint", "--action", "monitor"], [private])
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(open_dir)
