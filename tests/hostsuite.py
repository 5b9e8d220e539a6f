"""The host suite's modules, for the VM suites that run some of their
tests again on the guest kernels (tests/vm/test_cfront_*.py)."""

import importlib.util
import os

HOST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "host")


def module(name):
    """tests/host/<name>.py, loaded under a name of its own."""
    spec = importlib.util.spec_from_file_location("host_" + name,
                                                  os.path.join(HOST, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
