"""ethoswd's cut of the kernel BTF relocates the probe as the whole BTF
does on this guest's kernel too (tests/host/test_cfront_minbtf.py)."""

import hostsuite

_host = hostsuite.module("test_cfront_minbtf")

pytestmark = _host.pytestmark
test_cut_btf_relocates_like_the_whole_btf = _host.test_cut_btf_relocates_like_the_whole_btf
