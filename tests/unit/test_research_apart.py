"""The runtime front end stands without the research package.

A copy of the tree without ethoswd/research/ imports ethoswd.main,
ethoswd.session and ethoswd.cli, answers --help, parses options and
refuses bad ones as before, and answers a research subcommand with one
line and exit status 2.  In the tree itself, only ethoswd/main.py (the
subcommand dispatch) imports the research package, and only inside a
function."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """watchdog.py, ethoswd/ without research/, and probe/ (abi.py reads
    watchdog_map.h)."""
    root = tmp_path_factory.mktemp("bare")
    shutil.copytree(REPO / "ethoswd", root / "ethoswd",
                    ignore=shutil.ignore_patterns("research", "__pycache__"))
    shutil.copytree(REPO / "probe", root / "probe")
    shutil.copy(REPO / "watchdog.py", root)
    assert not (root / "ethoswd" / "research").exists()
    return root


def _run(cwd, *args):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_help_without_research(bare):
    r = _run(bare, "watchdog.py", "--help")
    assert r.returncode == 0, r.stderr
    assert "--max-calls" in r.stdout and "--window-ms" in r.stdout
    assert r.stdout == _run(REPO, "watchdog.py", "--help").stdout


def test_imports_and_parses_without_research(bare):
    code = ("import sys\n"
            "from ethoswd import cli, main, session\n"
            "a = cli.parse(['--max-calls', '7', '--window-ms', '250', '--', 'true'])\n"
            "assert not any(m.startswith('ethoswd.research') for m in sys.modules)\n"
            "pol = a.policy\n"
            "print(pol.max_calls, pol.window_ms, a.command, callable(session.run_loop))\n")
    r = _run(bare, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "7 250 ['true'] True\n"


def test_bad_option_without_research(bare):
    r = _run(bare, "watchdog.py", "--max-calls", "x")
    assert r.returncode == 2
    assert r.stderr == "watchdog: error: --max-calls 'x' is not a whole number\n"


@pytest.mark.parametrize("word", ["record", "replay", "export", "sweep"])
def test_research_subcommand_without_research(bare, word):
    r = _run(bare, "watchdog.py", word, "x")
    assert r.returncode == 2
    assert r.stderr == ("watchdog: error: '%s' needs the research package "
                        "ethoswd/research, which is not installed: install the "
                        "whole tree\n" % word)


def _research_imports(path):
    """(line, at module level) of each import of the research package."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if (mod == "research" or mod.startswith("research.")
                    or mod.startswith("ethoswd.research")
                    or (not mod and any(a.name == "research" for a in node.names))):
                found.append((node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            if any(a.name.startswith("ethoswd.research") for a in node.names):
                found.append((node.lineno, id(node) in top))
    return found


def test_only_main_imports_research_lazily():
    hits = {p.name: _research_imports(p) for p in sorted((REPO / "ethoswd").glob("*.py"))}
    hits = {name: found for name, found in hits.items() if found}
    assert list(hits) == ["main.py"]
    assert [top for _line, top in hits["main.py"]] == [False]
