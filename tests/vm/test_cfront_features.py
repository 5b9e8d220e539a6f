"""ethoswd's feature probing (src/features.c) gives the Python front end's
answers on this guest's kernel too: the host suite's comparisons
(tests/host/test_cfront_features.py), run here on the guest kernels."""

import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "host", "test_cfront_features.py")
_spec = importlib.util.spec_from_file_location("host_cfront_features", _PATH)
_host = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_host)

pytestmark = _host.pytestmark
test_c_features_agree_with_python = _host.test_c_features_agree_with_python
test_c_probe_features_output_agrees = _host.test_c_probe_features_output_agrees
test_ethoswd_probe_features_agrees_with_watchdog_py = \
    _host.test_ethoswd_probe_features_agrees_with_watchdog_py
