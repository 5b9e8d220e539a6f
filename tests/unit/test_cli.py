"""Parsing and validation of the command line (ethoswd.cli)."""

import pytest

from ethoswd import cli
from ethoswd.errors import SetupError


def test_defaults_come_from_watchdog_map_h():
    a = cli.parse([])
    assert (a.policy.max_calls, a.policy.window_ms) == (100, 500)
    assert (a.backend, a.action, a.pid, a.command) == ("auto", "auto", [], [])
    assert a.map_size == cli.DEFS["WD_MAX_PIDS"] == 65536


def test_command_after_double_dash_keeps_its_own_flags():
    a = cli.parse(["--max-calls", "7", "--", "cat", "--max-calls", "-p"])
    assert a.policy.max_calls == 7 and a.command == ["cat", "--max-calls", "-p"]


def test_repeatable_filters():
    a = cli.parse(["-p", "10", "--pid", "11", "--comm", "a", "--comm", "b",
                   "--exclude-comm", "c"])
    assert a.pid == [10, 11] and a.comm == ["a", "b"] and a.exclude_comm == ["c"]


@pytest.mark.parametrize("argv,fragment", [
    (["--max-calls", "4000000000"], None),
    (["--max-calls", "4000000001"], "32-bit window count"),
    (["--window-ms", "86400000"], None),
    (["--window-ms", "86400001"], "one day"),
    (["--interval", "0.1"], None),
    (["--interval", "0.05"], "must be at least 0.1"),
    (["--interval", "1e-9"], "must be at least 0.1"),
    (["--interval", "nan"], "is not a number of seconds"),
    (["--duration", "nan"], "is not a number of seconds"),
    (["--duration", "inf"], "must be more than 0"),
    (["--max-calls", "\u0661\u0660\u0660"], "is not a whole number"),
    (["--count", "fs:0x100000000"], "expected 0x and 1 to 8 hex digits"),
    (["--comm", "\udcff" * 15], None),
    (["--comm", "\udcff" * 16], "1 to 15 bytes"),
    (["--duration", "0"], "must be more than 0"),
    (["--comm", "x" * 15], None),
    (["--comm", "x" * 16], "1 to 15 bytes"),
    (["--exclude-comm", ""], "1 to 15 bytes"),
    (["-p", "5", "--", "ls"], "either -p/--pid or -- CMD"),
])
def test_bounds(argv, fragment):
    if fragment is None:
        cli.parse(argv)
    else:
        with pytest.raises(SetupError, match=fragment):
            cli.parse(argv)


def test_argparse_errors_are_one_line():
    with pytest.raises(SetupError) as e:
        cli.parse(["--backend", "bogus"])
    assert "\n" not in str(e.value) and "invalid choice" in str(e.value)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as e:
        cli.parse(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--probe-features" in out
    assert max(len(line) for line in out.splitlines()) < 100
