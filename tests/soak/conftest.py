"""Soak suite fixtures.  On the host the soak runs under throttle on the
tracepoint backend; inside a VM (vm/run.py sets WATCHDOG_VM_KERNEL) under
deny on the kernel's deny backend, and one WDRESULT line per test goes to
the console for test.sh's summary, as in tests/vm."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import readers  # noqa: E402
import wdrun  # noqa: E402

# Deny backend per VM kernel (tests/vm/conftest.py: KERNELS).
VM_DENY = {"debian": "lsm", "override": "kprobe"}


def vm_kernel():
    return os.environ.get("WATCHDOG_VM_KERNEL")


# The churn soak (test_churn.py) runs on the host only: what it checks, the
# rows of exited processes a front end keeps, is front-end code, the same
# on every kernel, and forks under TCG are slow (5 000 exits: 69 s).
collect_ignore = ["test_churn.py"] if vm_kernel() else []


def pytest_runtest_logreport(report):
    if vm_kernel() is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        sys.stdout.write("\nWDRESULT kernel=%s backend=%s outcome=%s test=%s\n" % (
            vm_kernel(), VM_DENY.get(vm_kernel(), "-"), report.outcome,
            report.nodeid.split("::")[-1]))


@pytest.fixture(scope="session", autouse=True)
def soak_ready():
    assert os.geteuid() == 0, "the soak suite needs root (sudo ./test.sh)"
    assert os.path.exists(wdrun.PYTHON), "no /usr/bin/python3: run ./install.sh --tests"
    readers.build()
