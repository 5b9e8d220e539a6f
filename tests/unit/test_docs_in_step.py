"""The option lists people read stay in step with the option table
(probe/options.def, which both parsers are built from): every option of
`watchdog.py --help` is in watchdog.py's USAGE block, and in the README's
option table with its argument and default."""

import argparse
import re

from ethoswd import REPO_ROOT, cli
from ethoswd.options import OPTIONS


def _options():
    """Each option's spellings, e.g. ("-p", "--pid"); any one may be shown."""
    return [tuple(a.option_strings) for a in cli.build_parser()._actions
            if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]


def _read(name):
    with open("%s/%s" % (REPO_ROOT, name)) as f:
        return f.read()


def test_usage_block_lists_every_option():
    usage = re.search(r"# USAGE:(.*?)\n#\n", _read("watchdog.py"), re.S).group(1)
    missing = sorted(o for o in _options()
                     if not any(re.search(re.escape(s) + r"[ \]]", usage) for s in o))
    assert not missing, "watchdog.py USAGE block lacks %s" % missing


def _readme_options():
    """{option: (its argument as written, the row)} of README.md's table of
    options (the table under "| option | meaning |")."""
    text = _read("README.md")
    rows = text.split("| option | meaning |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    found = {}
    for row in rows.splitlines():
        first = row.split(" | ", 1)[0]
        for span in re.findall(r"`([^`]+)`", first):
            name, _, arg = span.partition(" ")
            if name != "--":
                found[name] = (arg, row)
    return found


def test_readme_table_lists_every_option():
    """Every option of probe/options.def (but -h and the hidden --ebpf) is in
    the README's table, with the table's argument (its metavar, or the same
    set of choices) and, where the row gives one, the table's default."""
    readme = _readme_options()
    for o in OPTIONS:
        if o.kind == "HELP" or o.help is None:
            continue
        name = o.long if o.long in readme else o.short
        assert name in readme, "%s is not in README.md's option table" % o.long
        arg, row = readme[name]
        if o.choices:
            assert set(arg.split("\\|")) == set(o.choices), (o.long, arg)
        else:   # its metavar, or the forms it takes (--count all\|sysinfo\|...)
            assert arg == (o.metavar or "") or "\\|" in arg, (o.long, arg)
        said = re.findall(r"\(default ([0-9]+)\)", row)
        if said and o.default:
            assert said == [o.default], (o.long, said)
    names = {n for o in OPTIONS for n in (o.short, o.long) if n}
    assert set(readme) <= names, set(readme) - names
