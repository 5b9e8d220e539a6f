"""Raw bpf(2) calls and BTF look-ups for feature probing, without BCC.

Feature probes load tiny hand-assembled programs straight through the
bpf() syscall (as Tetragon and bpftool do), so they take milliseconds
and need no compiler.  BTF look-ups go through libbpf (a dependency of
BCC's libbcc, so present wherever BCC is).
"""

import ctypes
import ctypes.util
import errno
import os
import struct

SYS_BPF = 321  # x86-64
BPF_MAP_CREATE, BPF_PROG_LOAD = 0, 5

PROG_KPROBE, PROG_TRACEPOINT, PROG_RAW_TRACEPOINT, PROG_LSM = 2, 5, 17, 29
ATTACH_LSM_MAC = 27
MAP_HASH, MAP_RINGBUF = 1, 27

HELPER_OVERRIDE_RETURN = 58
HELPER_SEND_SIGNAL = 109
HELPER_SEND_SIGNAL_THREAD = 117
HELPER_GET_CURRENT_TASK_BTF = 158
HELPER_TASK_PT_REGS = 175

BTF_KIND_STRUCT, BTF_KIND_UNION = 4, 5
BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST = 8, 9, 10
BTF_KIND_RESTRICT, BTF_KIND_FUNC, BTF_KIND_TYPE_TAG = 11, 12, 18
BTF_KIND_ENUM = 6

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def insn(code, dst=0, src=0, off=0, imm=0):
    """Encode one eBPF instruction (struct bpf_insn)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


MOV64_IMM = 0xB7   # BPF_ALU64 | BPF_MOV | BPF_K
MOV64_REG = 0xBF   # BPF_ALU64 | BPF_MOV | BPF_X
STDW_IMM = 0x7A    # BPF_ST | BPF_DW | BPF_MEM
ATOMIC_DW = 0xDB   # BPF_STX | BPF_DW | BPF_ATOMIC
CALL, EXIT = 0x85, 0x95
PSEUDO_KFUNC_CALL = 2  # src_reg of a CALL: imm is a kernel function's BTF id
CMPXCHG = 0xF1     # BPF_CMPXCHG (includes BPF_FETCH)
RET0 = insn(MOV64_IMM, 0, imm=0) + insn(EXIT)


def _bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    ctypes.set_errno(0)
    fd = _libc.syscall(SYS_BPF, cmd, buf, len(attr))
    return fd, ctypes.get_errno()


def prog_load(prog_type, code, attach_type=0, attach_btf_id=0):
    """Load a program; return (ok, message). The fd is closed at once."""
    log = ctypes.create_string_buffer(8192)
    lic = ctypes.create_string_buffer(b"GPL")
    insns = ctypes.create_string_buffer(code, len(code))
    attr = bytearray(128)
    struct.pack_into("<IIQQIIQ", attr, 0, prog_type, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(lic),
                     1, len(log), ctypes.addressof(log))
    struct.pack_into("<I", attr, 68, attach_type)
    struct.pack_into("<I", attr, 108, attach_btf_id)
    fd, err = _bpf(BPF_PROG_LOAD, attr)
    if fd >= 0:
        os.close(fd)
        return True, ""
    text = log.value.decode(errors="replace").strip().splitlines()
    detail = text[-2] if len(text) >= 2 and "processed" in text[-1] else (
        text[-1] if text else "")
    msg = "%s (%s)" % (errno.errorcode.get(err, str(err)), os.strerror(err))
    return False, msg + (": " + detail if detail else "")


def map_create_fd(map_type, key_size, value_size, max_entries, flags=0):
    """Create a map; return (fd, errno).  fd < 0 on failure; otherwise the
    caller closes it."""
    attr = bytearray(72)
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size,
                     max_entries, flags)
    return _bpf(BPF_MAP_CREATE, attr)


def map_create(map_type, key_size, value_size, max_entries):
    """Create a map; return (ok, message). The fd is closed at once."""
    fd, err = map_create_fd(map_type, key_size, value_size, max_entries)
    if fd >= 0:
        os.close(fd)
        return True, ""
    return False, "%s (%s)" % (errno.errorcode.get(err, str(err)),
                               os.strerror(err))


class _BtfType(ctypes.Structure):
    _fields_ = [("name_off", ctypes.c_uint32), ("info", ctypes.c_uint32),
                ("size_type", ctypes.c_uint32)]


class _BtfMember(ctypes.Structure):
    _fields_ = [("name_off", ctypes.c_uint32), ("type", ctypes.c_uint32),
                ("offset", ctypes.c_uint32)]


class _BtfEnum(ctypes.Structure):
    _fields_ = [("name_off", ctypes.c_uint32), ("val", ctypes.c_int32)]


class Btf:
    """The running kernel's BTF (/sys/kernel/btf/vmlinux) through libbpf."""

    def __init__(self):
        path = ctypes.util.find_library("bpf") or "libbpf.so.1"
        self._lib = lib = ctypes.CDLL(path, use_errno=True)
        lib.btf__load_vmlinux_btf.restype = ctypes.c_void_p
        lib.btf__find_by_name_kind.argtypes = [ctypes.c_void_p,
                                               ctypes.c_char_p, ctypes.c_uint32]
        lib.btf__type_by_id.restype = ctypes.POINTER(_BtfType)
        lib.btf__type_by_id.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.btf__name_by_offset.restype = ctypes.c_char_p
        lib.btf__name_by_offset.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.btf__free.argtypes = [ctypes.c_void_p]
        # Failures come back as errors here; keep libbpf from printing them.
        lib.libbpf_set_print.argtypes = [ctypes.c_void_p]
        lib.libbpf_set_print(None)
        self._btf = lib.btf__load_vmlinux_btf()
        if not self._btf:
            raise OSError(ctypes.get_errno(), "cannot load kernel BTF")

    def close(self):
        if self._btf:
            self._lib.btf__free(self._btf)
            self._btf = None

    def find(self, name, kind):
        """Type ID of `name` with BTF kind `kind`, or None."""
        tid = self._lib.btf__find_by_name_kind(self._btf, name.encode(), kind)
        return tid if tid > 0 else None

    def _resolve(self, tid):
        """Skip typedef/const/volatile/restrict/type-tag wrappers."""
        while True:
            t = self._lib.btf__type_by_id(self._btf, tid).contents
            if (t.info >> 24) & 0x1F not in (BTF_KIND_TYPEDEF, BTF_KIND_CONST,
                                             BTF_KIND_VOLATILE, BTF_KIND_RESTRICT,
                                             BTF_KIND_TYPE_TAG):
                return tid, t
            tid = t.size_type

    def _member(self, tid, name):
        """(byte offset, type id) of member `name`, looking into anonymous
        struct/union members as C does."""
        tid, t = self._resolve(tid)
        kind, vlen = (t.info >> 24) & 0x1F, t.info & 0xFFFF
        if kind not in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            return None
        kflag = t.info >> 31
        base = ctypes.addressof(t) + ctypes.sizeof(_BtfType)
        for i in range(vlen):
            m = _BtfMember.from_address(base + i * ctypes.sizeof(_BtfMember))
            bits = m.offset & 0xFFFFFF if kflag else m.offset
            mname = self._lib.btf__name_by_offset(self._btf, m.name_off) or b""
            if mname.decode() == name:
                return bits // 8, m.type
            if not mname:
                inner = self._member(m.type, name)
                if inner:
                    return bits // 8 + inner[0], inner[1]
        return None

    def enumerators(self, enum_name):
        """The names of enum `enum_name`'s values (empty if no such enum)."""
        tid = self.find(enum_name, BTF_KIND_ENUM)
        if tid is None:
            return set()
        t = self._lib.btf__type_by_id(self._btf, tid).contents
        base = ctypes.addressof(t) + ctypes.sizeof(_BtfType)
        return {(self._lib.btf__name_by_offset(self._btf, _BtfEnum.from_address(
            base + i * ctypes.sizeof(_BtfEnum)).name_off) or b"").decode()
            for i in range(t.info & 0xFFFF)}

    def offset(self, struct_name, path):
        """Byte offset of a dotted member path, e.g. ('file', 'f_path.dentry')."""
        tid = self.find(struct_name, BTF_KIND_STRUCT)
        if tid is None:
            raise LookupError("struct %s not in kernel BTF" % struct_name)
        total = 0
        for part in path.split("."):
            found = self._member(tid, part)
            if found is None:
                raise LookupError("%s.%s not in kernel BTF" % (struct_name, path))
            total += found[0]
            tid = found[1]
        return total
