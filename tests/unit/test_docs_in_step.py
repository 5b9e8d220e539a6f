"""The option lists people read stay in step with the parser: every option
of `watchdog.py --help` is in watchdog.py's USAGE block and in the README's
option table."""

import argparse
import re

from ethoswd import REPO_ROOT, cli


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


def test_readme_table_lists_every_option():
    table = "\n".join(line for line in _read("README.md").splitlines()
                      if line.startswith("| `"))
    missing = sorted(o for o in _options()
                     if not any(re.search("[`,] ?" + re.escape(s) + r"\b", table) for s in o))
    assert not missing, "README option table lacks %s" % missing
