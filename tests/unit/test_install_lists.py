"""install.sh --tests names every package the code that ./test.sh runs
imports, and what the lint step runs: a test never leans on a package
that only another flag (--research, say) or this machine's image brings.
tests/fresh/run.sh (`make fresh-check`) shows the same on a fresh Debian
12 root; this is the cheap check that runs with every unit suite."""

import ast
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Python modules from outside the standard library, by Debian package.
MODULE_PACKAGES = {"bcc": "python3-bpfcc", "pytest": "python3-pytest",
                   "matplotlib": "python3-matplotlib", "flake8": "python3-flake8",
                   "prometheus_client": "python3-prometheus-client"}
# Commands `make lint` runs, by Debian package.
LINT_PACKAGES = {"flake8": "python3-flake8", "clang-format": "clang-format", "git": "git"}


def install_list(name):
    """The packages of NAME="..." in install.sh (one list may span lines)."""
    with open(os.path.join(REPO, "install.sh")) as f:
        m = re.search(r'^%s="([^"]*)"' % name, f.read(), re.M)
    assert m, "install.sh has no %s" % name
    return set(m.group(1).split())


def installed_by_tests():
    # What `./install.sh --tests` installs (--tests implies --ethoswd).
    return (install_list("RUNTIME_PKGS") | install_list("TEST_PKGS") |
            install_list("ETHOSWD_PKGS"))


def _tracked_python():
    out = subprocess.run(["git", "-C", REPO, "ls-files", "*.py"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out, "git ls-files found no Python files"
    return out


def _local_modules(files):
    names = set()
    for path in files:
        parts = path[:-3].split("/")
        names.add(parts[-1])
        names.update(parts[:-1])
    return names


def imported_modules(path):
    with open(os.path.join(REPO, path)) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module.split(".")[0]


def test_every_imported_module_has_its_package_in_the_installed_by_tests():
    files = _tracked_python()
    local = _local_modules(files)
    have = installed_by_tests()
    problems = []
    for path in files:
        for mod in set(imported_modules(path)):
            if mod in sys.stdlib_module_names or mod in local:
                continue
            pkg = MODULE_PACKAGES.get(mod)
            if pkg is None:
                problems.append("%s imports %s: name its Debian package in install.sh "
                                "--tests and in MODULE_PACKAGES here" % (path, mod))
            elif pkg not in have:
                problems.append("%s imports %s: %s is not in install.sh --tests"
                                % (path, mod, pkg))
    assert not problems, "\n".join(problems)


def test_lint_tools_are_in_the_installed_by_tests():
    with open(os.path.join(REPO, "Makefile")) as f:
        text = f.read()
    # The recipe and the C file list it checks (C_FILES = $(shell git ...)).
    recipe = re.search(r"^lint:\n((?:\t.*\n)+)", text, re.M).group(1)
    recipe += re.search(r"^C_FILES = (.*(?:\\\n.*)*)", text, re.M).group(1)
    have = installed_by_tests()
    for tool, pkg in LINT_PACKAGES.items():
        if re.search(r"(^|[\s(])%s\b" % re.escape(tool), recipe):
            assert pkg in have, "make lint runs %s: add %s to install.sh's TEST_PKGS" % (
                tool, pkg)
    assert "clang-format" in recipe and "git ls-files" in recipe, recipe
