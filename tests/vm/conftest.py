"""VM suite fixtures.  These tests run INSIDE a QEMU guest (vm/run.py sets
WATCHDOG_VM_KERNEL); each kernel states which deny backends it must have,
so a kernel that lost a feature fails here instead of skipping."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import readers  # noqa: E402
import wdrun  # noqa: E402
import frontends  # noqa: E402
from frontends import frontend, pytest_configure  # noqa: E402,F401  (used by pytest)

# What each test kernel must provide: (deny backends, refused backend, reason).
KERNELS = {
    "debian": {"deny": ["lsm"], "auto": "lsm", "cgroup2": True, "sandbox": True,
               "refused": ("kprobe", "bpf_override_return"),
               # lockdown none: --jitter's write mode (test_jitter_bpf.py)
               "jitter_write": True},
    # tinyconfig: no CONFIG_CGROUPS, so --key cgroup must be refused there;
    # no CONFIG_SECCOMP, so the systemd unit's sandbox (SystemCallFilter=)
    # cannot be built there (nor CONFIG_PROC_CHILDREN, for test_stopfile).
    "override": {"deny": ["kprobe"], "auto": "kprobe", "cgroup2": False, "sandbox": False,
                 # BTF and BPF_LSM built, but bpf not in CONFIG_LSM (as Ubuntu 24.04)
                 "refused": ("lsm", "'bpf' not in active LSMs"),
                 # no lockdown: --jitter's write mode (no cfs_rq.rq: not quantize)
                 "jitter_write": True},
}


def kernel():
    name = os.environ.get("WATCHDOG_VM_KERNEL")
    assert name in KERNELS, ("tests/vm runs inside a VM: use `make vm-test` or "
                             "vm/run.py (WATCHDOG_VM_KERNEL=%r)" % name)
    return name


def pytest_generate_tests(metafunc):
    frontends.parametrize(metafunc)
    if "deny_backend" in metafunc.fixturenames:
        name = os.environ.get("WATCHDOG_VM_KERNEL")
        backends = KERNELS[name]["deny"] if name in KERNELS else ["unknown-kernel"]
        metafunc.parametrize("deny_backend", backends)


def pytest_runtest_logreport(report):
    """One line per test the host's test.sh turns into its summary table:
    the deny backend (or "-") and, apart, the front end."""
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        backend, front = "-", "-"
        if "[" in report.nodeid:
            parts = report.nodeid.rsplit("[", 1)[1].rstrip("]").split("-")
            fronts = [p for p in parts if p in wdrun.FRONTENDS]
            front = fronts[0] if fronts else "-"
            backend = "-".join(p for p in parts if p not in wdrun.FRONTENDS) or "-"
        sys.stdout.write("\nWDRESULT kernel=%s backend=%s outcome=%s frontend=%s test=%s\n" % (
            os.environ.get("WATCHDOG_VM_KERNEL"), backend, report.outcome, front,
            report.nodeid.split("::")[-1]))


@pytest.fixture(scope="session", autouse=True)
def vm_ready():
    kernel()
    assert os.geteuid() == 0
    readers.build()


@pytest.fixture(autouse=True)
def nothing_left_attached():
    yield
    assert not wdrun.wait_detached(10), "programs left attached"


@pytest.fixture
def report(tmp_path):
    return lambda name: str(tmp_path / (name + ".rep"))
