"""--config FILE (ethoswd/config.py): the TOML subset, every refusal, and
the precedence flag > file > default.  What the file reads is checked
against Python's own TOML parser: an accepted file means the same to
tomllib.  tests/unit/test_frontend_parity.py runs both front ends on the
same files; test_cfront_text.py compares what opts.c makes of them."""

import tomllib

import pytest

from ethoswd import cli, config
from ethoswd.errors import SetupError

# Files both read, and (after the subset) what they mean.
GOOD = [
    "",
    "# only a comment\n\n   \n",
    "max-calls = 100\nwindow-ms = 500",
    "max-calls=+5 # trailing\r\nwindow-ms\t=\t7e0\n",
    'count = ["sysinfo", "fs:tmpfs"]\n',
    'comm = [\n  "a",   # one\n  # a whole comment line\n  \'b\\n\',\n]\n',
    'comm = []\npid = [1, +2]\n',
    'exclude-comm = "x"\njson = true\nprobe = false\n',
    'interval = 0.5\nduration = 1e3\nx = -2.5E-3\ny = 0\n',
    'name = "tab\\there \\"q\\" \\\\ \\u00e9 \\U0001F600"\n',
    "name = 'C:\\path\\no\\escapes'\n",
    'unicode = "caf\u00e9 \u6f22"\n',
]


def _as_toml(value):
    kind, text = value
    if kind == "list":
        return [_as_toml(v) for v in text]
    return {"str": lambda t: t, "int": int, "float": float,
            "bool": lambda t: t == "true"}[kind](text)


@pytest.mark.parametrize("text", GOOD)
def test_accepted_files_mean_what_tomllib_reads(text):
    ours = {k: _as_toml(v) for k, (_, v) in config.parse("f", text).items()}
    assert ours == tomllib.loads(text)


# (text, the refusal line after "--config f: ")
BAD = [
    ("[policy]\nmax-calls = 5\n", "line 1: tables ([name]) are not read"),
    ("[[x]]\n", "line 1: tables ([name]) are not read"),
    ("a.b = 1\n", "line 1: dotted keys are not read"),
    ('"max-calls" = 5\n', "line 1: expected a setting: key = value"),
    ("max-calls 5\n", "line 1: expected '=' after 'max-calls'"),
    ("\n\nmax-calls =\n", "line 3: 'max-calls' has no value"),
    ("max-calls = # none\n", "line 1: 'max-calls' has no value"),
    ("max-calls = 1_000\n", "line 1: '1_000' is not a value the file can hold"),
    ("max-calls = 0x10\n", "line 1: '0x10' is not a value"),
    ("max-calls = 010\n", "line 1: '010' is not a value"),
    ("interval = .5\n", "line 1: '.5' is not a value"),
    ("interval = 5.\n", "line 1: '5.' is not a value"),
    ("interval = inf\n", "line 1: 'inf' is not a value"),
    ("interval = nan\n", "line 1: 'nan' is not a value"),
    ("when = 1979-05-27\n", "line 1: '1979-05-27' is not a value"),
    ("comm = bare\n", "line 1: 'bare' is not a value"),
    ("x = True\n", "line 1: 'True' is not a value"),
    ("x = {a = 1}\n", "line 1: inline tables are not read"),
    ('x = """a\nb"""\n', "line 1: multi-line strings are not read"),
    ("x = '''a'''\n", "line 1: multi-line strings are not read"),
    ('x = "open\n', "line 1: unterminated string"),
    ("x = 'open\n", "line 1: unterminated string"),
    ('x = "a\\qb"\n', "line 1: invalid escape sequence in a string"),
    ('x = "\\u12"\n', "line 1: invalid escape sequence in a string"),
    ('x = "\\uD800"\n', "line 1: invalid escape sequence in a string"),
    ('x = "\\u0000"\n', "line 1: invalid escape sequence in a string"),
    ('x = "\\U00110000"\n', "line 1: invalid escape sequence in a string"),
    ("x = [[1]]\n", "line 1: nested lists are not read"),
    ("x = [1, 2\n", "line 2: expected ',' or ']' in a list"),
    ("x = [1,\n", "line 2: unterminated list: expected a value or ']'"),
    ("x = [1,, 2]\n", "line 1: unterminated list: expected a value or ']'"),
    ("x = [1 2]\n", "line 1: expected ',' or ']' in a list"),
    ("x = 1 2\n", "line 1: expected the end of the line after the value of 'x'"),
    ('x = "a" "b"\n', "line 1: expected the end of the line after the value of 'x'"),
    ("x = 1\nx = 2\n", "line 2: 'x' is set twice"),
    ("x = 1\n\x01\n", "line 2: control character U+0001"),
    ("# \x7f\n", "line 1: control character U+007F"),
    ("x = 1\rx = 2\n", "line 1: control character U+000D"),
    (b"x = 1\n# \xff\n", "line 2: not UTF-8 text"),
    (b"x = '\xed\xa0\x80'\n", "line 1: not UTF-8 text"),        # a surrogate
    # the settings: the long options without "--"
    ("max_calls = 5\n", "line 1: unknown setting 'max_calls' (the settings are the long "
                        "options without '--': see --help)"),
    ("p = [5]\n", "line 1: unknown setting 'p'"),
    ("config = 'other.toml'\n", "line 1: 'config' is a command-line option, not a setting"),
    ("help = true\n", "line 1: 'help' is a command-line option"),
    ("probe-features = true\n", "line 1: 'probe-features' is a command-line option"),
    ("version = true\n", "line 1: 'version' is a command-line option"),
    ("json = 1\n", "line 1: json takes true or false"),
    ("json = [true]\n", "line 1: json takes true or false"),
    ("max-calls = true\n", "line 1: max-calls takes a value, not true or false"),
    ("max-calls = [1, 2]\n", "line 1: max-calls takes one value, not a list"),
    ("comm = [true]\n", "line 1: comm takes strings or numbers, not true or false"),
    ("count = ['sysinfo', false]\n", "line 1: count takes strings or numbers"),
    ("key = 'nobody'\n", "line 1: key: invalid choice: 'nobody' (choose from 'process', "
                         "'tree', 'uid', 'cgroup')"),
    ("\nbackend = 'bpf'\n", "line 2: backend: invalid choice: 'bpf' (choose from 'auto', "
                            "'kprobe', 'lsm', 'tracepoint')"),
    ("action = ''\n", "line 1: action: invalid choice: ''"),
    ("profile = 5\n", "line 1: profile: invalid choice: '5'"),
    # syntax first, then the settings in file order
    ("bogus = 1\nx = 1_0\n", "line 2: '1_0' is not a value"),
    ("bogus = 1\nkey = 'x'\n", "line 1: unknown setting 'bogus'"),
]

# Refused by the subset although TOML (tomllib reads them): said so.
OUTSIDE_THE_SUBSET = ("max-calls = 1_000\n", "max-calls = 0x10\n", "interval = inf\n",
                      "interval = nan\n", "when = 1979-05-27\n", "x = {a = 1}\n",
                      'x = """a\nb"""\n', "x = '''a'''\n", "x = [[1]]\n",
                      "[policy]\nmax-calls = 5\n", "[[x]]\n", "a.b = 1\n",
                      '"max-calls" = 5\n')


def _write(tmp_path, text):
    f = tmp_path / "f"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(f)


@pytest.mark.parametrize("text,line", BAD, ids=[repr(t)[:40] for t, _ in BAD])
def test_refused_files(tmp_path, monkeypatch, text, line):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, text)
    with pytest.raises(SetupError) as e:
        cli.parse(["--config", "f"])
    assert str(e.value).startswith("--config f: " + line), str(e.value)


@pytest.mark.parametrize("text", OUTSIDE_THE_SUBSET)
def test_toml_outside_the_subset_is_refused_not_misread(text):
    tomllib.loads(text)                 # TOML ...
    with pytest.raises(SetupError):     # ... that the subset does not take
        config.parse("f", text)


def test_file_errors(tmp_path):
    with pytest.raises(SetupError, match=r"^--config /nonexistent: No such file or directory$"):
        cli.parse(["--config", "/nonexistent"])
    with pytest.raises(SetupError, match=r"^--config %s: Is a directory$" % tmp_path):
        cli.parse(["--config", str(tmp_path)])
    big = _write(tmp_path, "# " + "x" * config.FILE_MAX + "\n")
    with pytest.raises(SetupError, match=r"larger than 65536 bytes$"):
        cli.parse(["--config", big])


def test_flag_overrides_file_overrides_default(tmp_path):
    f = _write(tmp_path, 'max-calls = 7\nwindow-ms = 300\ncomm = ["a", "b"]\n'
                         'count = ["sysinfo", "fs:tmpfs"]\njson = true\naction = "monitor"\n'
                         'interval = 0.5\n')
    a = cli.parse(["--config", f])
    assert (a.policy.max_calls, a.policy.window_ms, a.comm, a.json, a.action, a.interval) == (
        7, 300, ["a", "b"], True, "monitor", 0.5)
    assert a.policy.count == "sysinfo,fs:tmpfs" and a.config == f
    b = cli.parse(["--config", f, "--max-calls", "9", "--comm", "c", "--action", "auto",
                   "-i", "2"])
    assert (b.policy.max_calls, b.policy.window_ms, b.comm, b.action, b.interval) == (
        9, 300, ["c"], "auto", 2.0)
    c = cli.parse([])
    assert (c.policy.max_calls, c.policy.window_ms, c.comm, c.action, c.config) == (
        100, 500, [], "auto", None)


def test_file_values_get_the_flags_checks(tmp_path):
    for text, line in (("max-calls = 0\n", "--max-calls 0 is too small"),
                       ("max-calls = -1\n", "--max-calls '-1' is not a whole number"),
                       ("max-calls = 1.5\n", "--max-calls '1.5' is not a whole number"),
                       ("interval = 0.01\n", "--interval 0.01 must be at least 0.1"),
                       ("comm = ['%s']\n" % ("x" * 16), "must be 1 to 15 bytes long"),
                       ("key = 'tree'\n", "--key tree needs target roots"),
                       ("pid = [5]\n", "either -p/--pid or -- CMD")):
        f = _write(tmp_path, text)
        with pytest.raises(SetupError) as e:
            cli.parse(["--config", f, "--", "true"] if "pid" in text else ["--config", f])
        assert line in str(e.value), (text, str(e.value))
