"""Backend/action choice (ethoswd.features.choose) on made-up kernels."""

import pytest

from ethoswd import features
from ethoswd.errors import SetupError
from ethoswd.features import Feature


class FakeKernel(features.Features):
    """Features with chosen answers, no probing."""

    def __init__(self, kprobe=True, override=True, lsm=True, signal=True,
                 thread_signal=True, sigcont=True):
        yes = lambda n: Feature(n, True)  # noqa: E731
        self.kernel = "fake"
        for name in ("x86_64", "bpf", "cmpxchg", "ringbuf", "tracepoints",
                     "btf_feature", "lsm_active", "error_injection",
                     "override_path"):
            setattr(self, name, yes(name))
        self.kprobes = Feature("kprobes", kprobe, "no CONFIG_KPROBES")
        self.override = Feature("bpf_override_return", override, "unknown func")
        self.lsm_load = Feature("BPF-LSM program load", lsm, "EPERM")
        self.send_signal = Feature("bpf_send_signal", signal, "unknown func")
        self.send_signal_thread = Feature("bpf_send_signal_thread", thread_signal,
                                          "unknown func")
        self.sigcont = Feature("throttle escalation (SIGCONT)", sigcont,
                               "no tracepoint signal/signal_generate")
        self.btf = None


def test_auto_prefers_lsm_deny():
    assert features.choose(FakeKernel(), "auto", "auto")[:2] == ("lsm", "deny")


def test_auto_uses_kprobe_when_lsm_is_refused():
    b, a, why = features.choose(FakeKernel(lsm=False), "auto", "auto")
    assert (b, a) == ("kprobe", "deny") and "lsm (BPF-LSM program load: EPERM)" in why


def test_auto_falls_back_to_tracepoint_throttle_and_says_why():
    b, a, why = features.choose(FakeKernel(override=False, lsm=False), "auto", "auto")
    assert (b, a) == ("tracepoint", "throttle")
    assert "bpf_override_return" in why and "deny impossible" in why


def test_explicit_backend_missing_is_refused_with_the_feature():
    with pytest.raises(SetupError, match="backend kprobe is not available.*unknown func"):
        features.choose(FakeKernel(override=False), "kprobe", "auto")


def test_deny_without_a_deny_backend_is_refused():
    with pytest.raises(SetupError, match="deny is not possible"):
        features.choose(FakeKernel(override=False, lsm=False), "auto", "deny")


def test_throttle_needs_send_signal():
    with pytest.raises(SetupError, match="bpf_send_signal"):
        features.choose(FakeKernel(signal=False), "tracepoint", "throttle")


@pytest.mark.parametrize("action", ["throttle", "kill"])
def test_signal_actions_need_send_signal_thread(action):
    with pytest.raises(SetupError, match="action %s is not available.*"
                       "bpf_send_signal_thread: unknown func" % action):
        features.choose(FakeKernel(thread_signal=False), "tracepoint", action)


def test_auto_without_send_signal_thread_monitors_and_says_why():
    b, a, why = features.choose(FakeKernel(override=False, lsm=False, thread_signal=False),
                                "auto", "auto")
    assert (b, a) == ("tracepoint", "monitor")
    assert "throttle impossible: bpf_send_signal_thread" in why


def test_monitor_is_the_last_resort_and_is_said():
    b, a, why = features.choose(FakeKernel(override=False, lsm=False, signal=False),
                                "auto", "auto")
    assert (b, a) == ("tracepoint", "monitor") and "throttle impossible" in why


def test_throttle_needs_the_sigcont_watch_and_kill_does_not():
    """A throttle that SIGCONT from another process would undo is refused;
    kill, which SIGCONT cannot undo, is not."""
    with pytest.raises(SetupError, match="action throttle is not available.*"
                       "throttle escalation \\(SIGCONT\\): no tracepoint"):
        features.choose(FakeKernel(sigcont=False), "tracepoint", "throttle")
    assert features.choose(FakeKernel(sigcont=False), "tracepoint", "kill")[1] == "kill"


def test_auto_never_kills_when_throttle_is_impossible():
    b, a, why = features.choose(FakeKernel(override=False, lsm=False, sigcont=False),
                                "auto", "auto")
    assert (b, a) == ("tracepoint", "monitor")
    assert "throttle impossible: throttle escalation (SIGCONT)" in why
    assert "kill" not in why
