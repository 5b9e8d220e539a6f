"""Text and JSON output (ethoswd.report): widths, sorting, same data."""

import io
import json

from ethoswd.report import Reporter


def _row(pid, total, activity, comm="a_very_long_command_name"):
    return {"pid": pid, "comm": comm, "window": 4294967295, "total": total,
            "allowed": total // 2, "limited": total - total // 2,
            "limited_windows": 99999, "state": "STOPPED", "activity": activity}


def test_table_fits_80_columns_and_sorts_by_activity():
    out = io.StringIO()
    Reporter(False, out).table([_row(4194304, 10 ** 10, 1), _row(7, 5, 100)], {})
    lines = out.getvalue().splitlines()
    assert max(len(ln) for ln in lines) < 80
    assert lines[2].split()[0] == "7" and lines[3].split()[0] == "4194304"


def test_table_truncates_rows_but_json_keeps_all():
    rows = [_row(i, i, i) for i in range(1, 40)]
    text, js = io.StringIO(), io.StringIO()
    Reporter(False, text).table(rows, {})
    Reporter(True, js).table(rows, {"map_full": 0})
    assert "19 more" in text.getvalue()
    rec = json.loads(js.getvalue())
    assert rec["event"] == "interval" and len(rec["processes"]) == 39


def test_event_lines_fit_80_columns():
    out = io.StringIO()
    rep = Reporter(False, out)
    rep.limit(_row(4194304, 10 ** 6, 0), 4000000000, 86400000, "throttle")
    rep.clear(_row(4194304, 10 ** 6, 0))
    rep.exited(_row(4194304, 10 ** 6, 0))
    rep.summary([_row(4194304, 10 ** 12, 0)], {"map_full": 3}, 12345.6)
    assert max(len(ln) for ln in out.getvalue().splitlines()) < 80, out.getvalue()


def _budget(key, ident, name=None, comm="a_very_long_command_name", uid=0, user="root"):
    return {"key": key, "id": ident, "uid": uid, "user": user, "name": name, "comm": comm,
            "window": 4294967295, "total": 10 ** 10, "allowed": 10 ** 9,
            "limited": 9 * 10 ** 9, "limited_windows": 99999, "state": "STOPPED",
            "activity": 1, "pids": list(range(100000)), "processes": []}


def test_budget_rows_fit_80_columns_and_escape_names():
    out = io.StringIO()
    rep = Reporter(False, out)
    rows = [_budget("tree", 4194304, comm="\x1b[2J\npwn"),
            _budget("cgroup", 123456789, name="/system.slice/" + "x" * 60 + ".service",
                    uid=65534, user="nobody"),
            _budget("cgroup", 123456789, name="/a", uid=4000000000, user=None),
            _budget("uid", 4294967295, name="nobody"),
            _budget("process", 4194303, uid=None, user=None)]
    rep.table(rows, {}, procs=[])
    for r in rows:
        rep.limit(r, 4000000000, 86400000, "throttle")
        rep.clear(r)
        rep.exited(r)
    rep.summary(rows, {}, 1.0, procs=[])
    text = out.getvalue()
    assert "\x1b" not in text and "\\npwn (root)" in text
    assert max(len(line) for line in text.splitlines()) < 80, text
    # The budget's user after its name (tail kept), the run's key in the head.
    assert "TREE" in text and "...vice (nobody)" in text and "/a (4000000000)" in text
    assert "...ame (process)" in text and "process:4.2M" in text


def test_budget_json_has_budgets_and_processes():
    out = io.StringIO()
    procs = [{"pid": 5, "comm": "a", "budget": 7, "allowed": 1, "limited": 0,
              "total": 1, "state": "ok"}]
    Reporter(True, out).table([_budget("tree", 7)], {}, procs)
    rec = json.loads(out.getvalue())
    assert rec["budgets"][0]["key"] == "tree" and rec["processes"] == procs
