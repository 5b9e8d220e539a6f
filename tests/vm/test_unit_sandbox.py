"""ethoswd under the unit's sandbox on the guest kernels too (tests/host/
test_unit_sandbox.py): on the Debian kernel the LSM backend loads and
attaches, and tracepoints open, with CAP_BPF, CAP_PERFMON, CAP_KILL and
CAP_DAC_READ_SEARCH only, under the unit's system-call filter; and the
unit's ExecStopPost resumes what a killed watchdog left stopped."""

import hostsuite

_sandbox = hostsuite.module("test_unit_sandbox")
_stopfile = hostsuite.module("test_stopfile")

pytestmark = _sandbox.pytestmark
test_probe_features_are_the_same_inside = _sandbox.test_probe_features_are_the_same_inside
test_throttle_escalation_and_state_file_work_inside = \
    _sandbox.test_throttle_escalation_and_state_file_work_inside
test_the_sandbox_can_refuse = _sandbox.test_the_sandbox_can_refuse
test_a_unit_sigkill_leaves_no_process_stopped = \
    _stopfile.test_a_unit_sigkill_leaves_no_process_stopped
