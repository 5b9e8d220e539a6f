"""--config FILE: settings from a small TOML file (src/config.c is the C copy).

The file holds the long options without their dashes, one `key = value`
a line:

    max-calls = 100
    window-ms = 500
    count = ["sysinfo"]          # a list is joined with "," for --count
    comm = ["scanner", "probe"]  # a repeatable option takes a list
    json = true                  # a flag takes true or false

read() returns {key: (line, value)}; merge() puts the values of the keys
the command line did not give into cli.parse()'s namespace, where they
go through the same checks as flags.  A flag given on the command line
wins over the file.

Both front ends read the same subset of TOML, with the same words for
every refusal (test_frontend_parity.py), so neither uses a full TOML
library: Python's tomllib cannot be matched word for word from C, and
Debian 12 packages no C TOML library.  The subset (each accepted file is
TOML with the same meaning, tests/unit/test_config.py checks that with
tomllib):

- UTF-8 text; `#` comments; blank lines; no control characters but tab;
- bare keys (A-Z a-z 0-9 - _) at the top level: no tables, dotted or
  quoted keys; each key once;
- values: "basic" strings (escapes \\b \\t \\n \\f \\r \\" \\\\ \\uXXXX
  \\UXXXXXXXX), 'literal' strings, decimal integers ([+-], no leading
  zeros, no _), decimal floats (a fraction and/or an exponent), true,
  false, and [lists] of strings and numbers (over several lines, with
  comments, a trailing comma);
- everything else (multi-line strings, hex/octal/binary, inf, nan,
  dates, inline tables, nested lists) is refused with one line.
"""

import argparse
import re

from .errors import SetupError

FILE_MAX = 65536
# Options that act once rather than set a policy: not settings.
COMMAND_LINE_ONLY = ("help", "version", "probe-features", "config", "ebpf",
                     "resume-stopped")

_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)")
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_BARE_END = " \t\n,]#"


class _Text:
    """A cursor over the file's text, counting lines for the errors."""

    def __init__(self, path, text):
        self.path, self.s, self.i, self.line = path, text, 0, 1

    def fail(self, what):
        raise SetupError("--config %s: line %d: %s" % (self.path, self.line, what))

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def blanks(self, newlines=False):
        """Skip spaces and tabs (and comments and line ends if newlines)."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            elif newlines and c == "\n":
                self.i += 1
                self.line += 1
            else:
                return

    def string(self):
        quote = self.s[self.i]
        if self.s.startswith(quote * 3, self.i):
            self.fail("multi-line strings are not read: write the value on one line")
        self.i += 1
        out = []
        while True:
            c = self.peek()
            if c in ("", "\n"):
                self.fail("unterminated string")
            self.i += 1
            if c == quote:
                return "".join(out)
            if c == "\\" and quote == '"':
                out.append(self.escape())
            else:
                out.append(c)

    def escape(self):
        c = self.peek()
        self.i += 1
        if c in _ESCAPES:
            return _ESCAPES[c]
        n = {"u": 4, "U": 8}.get(c)
        digits = self.s[self.i:self.i + n] if n else ""
        if n and len(digits) == n and all(d in "0123456789abcdefABCDEF" for d in digits):
            cp = int(digits, 16)
            if 0 < cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF:
                self.i += n
                return chr(cp)
        self.fail("invalid escape sequence in a string")

    def scalar(self):
        """("str", text), ("int", text) or ("float", text) as written, or
        ("bool", "true"/"false")."""
        c = self.peek()
        if c and c in "\"'":
            return ("str", self.string())
        if c == "{":
            self.fail("inline tables are not read: give each setting its own line")
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in _BARE_END:
            self.i += 1
        word = self.s[start:self.i]
        if word in ("true", "false"):
            return ("bool", word)
        if _INT.fullmatch(word):
            return ("int", word)
        if _FLOAT.fullmatch(word):
            return ("float", word)
        self.fail("%r is not a value the file can hold: quote a string; numbers are "
                  "decimal, without '_'; true or false; a [list]" % word)

    def value(self):
        if self.peek() != "[":
            return self.scalar()
        self.i += 1
        items = []
        while True:
            self.blanks(newlines=True)
            if self.peek() == "]":
                break
            if self.peek() == "[":
                self.fail("nested lists are not read")
            if self.peek() in ("", ","):
                self.fail("unterminated list: expected a value or ']'")
            items.append(self.scalar())
            self.blanks(newlines=True)
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "]":
                self.fail("expected ',' or ']' in a list")
        self.i += 1
        return ("list", items)


def parse(path, text):
    """{key: (line, value)} of the file's text; SetupError naming the line
    of the first construct outside the subset."""
    t = _Text(path, text.replace("\r\n", "\n"))
    bad = re.search(r"[\x00-\x08\x0b-\x1f\x7f]", t.s)
    if bad:
        t.line = t.s.count("\n", 0, bad.start()) + 1
        t.fail("control character U+%04X" % ord(bad.group()))
    out = {}
    while True:
        t.blanks(newlines=True)
        if t.i >= len(t.s):
            return out
        if t.peek() == "[":
            t.fail("tables ([name]) are not read: write every setting at the top level")
        m = _KEY.match(t.s, t.i)
        if not m:
            t.fail("expected a setting: key = value")
        key, t.i = m.group(), m.end()
        t.blanks()
        if t.peek() == ".":
            t.fail("dotted keys are not read: write the setting's own name")
        if t.peek() != "=":
            t.fail("expected '=' after %r" % key)
        t.i += 1
        t.blanks()
        if t.peek() in ("", "\n", "#"):
            t.fail("%r has no value" % key)
        line = t.line
        value = t.value()
        t.blanks()
        if t.peek() not in ("", "\n"):
            t.fail("expected the end of the line after the value of %r" % key)
        if key in out:
            t.line = line
            t.fail("%r is set twice" % key)
        out[key] = (line, value)


def read(path):
    """parse() of the file at path; SetupError if it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(FILE_MAX + 1)
    except OSError as e:
        raise SetupError("--config %s: %s" % (path, e.strerror)) from None
    if len(data) > FILE_MAX:
        raise SetupError("--config %s: larger than %d bytes" % (path, FILE_MAX))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise SetupError("--config %s: line %d: not UTF-8 text" % (path, line)) from None
    return parse(path, text)


def _text(t, key, line, value, what):
    """A scalar's text as a flag's value would be."""
    if value[0] == "bool":
        t.line = line
        t.fail("%s takes %s, not true or false" % (key, what))
    return value[1]


def _repeatable(act):
    return isinstance(act, argparse._AppendAction)


def settings(path, actions):
    """{dest: value} from the file: a string, a list of strings (a
    repeatable option) or a bool (a flag).  actions: {long name without
    '--': argparse action}."""
    t = _Text(path, "")
    out = {}
    for key, (line, value) in read(path).items():
        t.line = line
        if key in COMMAND_LINE_ONLY:
            t.fail("%r is a command-line option, not a setting" % key)
        act = actions.get(key)
        if act is None:
            t.fail("unknown setting %r (the settings are the long options without "
                   "'--': see --help)" % key)
        if act.nargs == 0:          # a flag: store_true
            if value[0] != "bool":
                t.fail("%s takes true or false" % key)
            out[act.dest] = value[1] == "true"
        elif value[0] == "list" and (_repeatable(act) or key == "count"):
            texts = [_text(t, key, line, v, "strings or numbers") for v in value[1]]
            out[act.dest] = ",".join(texts) if key == "count" else texts
        elif value[0] == "list":
            t.fail("%s takes one value, not a list" % key)
        else:
            text = _text(t, key, line, value, "a value")
            if act.choices and text not in act.choices:
                t.fail("%s: invalid choice: %r (choose from %s)" % (
                    key, text, ", ".join(repr(c) for c in act.choices)))
            out[act.dest] = [text] if _repeatable(act) else text
    return out
