"""Host suite fixtures: root + BCC required (a failure, never a skip),
test programs built once, and a check after every test that no watchdog
program is left attached."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import readers  # noqa: E402
import wdrun  # noqa: E402
import frontends  # noqa: E402
from frontends import frontend, pytest_configure  # noqa: E402,F401  (used by pytest)


@pytest.fixture(scope="session", autouse=True)
def host_ready():
    assert os.geteuid() == 0, "the host suite needs root (a root shell, or sudo)"
    assert os.path.exists(wdrun.PYTHON), "no /usr/bin/python3: run ./install.sh --tests"
    readers.build()


@pytest.fixture(autouse=True)
def nothing_left_attached():
    # Another checkout's run that just exited leaves programs with no holder
    # until the kernel frees them: wait for those as for our own.
    before = wdrun.wait_detached(5)
    assert not before, "watchdog programs attached before the test: %s" % before
    yield
    assert not wdrun.wait_detached(5), "programs left attached"


@pytest.fixture
def report(tmp_path):
    """report('name') -> a fresh report path in this test's tmp dir."""
    return lambda name: str(tmp_path / (name + ".rep"))


def pytest_generate_tests(metafunc):
    frontends.parametrize(metafunc)
