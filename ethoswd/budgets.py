"""Rows of shared budgets (--key tree|uid|cgroup): one row per budget with
the processes charged to it, and names for budget IDs.

A shared budget's counts live in the probe's wd_state map (keyed by root
TGID, UID or cgroup ID); each process's own share lives in wd_procs, and
the PROC_EXIT event hands over the share of a process that exited.
"""

import os
import pwd
from collections import OrderedDict

from .safetext import name_fields

CGROUP2_MAGIC_TYPE = "cgroup2"


def cgroup2_root():
    """Mount point of the cgroup v2 hierarchy, or None."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == CGROUP2_MAGIC_TYPE:
                    return parts[1]
    except OSError:
        pass
    return None


class Names:
    """Readable names of budget IDs (users and cgroups), looked up once
    each while they are in use; trim() forgets the oldest lookups, so that
    a host whose cgroups come and go for months keeps a bounded cache."""

    def __init__(self, key):
        self.key = key
        self._cache = OrderedDict()

    def _cgroup_path(self, cgid):
        root = cgroup2_root()
        if root is None:
            return None
        # A cgroup's ID is its directory's inode number in cgroup2.
        for top, dirs, _files in os.walk(root):
            try:
                if os.stat(top).st_ino == cgid:
                    return "/" + os.path.relpath(top, root).lstrip(".")
            except OSError:
                continue
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
        return None

    def name(self, ident):
        """'alice' for a UID, '/system.slice/x.service' for a cgroup ID;
        None for the other keys or when the ID no longer resolves."""
        if self.key not in ("uid", "cgroup"):
            return None
        if ident in self._cache:
            return self._cache[ident]
        name = None
        if self.key == "uid":
            try:
                name = pwd.getpwuid(ident).pw_name
            except KeyError:
                name = None
        elif self.key == "cgroup":
            name = self._cgroup_path(ident)
        self._cache[ident] = name
        return name

    def trim(self, limit):
        """Forget the oldest lookups beyond `limit` (src/session.c: the
        same limit, at the same point)."""
        while len(self._cache) > limit:
            self._cache.popitem(last=False)


def share_row(tgid, share, state):
    """One process's share of a shared budget."""
    return dict(pid=tgid, budget=share.key, allowed=share.allowed,
                limited=share.limited, total=share.allowed + share.limited,
                state=state, **name_fields(share.comm))


def group_shares(shares):
    """{budget id: [share rows]} from a list of share rows."""
    out = {}
    for row in shares:
        out.setdefault(row["budget"], []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: (-r["total"], r["pid"]))
    return out
