"""ethoswd/castcall.py: the probe's marked calls become bpf_rdonly_cast
kfunc calls, and nothing else changes."""

import struct

from ethoswd import bpfsys as B
from ethoswd import castcall


def _insn(code, regs=0, off=0, imm=0):
    return struct.pack("<BBhi", code, regs, off, imm)


def test_marked_calls_become_kfunc_calls_and_nothing_else_moves():
    helper = _insn(B.CALL, imm=14)                      # a real helper call
    marked = _insn(B.CALL, imm=castcall.MARK)
    local = _insn(B.CALL, regs=1 << 4, imm=castcall.MARK)  # a bpf-to-bpf call
    mov = _insn(B.MOV64_IMM, imm=castcall.MARK)         # the number, not a call
    code = helper + marked + local + mov + marked + B.RET0
    out, n = castcall.rewrite(code, 65425)
    assert n == 2 and len(out) == len(code)
    kfunc = _insn(B.CALL, regs=B.PSEUDO_KFUNC_CALL << 4, imm=65425)
    assert out == helper + kfunc + local + mov + kfunc + B.RET0


def test_no_marked_call_leaves_the_code_as_it_was():
    code = _insn(B.CALL, imm=1) + B.RET0
    assert castcall.rewrite(code, 7) == (code, 0)


def test_the_mark_is_the_probe_s():
    # kernel_read.h calls this number; watchdog_map.h defines it.
    with open(castcall.__file__.replace("ethoswd/castcall.py", "probe/watchdog_map.h")) as f:
        assert "#define WD_CAST_MARK 0x%x" % castcall.MARK in f.read()
