"""Rows of shared budgets (--key tree|uid|cgroup): one row per budget with
the processes charged to it, and names for budget IDs.

A shared budget's counts live in the probe's wd_state map (keyed by root
TGID, UID or cgroup ID); each process's own share lives in wd_procs, and
the PROC_EXIT event hands over the share of a process that exited.
"""

import os
import pwd

from .cgnames import CgroupNames
from .safetext import name_fields


class Names:
    """Readable names of budget IDs, looked up once each."""

    def __init__(self, key, cgroups=None):
        self.key = key
        self.cgroups = cgroups or CgroupNames()
        self._cache = {}

    def name(self, ident):
        """'alice' for a UID, '/system.slice/x.service' for a cgroup ID;
        None for the other keys or when the ID no longer resolves."""
        if ident in self._cache:
            return self._cache[ident]
        name = None
        if self.key == "uid":
            try:
                name = pwd.getpwuid(ident).pw_name
            except KeyError:
                name = None
        elif self.key == "cgroup":
            cg = self.cgroups.by_id(ident)
            # JSON text: invalid UTF-8 as U+FFFD (the exact bytes are in
            # the row's cgroup_hex, which the text table shows)
            name = os.fsencode(cg.path).decode("utf-8", "replace") if cg else None
        self._cache[ident] = name
        return name


def share_row(tgid, share, state, where=None):
    """One process's share of a shared budget; where: its cgroup's row
    members (cgnames.fields())."""
    return dict(pid=tgid, budget=share.key, allowed=share.allowed,
                limited=share.limited, total=share.allowed + share.limited,
                state=state, **name_fields(share.comm), **(where or {}))


def group_shares(shares):
    """{budget id: [share rows]} from a list of share rows."""
    out = {}
    for row in shares:
        out.setdefault(row["budget"], []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: (-r["total"], r["pid"]))
    return out
