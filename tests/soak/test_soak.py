"""The soak as a test: SOAK_S seconds (default 60) of 64 aggressive and 64
normal readers under one watchdog; tests/soak/soak.py has the checks.

On the host: throttle, tracepoint backend.  In a VM: deny, the kernel's
deny backend.  `make soak` runs the full length (600 s host, 120 s VM)."""

import json
import os

import soak
from conftest import VM_DENY, vm_kernel


def test_soak(tmp_path):
    seconds = float(os.environ.get("SOAK_S", 60))
    if vm_kernel():
        action, backend = "deny", VM_DENY[vm_kernel()]
    else:
        action, backend = "throttle", "tracepoint"
    res = soak.soak(seconds, 64, 64, action, backend, tmp_path, [10, 20, 30, 40])
    soak.print_report(res)
    (tmp_path / "soak.json").write_text(json.dumps(res, indent=1) + "\n")
    out = os.environ.get("SOAK_RESULT")
    if out:
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
    assert res["passed"], "\n".join(res["failures"])
