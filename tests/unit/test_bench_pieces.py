"""The benches' pure-Python pieces (bench/): configuration names come from
their fields, and every breakdown variant's patch applies to the probe as
it is now (breakdown.py stops with an error otherwise; this finds it
without root)."""

import os
import sys

import pytest

from ethoswd.probe import source_text

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench"))

import breakdown  # noqa: E402
import configs  # noqa: E402
from common import BenchError  # noqa: E402


def test_every_breakdown_patch_applies_to_the_current_probe():
    src = source_text()
    for c in breakdown.variant_configs(src, "tracepoint"):
        assert c.kind == "variant" and c.backend == "tracepoint"
        if c.source is not None:
            assert c.source != src, c.name


def test_the_class_check_rows_measure_the_sysinfo_class():
    byname = {c.name: c for c in breakdown.variant_configs(source_text(), "tracepoint")}
    for name in ("class-sysinfo", "class-skipped"):
        pol = byname[name].policy
        assert pol is not None and not pol.counts_all and byname[name].scope == "target"
    assert byname["class-skipped"].source is not None
    assert byname["class-sysinfo"].source is None


def test_a_patch_that_no_longer_applies_names_itself():
    with pytest.raises(BenchError, match="variant gone.*no such text"):
        breakdown.patched("probe text", "gone", [("no such text", "")])


class _Feats:
    def action_problem(self, backend, action):
        return None


def test_config_names_and_roles_come_from_fields():
    base = configs.baseline_configs(["tracepoint", "kprobe"])
    assert [c.name for c in base] == ["none", "ref-empty", "ref-tp", "ref-rawtp", "ref-kprobe"]
    wd = configs.watchdog_configs(_Feats(), ["tracepoint"])
    assert [c.name for c in wd] == [
        "wd-tracepoint-monitor-target", "wd-tracepoint-monitor-all",
        "wd-tracepoint-deny-target", "wd-tracepoint-throttle-target"]
    extra = configs.special_configs(("tracepoint", "throttle"))
    assert [c.name for c in extra] == [
        "wd-tracepoint-throttle-other", "wd-tracepoint-throttle-n1000",
        "wd-tracepoint-throttle-n50000", "wd-tracepoint-monitor-all-mapfull"]
    assert [(c.scaling, c.map_full_case, c.special) for c in extra] == [
        (False, False, False), (True, False, True), (True, False, True), (False, True, True)]
    assert [c.tracked for c in extra[1:3]] == [1000, 50000]
    assert not any(c.special for c in base + wd)
    assert [c.hook for c in base[:2]] == ["-", "syscalls:sys_enter_read*"]
