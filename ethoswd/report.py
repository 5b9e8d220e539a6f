"""Output: the live table, limit/clear/exit lines, and the exit summary.

Rows are plain dicts (pid, comm, window, total, allowed, limited,
limited_windows, state, activity) so that the table and --json carry the
same data.  Text goes to stdout, one record per line in --json mode.
"""

import json
import sys
import time

TABLE_ROWS = 20
HEAD = "%7s %-16s %8s %11s %11s %11s %-8s" % (
    "PID", "COMM", "WINDOW", "TOTAL", "ALLOWED", "LIMITED", "STATE")


def _clock():
    return time.strftime("%H:%M:%S")


class Reporter:
    """Writes every record either as text or as one JSON object per line."""

    def __init__(self, as_json, out=None):
        self.as_json = as_json
        self.out = out or sys.stdout

    def _emit(self, record, text):
        if self.as_json:
            record.setdefault("time", round(time.time(), 3))
            self.out.write(json.dumps(record, sort_keys=True) + "\n")
        elif text is not None:
            self.out.write(text + "\n")
        self.out.flush()

    def info(self, text, **record):
        """A status line: stderr in text mode, a 'start' record in JSON."""
        if self.as_json:
            if record:
                self._emit(record, None)
        else:
            sys.stderr.write("watchdog: %s\n" % text)
            sys.stderr.flush()

    def limit(self, row, max_calls, window_ms, action):
        self._emit(dict(event="limit", action=action, **row),
                   "%s LIMIT %7d %-16s over %d calls in %d ms -> %s"
                   % (_clock(), row["pid"], row["comm"], max_calls, window_ms,
                      action))

    def clear(self, row):
        self._emit(dict(event="clear", **row),
                   "%s CLEAR %7d %-16s back under the limit (%d limited so far)"
                   % (_clock(), row["pid"], row["comm"], row["limited"]))

    def exited(self, row):
        self._emit(dict(event="exit", **row),
                   "%s EXIT  %7d %-16s allowed %d, limited %d"
                   % (_clock(), row["pid"], row["comm"], row["allowed"],
                      row["limited"]))

    def warn(self, text, **record):
        self._emit(dict(event="warning", message=text, **record),
                   "%s WARN  %s" % (_clock(), text))

    def table(self, rows, health):
        rows = sorted(rows, key=lambda r: (-r["activity"], -r["total"], r["pid"]))
        if self.as_json:
            self._emit(dict(event="interval", processes=rows, health=health), None)
            return
        lines = ["%s  %d processes tracked" % (_clock(), len(rows)), HEAD]
        for r in rows[:TABLE_ROWS]:
            lines.append("%7d %-16.16s %8d %11d %11d %11d %-8s" % (
                r["pid"], r["comm"], r["window"], r["total"], r["allowed"],
                r["limited"], r["state"]))
        if len(rows) > TABLE_ROWS:
            lines.append("        ... %d more (use --json for all)"
                         % (len(rows) - TABLE_ROWS))
        self._emit({}, "\n".join(lines) + "\n")

    def summary(self, rows, health, seconds):
        tot = {k: sum(r[k] for r in rows)
               for k in ("total", "allowed", "limited", "limited_windows")}
        if self.as_json:
            self._emit(dict(event="summary", seconds=round(seconds, 3),
                            processes=rows, health=health, **tot), None)
            return
        rows = sorted(rows, key=lambda r: (-r["total"], r["pid"]))
        lines = ["", "Summary: %.1f s, %d processes, %d calls" % (
                     seconds, len(rows), tot["total"]),
                 "         %d allowed, %d limited in %d windows" % (
                     tot["allowed"], tot["limited"], tot["limited_windows"]),
                 HEAD]
        for r in rows[:TABLE_ROWS]:
            lines.append("%7d %-16.16s %8s %11d %11d %11d %-8s" % (
                r["pid"], r["comm"], "-", r["total"], r["allowed"],
                r["limited"], r["state"]))
        if any(health.values()):
            lines.append("health: %s" % ", ".join(
                "%s %d" % kv for kv in sorted(health.items())))
        self._emit({}, "\n".join(lines))
