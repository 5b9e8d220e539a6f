"""Output: the live table, limit/clear/exit lines, and the exit summary.

Rows are plain dicts (pid, comm, window, total, allowed, limited,
limited_windows, state, activity) so that the table and --json carry the
same data.  A shared budget's row (--key tree|uid|cgroup) has key (the
budget's own: "process" where the caller fell back to a budget of its
own), id, uid, user, name, pids and processes instead of pid.  Records go to stdout, one JSON
object per line in --json mode; status lines (info) go to stderr.
Process names go through ethoswd.safetext (escaped, cut to the column)
and every text line through safetext.one_line before it is written.
"""

import json
import sys
import time

from .exited import KEEP
from .safetext import cell, escape, name_fields, one_line, raw_name

TABLE_ROWS = 20
# si_code values the kernel sets for kill(), tgkill() and pidfd_send_signal()
# without a siginfo (SI_USER, SI_TKILL): then the sender is the caller.
SENDER_KNOWN_CODES = (0, -6)
HEAD = "%7s %-16s %8s %11s %11s %11s %-8s" % (
    "PID", "COMM", "WINDOW", "TOTAL", "ALLOWED", "LIMITED", "STATE")


def num(value, width):
    """An integer in at most `width` characters: 1234567 or, if too wide,
    1.2M / 3.4G / 5.6T."""
    text = str(value)
    if len(text) <= width:
        return text
    for div, unit in ((10 ** 15, "P"), (10 ** 12, "T"), (10 ** 9, "G"),
                      (10 ** 6, "M"), (10 ** 3, "k")):
        if value >= div:
            return "%.1f%s" % (value / div, unit)
    return text


def _clock():
    return time.strftime("%H:%M:%S")


def _comm(row):
    """The COMM column: the escaped name, exactly 16 columns."""
    return cell(raw_name(row), 16)


def _line(r, window):
    if "key" in r:
        return _budget_line(r, window)
    return "%7d %s %8s %11s %11s %11s %-8s" % (
        r["pid"], _comm(r), window, num(r["total"], 11), num(r["allowed"], 11),
        num(r["limited"], 11), r["state"])


# A shared budget: its ID (root PID, UID, cgroup ID, or a PID where the
# caller fell back to a budget of its own) under the run's key's name, then
# a name: the user, the tail of the cgroup path, or the command that opened
# the window; a tree's or cgroup's budget adds its user, a process's own
# budget "(process)".
BUDGET_HEAD = "%9s %-16s %7s %9s %9s %9s %-7s %5s"


def _head_key(rows):
    """The run's key: that of any budget that did not fall back."""
    keys = [r["key"] for r in rows if r["key"] != "process"]
    return keys[0] if keys else (rows[0]["key"] if rows else "id")


def _budget_head(rows):
    return BUDGET_HEAD % (_head_key(rows).upper(), "NAME", "WINDOW", "TOTAL",
                          "ALLOWED", "LIMITED", "STATE", "PROCS")


def _budget_name(r, width=16):
    """A user or cgroup path, else the command name that opened the window,
    escaped, with the budget's user (tree, cgroup) or "(process)" after it;
    its tail kept if too long.  A bare command name is cut like COMM.  A
    container's cgroup shows the head of its ID instead of the path (as
    `podman ps` shows it), then the user."""
    if r["key"] in ("tree", "cgroup"):
        tag = " (%s)" % (r.get("user") or r.get("uid"))
    else:
        tag = " (process)" if r["key"] == "process" else ""
    if r["key"] == "cgroup" and r.get("container_runtime"):
        tag = escape(tag)
        text = r["container_id"][:max(4, width - len(tag))] + tag
        return text[:width].ljust(width)
    if not r.get("name") and not tag:
        return cell(raw_name(r), width)
    if r.get("name"):
        name = raw_name(r, "cgroup") if "cgroup_hex" in r else r["name"]
    else:
        name = raw_name(r)
    text = escape(name) + escape(tag)
    return (text if len(text) <= width else "..." + text[3 - width:]).ljust(width)


def _budget_line(r, window):
    return BUDGET_HEAD % (
        num(r["id"], 9), _budget_name(r), window if window == "-" else num(r["window"], 7),
        num(r["total"], 9),
        num(r["allowed"], 9), num(r["limited"], 9), r["state"][:7],
        num(len(r["pids"]), 5))


def _not_listed_text(nl):
    """'5 exited processes' or '2 ended budgets, 5 exited processes'."""
    if "budgets" not in nl:
        return "%d exited processes" % nl["processes"]
    return "%d ended budgets, %d exited processes" % (nl["budgets"], nl["processes"])


def _who(r):
    """'1234 comm', '1234 comm [podman 3f2a1b4c5d6e]' (a process in a
    container) or 'tree:1234 comm' for event lines."""
    if "key" in r:
        return "%-13s %s" % ("%s:%s" % (r["key"], num(r["id"], 6)), _budget_name(r, 10))
    if r.get("container_runtime"):
        return "%7d %s [%s %s]" % (r["pid"], _comm(r), r["container_runtime"],
                                   r["container_id"][:12])
    return "%7d %s" % (r["pid"], _comm(r))


class Reporter:
    """Writes every record either as text or as one JSON object per line."""

    def __init__(self, as_json, out=None):
        self.as_json = as_json
        self.out = out or sys.stdout

    def emit(self, record, text):
        """Write record as JSON, or text: one line (str) or a list of lines,
        each kept to one line by one_line()."""
        if self.as_json:
            record.setdefault("time", round(time.time(), 3))
            self.out.write(json.dumps(record, sort_keys=True) + "\n")
        elif text is not None:
            lines = [text] if isinstance(text, str) else text
            self.out.write("".join(one_line(line) + "\n" for line in lines))
        self.out.flush()

    def info(self, text, **record):
        """A status line: stderr in text mode, a 'start' record in JSON."""
        if self.as_json:
            if record:
                self.emit(record, None)
        else:
            sys.stderr.write("watchdog: %s\n" % one_line(text))
            sys.stderr.flush()

    def limit(self, row, max_calls, window_ms, action):
        self.emit(dict(event="limit", action=action, max_calls=max_calls,
                       window_ms=window_ms, **row),
                  "%s LIMIT %s over %s calls in %s ms -> %s"
                  % (_clock(), _who(row), num(max_calls, 6),
                     num(window_ms, 5), action))

    def clear(self, row):
        self.emit(dict(event="clear", **row),
                  "%s CLEAR %s under the limit again (%s limited)"
                  % (_clock(), _who(row), num(row["limited"], 8)))

    def exited(self, row):
        self.emit(dict(event="exit", **row),
                  "%s EXIT  %s allowed %s, limited %s"
                  % (_clock(), _who(row), num(row["allowed"], 10),
                     num(row["limited"], 10)))

    def escalate(self, row, pid, resumed, by_pid=0, by_code=0, by_comm=b""):
        """Throttle escalated to kill process `pid` (named as the row's
        comm), which ran on during its throttled window.  resumed: by a
        SIGCONT it did not get from the watchdog, sent by by_pid with
        si_code by_code (the sender is known for kill/tgkill/
        pidfd_send_signal; otherwise by_pid is only the task that was
        running when it was generated); else it ran on although its
        stop had been sent (discarded, as a tracer can)."""
        where = ""
        if "key" in row:
            # The whole budget key: tree and cgroup budgets are per user.
            user = ""
            if row["key"] in ("tree", "cgroup"):
                user = ", user %s" % escape(str(row.get("user") or row.get("uid")))
            where = " (budget %s %d%s)" % (row["key"], row["id"], user)
        record = dict(row, event="escalate", action="kill", pid=pid, resumed_by=None,
                      reason="ran on during its throttled window although stopped "
                             "(the stop was discarded, e.g. by a tracer)")
        what = "ran on during its throttled window although stopped"
        if resumed:
            known = by_code in SENDER_KNOWN_CODES
            record.update(reason="resumed during its throttled window",
                          resumed_by=dict(pid=by_pid, si_code=by_code, sender_known=known,
                                          **name_fields(by_comm)))
            what = "resumed by %s during its throttled window" % (
                "pid %d (%s)" % (by_pid, escape(by_comm)) if known else
                "a SIGCONT with si_code %d (sender unknown; pid %d (%s) was running)"
                % (by_code, by_pid, escape(by_comm)))
        self.emit(record, "%s KILL  %7d %s%s %s -> killed"
                  % (_clock(), pid, _comm(row), where, what))

    def warn(self, text, **record):
        self.emit(dict(event="warning", message=text, **record),
                  "%s WARN  %s" % (_clock(), text))

    @staticmethod
    def _budgets(rows, procs):
        """JSON fields of a table: per-process rows, and budgets if shared."""
        if procs is None:
            return {"processes": rows}
        return {"budgets": rows, "processes": procs}

    def table(self, rows, health, procs=None):
        rows = sorted(rows, key=lambda r: (-r["activity"], -r["total"],
                                           r.get("pid") or r.get("id"),
                                           r.get("key", ""), r.get("uid") or 0))
        if self.as_json:
            self.emit(dict(event="interval", health=health,
                           **self._budgets(rows, procs)), None)
            return
        what = "processes" if procs is None else "budgets"
        head = HEAD if procs is None else _budget_head(rows)
        lines = ["%s  %d %s tracked" % (_clock(), len(rows), what), head]
        for r in rows[:TABLE_ROWS]:
            lines.append(_line(r, num(r["window"], 8)))
        if len(rows) > TABLE_ROWS:
            lines.append("        ... %d more (use --json for all)"
                         % (len(rows) - TABLE_ROWS))
        self.emit({}, lines + [""])

    def summary(self, rows, health, seconds, procs=None, not_listed=None):
        """not_listed (ethoswd/exited.py): the rows of exited processes
        left out; the totals and the count include them."""
        nl = not_listed or {}
        what = "processes" if procs is None else "budgets"
        tot = {k: sum(r[k] for r in rows) + nl.get(k, 0)
               for k in ("total", "allowed", "limited", "limited_windows")}
        if self.as_json:
            extra = {} if not_listed is None else {"not_listed": not_listed}
            self.emit(dict(event="summary", seconds=round(seconds, 3),
                           health=health, **self._budgets(rows, procs), **tot,
                           **extra), None)
            return
        rows = sorted(rows, key=lambda r: (-r["total"], r.get("pid") or r.get("id"),
                                           r.get("key", ""), r.get("uid") or 0))
        head = HEAD if procs is None else _budget_head(rows)
        lines = ["", "Summary: %.1f s, %d %s, %s calls" % (
                     seconds, len(rows) + nl.get(what, 0), what, num(tot["total"], 20)),
                 "         %s allowed, %s limited in %s windows" % (
                     num(tot["allowed"], 20), num(tot["limited"], 20),
                     num(tot["limited_windows"], 20))]
        if nl.get("processes") or nl.get("budgets"):
            lines.append("         %s not listed (the newest %d are)" % (
                _not_listed_text(nl), KEEP))
        lines.append(head)
        for r in rows[:TABLE_ROWS]:
            lines.append(_line(r, "-"))
        if any(health.values()):
            lines.append("health: %s" % ", ".join(
                "%s %d" % kv for kv in sorted(health.items())))
        self.emit({}, lines)
