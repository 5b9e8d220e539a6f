"""The option table both front ends share: probe/options.def, read here at
run time (watchdog.py needs no build step) and included by src/opts.c.

OPTIONS is the list of Option rows in argparse's order, CHOICES the
named choice lists, add_to(parser) gives a parser every option, and
examples(prog) is --help's epilog for a program name.
"""

import ast
import os
import re
from collections import namedtuple

from .abi import DEFS

DEF_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "probe", "options.def")
# The shortest --interval: a table every 0.1 s at most (watch(1)'s floor);
# opts.c INTERVAL_MIN, STR(INTERVAL_MIN) in the table.
INTERVAL_MIN = 0.1
EXAMPLE_COLUMN = 41     # where an example's comment starts

Option = namedtuple("Option", "id short long kind metavar choices default help")

_TOKEN = re.compile(r'(?:\s|/\*.*?\*/|//[^\n]*|#[^\n]*)*'   # space, comments, cpp
                    r'(?:("(?:[^"\\\n]|\\.)*")|([A-Za-z_]\w*)|([(),])|$)', re.S)


def _value(name):
    """STR(NAME): a number of probe/watchdog_map.h, or INTERVAL_MIN."""
    if name == "INTERVAL_MIN":
        return "%g" % INTERVAL_MIN
    return str(DEFS[name])


def _calls(text):
    """[(macro, [argument, ...])] of the X-macro lines; an argument is a
    str (joined literals and STR()s) or an identifier (NULL: None)."""
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError("%s: cannot read %r" % (DEF_FILE, text[pos:pos + 40]))
        if any(m.groups()):
            toks.append(m.groups())
        pos = m.end()
    calls, i = [], 0
    while i < len(toks):
        name = toks[i][1]
        assert name and toks[i + 1][2] == "(", toks[i:i + 2]
        args, cur, i = [], None, i + 2
        while toks[i][2] != ")":
            lit, ident, punct = toks[i]
            if punct == ",":
                args.append(cur)
                cur = None
            elif lit:
                cur = (cur or "") + ast.literal_eval(lit)
            elif ident == "STR":
                cur = (cur or "") + _value(toks[i + 2][1])
                i += 3
            else:
                cur = None if ident == "NULL" else ("ident", ident)
            i += 1
        calls.append((name, args + [cur]))
        i += 1
    return calls


def load(path=DEF_FILE):
    """(OPTIONS, CHOICES, EXAMPLES) of the table in path."""
    with open(path) as f:
        calls = _calls(f.read())
    choices = {a[0][1]: tuple(a[1:]) for n, a in calls if n == "WD_CHOICES"}
    opts = []
    for _, a in (c for c in calls if c[0] == "WD_OPT"):
        a = [x[1] if isinstance(x, tuple) else x for x in a]
        a[5] = choices[a[5]] if a[5] else None
        opts.append(Option(*a))
    examples = [tuple(a) for n, a in calls if n == "WD_EXAMPLE"]
    return opts, choices, examples


OPTIONS, CHOICES, EXAMPLES = load()


def add_to(parser, version):
    """Every option of the table but -h (argparse's own) on parser."""
    import argparse
    for o in OPTIONS:
        if o.kind == "HELP":
            continue
        kw = {"help": o.help.replace("%", "%%") if o.help else argparse.SUPPRESS}
        if o.kind == "FLAG":
            kw["action"] = "store_true"
        elif o.kind == "VERSION":
            kw.update(action="version", version="%(prog)s " + version)
        else:
            kw.update(metavar=o.metavar, choices=o.choices, default=o.default)
            if o.kind == "LIST":
                kw.update(action="append", default=[])
        parser.add_argument(*[s for s in (o.short, o.long) if s], **kw)


def examples(prog):
    """--help's epilog: the examples with this program name."""
    out = ["examples:"]
    for args, comment in EXAMPLES:
        line = "  " + prog + args
        for text in comment.split("\n"):
            if len(line) >= EXAMPLE_COLUMN:
                out.append(line)
                line = ""
            out.append(line.ljust(EXAMPLE_COLUMN) + "# " + text)
            line = ""
    return "\n".join(out) + "\n"
