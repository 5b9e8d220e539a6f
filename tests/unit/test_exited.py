"""Rows of exited processes stay bounded (ethoswd/exited.py, src/exited.c,
src/idmap.c): the newest WD_EXITED_ROWS are kept, older ones folded into
the summary's not_listed counts, in both front ends alike; and a Session
fed many exits (a fake probe) lists at most that many and counts the rest."""

import io
import json
import os
import random
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from ethoswd.abi import DEFS
from ethoswd.exited import KEEP, Exited
from ethoswd.report import Reporter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")
CFLAGS = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
          "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-iquote", SRC]


@pytest.fixture(scope="module")
def test_idmap(tmp_path_factory):
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build src/test_idmap.c"
    out = str(tmp_path_factory.mktemp("idmap") / "test_idmap")
    subprocess.run([gcc] + CFLAGS + ["-o", out] + [
        os.path.join(SRC, f)
        for f in ("test_idmap.c", "idmap.c", "exited.c", "cgname.c", "text.c")], check=True)
    return out


def test_idmap_and_keep_against_a_model(test_idmap):
    r = subprocess.run([test_idmap], capture_output=True, text=True, timeout=300)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "")


def _ops(shared, seed):
    """Random exits: more than KEEP, with reused ids; a summary now and then."""
    rnd = random.Random(seed)
    ops = []
    for i in range(4 * KEEP):
        if shared and rnd.random() < 0.7:
            ops.append(("P", rnd.randrange(3 * KEEP // 2), rnd.randrange(5),
                        rnd.randrange(100), rnd.randrange(3)))
        else:
            ops.append(("E", rnd.randrange(3 * KEEP // 2), rnd.randrange(1000),
                        rnd.randrange(50), rnd.randrange(4)))
        if i % 1500 == 1499 or i == 4 * KEEP - 1:
            ops.append(("S",) + tuple(rnd.sample(range(3 * KEEP // 2), 40)))
    return ops


def _py_exited(shared, ops):
    x, out = Exited(shared), []
    for op in ops:
        if op[0] == "E":
            _, i, a, lim, w = op
            x.ended(i, dict(id=i, allowed=a, limited=lim, total=a + lim,
                            limited_windows=w, state="exited", pids=[], processes=[]))
        elif op[0] == "P":
            _, pid, budget, a, lim = op
            x.exited(pid, dict(pid=pid, budget=budget, allowed=a, limited=lim,
                               total=a + lim, state="exited"))
        else:
            live = [dict(id=i) for i in op[1:]]
            rows, folded = x.summary_rows(live, lambda r: r["id"], {})
            nl = x.not_listed(folded)
            out.append("rows" + "".join(" %d" % r["id"] for r in rows[len(live):]))
            out.append("shares" + "".join(" %d" % p for p in x.shares))
            out.append("not_listed %d %d %d %d %d %d" % (
                nl.get("budgets", 0), nl["processes"], nl["total"], nl["allowed"],
                nl["limited"], nl["limited_windows"]))
            assert len(rows) - len(live) <= KEEP and len(x.shares) <= KEEP
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("shared", [False, True])
def test_c_and_python_keep_and_fold_alike(test_idmap, shared):
    ops = _ops(shared, 5 + shared)
    text = "".join(" ".join(map(str, op)) + "\n" for op in ops)
    r = subprocess.run([test_idmap, "exited", str(int(shared))], input=text,
                       capture_output=True, text=True, check=True)
    assert r.stdout == _py_exited(shared, ops)


def test_reused_id_folds_the_older_row():
    x = Exited(False, keep=2)
    for ident, allowed in ((7, 5), (8, 1), (7, 3)):
        x.ended(ident, dict(allowed=allowed, limited=0, total=allowed, limited_windows=0))
    assert list(x.rows) == [8, 7] and x.rows[7]["allowed"] == 3
    rows, folded = x.summary_rows([], None, {})
    assert x.not_listed(folded) == {"processes": 1, "total": 5, "allowed": 5,
                                    "limited": 0, "limited_windows": 0}


# ---- a Session fed by a fake probe ----------------------------------------

class FakeProbe:
    """What Session uses of ethoswd.probe.Probe: an empty map, and events
    handed to on_event() directly."""

    def shares(self):
        return {}

    def entries(self):
        return {}

    def health(self):
        return {i: 0 for i in range(DEFS["WD_H_SLOTS"])}

    def event(self, data):
        return data

    def poll(self, _timeout):
        pass

    def close(self):
        pass


def _event(kind, tgid, key, allowed, key_kind="WD_KEY_PROCESS", key_uid=0):
    return SimpleNamespace(kind=DEFS[kind], tgid=tgid, key=key, window_start_ms=0, calls=1,
                           allowed=allowed, limited=0, limited_windows=0, comm=b"churn",
                           key_kind=DEFS[key_kind], key_uid=key_uid)


def _session_summary(key, feed):
    """The JSON summary of a Session (a fake probe) fed by feed(session)."""
    import signal
    from ethoswd.session import Session
    opts = SimpleNamespace(policy=SimpleNamespace(key=key, window_ms=500, max_calls=16),
                           interval=1.0, duration=None, pid=[], config=None)
    out = io.StringIO()
    old = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
           signal.getsignal(signal.SIGHUP))
    try:
        s = Session(FakeProbe(), Reporter(True, out), opts, "monitor")
        feed(s)
        s.finish()
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])
        signal.signal(signal.SIGHUP, old[2])
    return json.loads(out.getvalue().splitlines()[-1])


@pytest.mark.parametrize("key", ["process", "tree"])
def test_session_lists_at_most_keep_and_counts_the_rest(key):
    n = 3 * KEEP
    tree = dict(key_kind="WD_KEY_TREE")

    def feed(s):
        for pid in range(100, 100 + n):
            if key == "process":
                s.on_event(None, _event("WD_EV_EXIT", pid, pid, 2), 0)
            else:
                s.on_event(None, _event("WD_EV_PROC_EXIT", pid, 1, 2, **tree), 0)
        if key == "tree":
            s.on_event(None, _event("WD_EV_EXIT", 100, 1, 2 * n, **tree), 0)
        # The same PID again: its first row is folded, not lost.
        if key == "process":
            s.on_event(None, _event("WD_EV_EXIT", 100 + n - 1, 100 + n - 1, 2), 0)
        else:
            s.on_event(None, _event("WD_EV_PROC_EXIT", 100 + n - 1, 1, 2, **tree), 0)
    summ = _session_summary(key, feed)
    nl = summ["not_listed"]
    assert len(summ["processes"]) == KEEP
    if key == "process":
        assert nl["processes"] == n + 1 - KEEP
        assert summ["total"] == 2 * (n + 1)
    else:
        assert nl["processes"] == n + 1 - KEEP and nl["budgets"] == 0
        assert [b["total"] for b in summ["budgets"]] == [2 * n]
        assert len(summ["budgets"][0]["processes"]) == KEEP


def test_ended_budgets_with_one_id_are_kept_by_their_whole_key():
    """A cgroup's budgets of two users, and the own budget of a process
    that fell back to one (the root cgroup), share the id 300: three ended
    rows, none folded into another."""
    def feed(s):
        for uid, allowed in ((1000, 5), (1001, 7)):
            s.on_event(None, _event("WD_EV_PROC_EXIT", 300 + uid, 300, allowed,
                                    "WD_KEY_CGROUP", uid), 0)
            s.on_event(None, _event("WD_EV_EXIT", 300, 300, allowed, "WD_KEY_CGROUP", uid), 0)
        s.on_event(None, _event("WD_EV_EXIT", 300, 300, 11), 0)
    summ = _session_summary("cgroup", feed)
    got = sorted((b["key"], b["id"], b["uid"], b["total"], b["pids"])
                 for b in summ["budgets"])
    assert got == [("cgroup", 300, 1000, 5, [1300]), ("cgroup", 300, 1001, 7, [1301]),
                   ("process", 300, None, 11, [])]
    assert summ["not_listed"]["budgets"] == 0 and summ["total"] == 23
