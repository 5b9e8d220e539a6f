"""Probe.detach() takes every attach point down at once (run_all(): a
thread per detach, so the kernel's grace periods overlap), tries every one
even when one fails, and leaves nothing in its list; no BPF needed (a
stand-in for the BCC module)."""

import threading

import pytest

from ethoswd.probe import Probe, run_all

KINDS = [("tracepoint", "syscalls:sys_enter_read", "wd_tracepoint"),
         ("tracepoint", "syscalls:sys_enter_sendfile64", "wd_tp_fd1"),
         ("raw", "signal_generate", "wd_sigcont"),
         ("kprobe", "__x64_sys_read", "wd_kprobe"),
         ("lsm", "file_permission", "lsm__file_permission"),
         ("fentry", "__x64_sys_sendfile64", "kfunc____x64_sys_sendfile64")]


class FakeBPF:
    """Records each detach; each waits on a barrier that only all of them
    together can pass (so the test sees that they ran at the same time)."""

    def __init__(self, n, fail=None):
        self.barrier = threading.Barrier(n, timeout=10)
        self.done, self.fail = [], fail
        self.kprobe_deletes = 0

    def _detach(self, what):
        self.barrier.wait()
        if what == self.fail:
            raise RuntimeError("cannot detach %s" % what)
        self.done.append(what)

    def _del_kprobe_fd(self, ev, fn):
        self.kprobe_deletes += 1

    def detach_tracepoint(self, tp):
        self._detach(tp.decode())

    def detach_raw_tracepoint(self, tp):
        self._detach(tp.decode())

    def detach_kprobe(self, event):
        self._detach(event.decode())
        self._del_kprobe_fd(b"p_" + event, None)

    def detach_lsm(self, fn_name):
        self._detach(fn_name.decode())

    def detach_kfunc(self, fn_name):
        self._detach(fn_name.decode())


def _probe(bpf):
    p = Probe.__new__(Probe)
    p.bpf = bpf
    p._links = list(KINDS)
    p.attached = ["%s:%s" % (k, w) for k, w, _f in KINDS]
    return p


def test_every_kind_is_detached_at_once():
    bpf = FakeBPF(len(KINDS))
    p = _probe(bpf)
    p.detach()          # a detach in turn would break the barrier: BrokenBarrierError
    assert sorted(bpf.done) == sorted(w if k in ("tracepoint", "raw", "kprobe") else f
                                      for k, w, f in KINDS)
    assert p._links == [] and p.attached == []
    assert bpf.kprobe_deletes == 1


def test_a_failed_detach_is_raised_after_the_others_ran():
    bpf = FakeBPF(len(KINDS), fail="signal_generate")
    p = _probe(bpf)
    with pytest.raises(RuntimeError, match="signal_generate"):
        p.detach()
    assert len(bpf.done) == len(KINDS) - 1
    assert p._links == []


def test_a_call_without_a_thread_runs_in_turn(monkeypatch):
    def no_thread(self):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    done = []
    run_all([lambda i=i: done.append(i) for i in range(3)])
    assert done == [0, 1, 2]
