"""The probe's bpf_rdonly_cast() calls: the probe is compiled without
kernel BTF ids, so it calls the kfunc by a helper number no kernel has
(WD_CAST_MARK, probe/watchdog_map.h).  Before the load, each such call is
rewritten into the kfunc call with the running kernel's id (a kfunc call:
src_reg BPF_PSEUDO_KFUNC_CALL, imm the function's BTF id, off 0 for
vmlinux).  src/loader.c does the same for ethoswd's object.
"""

import ctypes as ct
import struct

from . import bpfsys as B
from .abi import DEFS

MARK = DEFS["WD_CAST_MARK"]
_INSN = struct.Struct("<BBhi")


def rewrite(code, func_id):
    """(the instructions with every marked call made a kfunc call, how many)."""
    out, n = bytearray(code), 0
    for off in range(0, len(out) - len(out) % 8, 8):
        op, regs, _, imm = _INSN.unpack_from(out, off)
        if op == B.CALL and regs == 0 and imm == MARK:
            _INSN.pack_into(out, off, B.CALL, B.PSEUDO_KFUNC_CALL << 4, 0, func_id)
            n += 1
    return bytes(out), n


def rewrite_module(lib, module, func_id):
    """Rewrite the marked calls of every function of a compiled BCC module
    in place, before any is loaded (BCC loads from these bytes); the
    number rewritten."""
    total = 0
    for i in range(lib.bpf_num_functions(module)):
        name = lib.bpf_function_name(module, i)
        start, size = lib.bpf_function_start(module, name), lib.bpf_function_size(module, name)
        if not start or not size:
            continue
        code, n = rewrite(ct.string_at(start, size), func_id)
        if n:
            ct.memmove(start, code, size)
            total += n
    return total
