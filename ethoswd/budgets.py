"""Rows of shared budgets (--key tree|uid|cgroup): one row per budget with
the processes charged to it, and names for budget IDs.

A shared budget's counts live in the probe's wd_state map, keyed by
struct wd_key: (root TGID, UID or cgroup ID; the callers' real UID; the
kind of key).  A budget is known here by ident(): (key name, id, uid), uid
None for a process's own budget (the kind the uid and cgroup keys fall
back to, probe/limiter.h).  Each process's own share lives in wd_procs,
and the PROC_EXIT event hands over the share of a process that exited.
"""

import os
import pwd
from collections import OrderedDict

from .cgnames import CgroupNames
from .policy import KEY_NAMES
from .safetext import name_fields


def ident(kind, ident_id, uid):
    """A budget as rows and the session know it: (key name, id, uid), uid
    None for a process's own budget."""
    name = KEY_NAMES.get(kind, "process")
    return (name, ident_id, None if name == "process" else uid)


def real_uid(pid):
    """The real UID of a running process (/proc/PID/status), or 0."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def user_name(uid):
    """The user name of a UID, or None."""
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return None


class Names:
    """Readable names of budgets (users and cgroups, and the users of
    budgets' UIDs), looked up once each while they are in use; trim()
    forgets the oldest lookups, so that a host whose cgroups come and go
    for months keeps a bounded cache.  Cgroups are cgnames.CgroupNames's
    (one cache of them, shared with the rows' cgroup members and the
    metrics); users are cached here."""

    def __init__(self, key, cgroups=None):
        self.key = key
        self.cgroups = cgroups or CgroupNames()
        self._cache = OrderedDict()     # ("uid" or "user", uid) -> name

    def name(self, key, ident_id):
        """'alice' for a UID, '/system.slice/x.service' for a cgroup ID;
        None for the other keys or when the ID no longer resolves."""
        if key == "cgroup":
            cg = self.cgroups.by_id(ident_id)
            # JSON text: invalid UTF-8 as U+FFFD (the exact bytes are in
            # the row's cgroup_hex, which the text table shows)
            return os.fsencode(cg.path).decode("utf-8", "replace") if cg else None
        if key != "uid":
            return None
        if (key, ident_id) not in self._cache:
            self._cache[key, ident_id] = user_name(ident_id)
        return self._cache[key, ident_id]

    def user(self, uid):
        """The user name of a budget's UID (None: unknown, or no UID)."""
        if uid is None:
            return None
        if ("user", uid) not in self._cache:
            self._cache["user", uid] = user_name(uid)
        return self._cache["user", uid]

    def trim(self, limit):
        """Forget the oldest lookups beyond `limit`, of users and of
        cgroups (src/session.c: the same limit, at the same point)."""
        while len(self._cache) > limit:
            self._cache.popitem(last=False)
        self.cgroups.trim(limit)


def share_row(tgid, share, state, where=None):
    """One process's share of a shared budget; where: its cgroup's row
    members (cgnames.fields())."""
    key, bid, uid = ident(share.key_kind, share.key, share.key_uid)
    return dict(pid=tgid, budget=bid, budget_key=key, budget_uid=uid,
                allowed=share.allowed, limited=share.limited,
                total=share.allowed + share.limited,
                state=state, **name_fields(share.comm), **(where or {}))


def share_ident(row):
    """The budget of a share row, as ident() gives it."""
    return (row["budget_key"], row["budget"], row["budget_uid"])


def group_shares(shares):
    """{budget ident: [share rows]} from a list of share rows."""
    out = {}
    for row in shares:
        out.setdefault(share_ident(row), []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: (-r["total"], r["pid"]))
    return out
