"""ethoswd under the unit's sandbox on the guest kernels too (tests/host/
test_unit_sandbox.py): on the Debian kernel the LSM backend loads and
attaches, and tracepoints open, with CAP_BPF, CAP_PERFMON, CAP_KILL and
CAP_DAC_READ_SEARCH only, under the unit's system-call filter; and the
unit's ExecStopPost resumes what a killed watchdog left stopped.  The
override kernel (tinyconfig) has no seccomp, of which the unit's
system-call filter is made (nor /proc/PID/task/TID/children, which the
state-file test reads): there only that lack is checked."""

import os

import hostsuite
from conftest import KERNELS, kernel

_sandbox = hostsuite.module("test_unit_sandbox")
_stopfile = hostsuite.module("test_stopfile")

pytestmark = _sandbox.pytestmark
if KERNELS[kernel()]["sandbox"]:
    test_probe_features_are_the_same_inside = _sandbox.test_probe_features_are_the_same_inside
    test_throttle_escalation_and_state_file_work_inside = \
        _sandbox.test_throttle_escalation_and_state_file_work_inside
    test_the_sandbox_can_refuse = _sandbox.test_the_sandbox_can_refuse
    test_a_unit_sigkill_leaves_no_process_stopped = \
        _stopfile.test_a_unit_sigkill_leaves_no_process_stopped
else:
    def test_this_kernel_cannot_build_the_sandbox():
        """The override kernel (tinyconfig) has no seccomp, which the
        unit's SystemCallFilter= is made of: checked, so that a kernel that
        gains it runs the tests above instead."""
        status = open("/proc/self/status").read()
        assert "\nSeccomp:" not in status, "this kernel has seccomp: set sandbox True"
        assert not os.path.exists("/proc/self/task/%d/children" % os.getpid())
