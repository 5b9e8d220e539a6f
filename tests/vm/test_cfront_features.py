"""ethoswd's feature probing (src/features.c) gives the Python front end's
answers on this guest's kernel too: the host suite's comparisons
(tests/host/test_cfront_features.py), run here on the guest kernels."""

import hostsuite

_host = hostsuite.module("test_cfront_features")

pytestmark = _host.pytestmark
test_c_features_agree_with_python = _host.test_c_features_agree_with_python
test_c_probe_features_output_agrees = _host.test_c_probe_features_output_agrees
test_ethoswd_probe_features_agrees_with_watchdog_py = \
    _host.test_ethoswd_probe_features_agrees_with_watchdog_py
test_probe_features_agree_with_tracefs_unmounted = \
    _host.test_probe_features_agree_with_tracefs_unmounted
