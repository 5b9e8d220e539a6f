"""One suite, both front ends: the pytest pieces the host and VM conftests
share.  Every test runs once per front end in wdrun.FRONTENDS, or only
against those @pytest.mark.frontends(...) names."""

import pytest

import wdrun


def pytest_configure(config):
    config.addinivalue_line("markers", "frontends(*names): run only against these "
                            "front ends (wdrun.FRONTENDS)")


@pytest.fixture(autouse=True)
def frontend(request):
    """The front end this run of the test uses (parametrize() sets it)."""
    wdrun.use(request.param)
    problem = wdrun.frontend_problem()
    assert problem is None, problem
    yield request.param
    wdrun.use("watchdog.py")


def parametrize(metafunc):
    """Call from the conftest's pytest_generate_tests."""
    if "frontend" in metafunc.fixturenames:
        metafunc.parametrize("frontend", wdrun.frontends_for(metafunc), indirect=True)
