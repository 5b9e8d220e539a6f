"""Output: the live table, limit/clear/exit lines, and the exit summary.

Rows are plain dicts (pid, comm, window, total, allowed, limited,
limited_windows, state, activity) so that the table and --json carry the
same data.  Text goes to stdout, one record per line in --json mode.
Process names go through ethoswd.safetext (escaped, cut to the column)
and every text line through safetext.one_line before it is written.
"""

import json
import sys
import time

from .safetext import cell, one_line, raw_name

TABLE_ROWS = 20
HEAD = "%7s %-16s %8s %11s %11s %11s %-8s" % (
    "PID", "COMM", "WINDOW", "TOTAL", "ALLOWED", "LIMITED", "STATE")


def _n(value, width):
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
    return "%7d %s %8s %11s %11s %11s %-8s" % (
        r["pid"], _comm(r), window, _n(r["total"], 11), _n(r["allowed"], 11),
        _n(r["limited"], 11), r["state"])


class Reporter:
    """Writes every record either as text or as one JSON object per line."""

    def __init__(self, as_json, out=None):
        self.as_json = as_json
        self.out = out or sys.stdout

    def _emit(self, record, text):
        """Write record as JSON, or text: one line (str) or a list of lines,
        each kept to one line by one_line()."""
        if self.as_json:
            record.setdefault("time", round(time.time(), 3))
            self.out.write(json.dumps(record, sort_keys=True) + "\n")
        elif text is not None:
            lines = [text] if isinstance(text, str) else text
            self.out.write("".join(one_line(l) + "\n" for l in lines))
        self.out.flush()

    def info(self, text, **record):
        """A status line: stderr in text mode, a 'start' record in JSON."""
        if self.as_json:
            if record:
                self._emit(record, None)
        else:
            sys.stderr.write("watchdog: %s\n" % one_line(text))
            sys.stderr.flush()

    def limit(self, row, max_calls, window_ms, action):
        self._emit(dict(event="limit", action=action, **row),
                   "%s LIMIT %7d %s over %s calls in %s ms -> %s"
                   % (_clock(), row["pid"], _comm(row), _n(max_calls, 6),
                      _n(window_ms, 5), action))

    def clear(self, row):
        self._emit(dict(event="clear", **row),
                   "%s CLEAR %7d %s under the limit again (%s limited)"
                   % (_clock(), row["pid"], _comm(row), _n(row["limited"], 8)))

    def exited(self, row):
        self._emit(dict(event="exit", **row),
                   "%s EXIT  %7d %s allowed %s, limited %s"
                   % (_clock(), row["pid"], _comm(row), _n(row["allowed"], 10),
                      _n(row["limited"], 10)))

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
            lines.append(_line(r, _n(r["window"], 8)))
        if len(rows) > TABLE_ROWS:
            lines.append("        ... %d more (use --json for all)"
                         % (len(rows) - TABLE_ROWS))
        self._emit({}, lines + [""])

    def summary(self, rows, health, seconds):
        tot = {k: sum(r[k] for r in rows)
               for k in ("total", "allowed", "limited", "limited_windows")}
        if self.as_json:
            self._emit(dict(event="summary", seconds=round(seconds, 3),
                            processes=rows, health=health, **tot), None)
            return
        rows = sorted(rows, key=lambda r: (-r["total"], r["pid"]))
        lines = ["", "Summary: %.1f s, %d processes, %s calls" % (
                     seconds, len(rows), _n(tot["total"], 20)),
                 "         %s allowed, %s limited in %s windows" % (
                     _n(tot["allowed"], 20), _n(tot["limited"], 20),
                     _n(tot["limited_windows"], 20)),
                 HEAD]
        for r in rows[:TABLE_ROWS]:
            lines.append(_line(r, "-"))
        if any(health.values()):
            lines.append("health: %s" % ", ".join(
                "%s %d" % kv for kv in sorted(health.items())))
        self._emit({}, lines)
