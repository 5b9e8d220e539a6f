"""Everything shared with the C probe, read from probe/watchdog_map.h
(the one source of truth for both sides).

DEFS holds every numeric #define of that header (limits, actions, keys,
event kinds, health slots, WD_COMM_LEN, WD_PF_KTHREAD...).  The ctypes
classes below mirror its structs, member for member; tests/unit/
test_layout.py checks their sizes and offsets against what gcc makes of
the header.
"""

import ctypes as ct
import os
import re

MAP_H = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "probe", "watchdog_map.h")


def map_defines(path=MAP_H):
    """The numeric #defines of probe/watchdog_map.h."""
    out = {}
    with open(path) as f:
        for m in re.finditer(r"^#define\s+(WD_\w+)\s+(0x[0-9a-fA-F]+|\d+)(?:U?LL|U)?\b",
                             f.read(), re.M):
            out[m.group(1)] = int(m.group(2), 0)
    return out


def map_routes(path=MAP_H):
    """WD_ROUTES of probe/watchdog_map.h: (name, fd_arg, copy) per route,
    in the header's order."""
    with open(path) as f:
        m = re.search(r"^#define\s+WD_ROUTES\(R\)((?:.*\\\n)*.*)$", f.read(), re.M)
    return [(n, int(fd), int(copy)) for n, fd, copy in
            re.findall(r"R\((\w+),\s*(\d+),\s*(\d+)\)", m.group(1))]


DEFS = map_defines()
ROUTES = map_routes()
COMM_LEN = DEFS["WD_COMM_LEN"]      # TASK_COMM_LEN, with the NUL
COMM_MAX = COMM_LEN - 1             # the longest command name, in bytes
PF_KTHREAD = DEFS["WD_PF_KTHREAD"]  # task flags bit of a kernel thread


class Key(ct.Structure):
    """struct wd_key."""
    _fields_ = [("id", ct.c_uint64), ("uid", ct.c_uint32), ("kind", ct.c_uint32)]


class Value(ct.Structure):
    """struct wd_value."""
    _fields_ = [("window", ct.c_uint64), ("allowed", ct.c_uint64),
                ("limited", ct.c_uint64), ("limited_windows", ct.c_uint64),
                ("comm", ct.c_char * COMM_LEN), ("members", ct.c_uint64),
                ("pid", ct.c_uint32), ("pad", ct.c_uint32),
                ("reported", ct.c_uint64)]


class Member(ct.Structure):
    """struct wd_member."""
    _fields_ = [("root", ct.c_uint32), ("uid", ct.c_uint32)]


class Proc(ct.Structure):
    """struct wd_proc."""
    _fields_ = [("key", ct.c_uint64), ("allowed", ct.c_uint64),
                ("limited", ct.c_uint64), ("comm", ct.c_char * COMM_LEN),
                ("key_uid", ct.c_uint32), ("key_kind", ct.c_uint32)]


class Stop(ct.Structure):
    """struct wd_stop."""
    _fields_ = [("state", ct.c_uint64), ("stop_ns", ct.c_uint64),
                ("stop_win", ct.c_uint32), ("by_pid", ct.c_uint32),
                ("by_code", ct.c_int32), ("by_comm", ct.c_char * COMM_LEN),
                ("pad", ct.c_uint32)]


class File(ct.Structure):
    """struct wd_file."""
    _fields_ = [("dev", ct.c_uint64), ("ino", ct.c_uint64)]


class Config(ct.Structure):
    """struct wd_config."""
    _fields_ = [("max_calls", ct.c_uint32), ("window_ms", ct.c_uint32)]


class Settings(ct.Structure):
    """struct wd_settings: what ethoswd (libbpf) sets in the probe's
    read-only data; watchdog.py passes the same as -D switches."""
    _fields_ = [("action", ct.c_uint32), ("key", ct.c_uint32),
                ("self_tgid", ct.c_uint32), ("guard_tgid", ct.c_uint32),
                ("targets", ct.c_uint8), ("comm_in", ct.c_uint8),
                ("comm_out", ct.c_uint8), ("exclude_exe", ct.c_uint8),
                ("count_fs", ct.c_uint8), ("count_files", ct.c_uint8),
                ("typed_file", ct.c_uint8), ("pad", ct.c_uint8),
                ("file_btf_id", ct.c_uint32)]


class Event(ct.Structure):
    """struct wd_event: a ring-buffer record of the limiter."""
    _fields_ = [("kind", ct.c_uint32), ("tgid", ct.c_uint32),
                ("window_start_ms", ct.c_uint32), ("calls", ct.c_uint32),
                ("key", ct.c_uint64),
                ("allowed", ct.c_uint64), ("limited", ct.c_uint64),
                ("limited_windows", ct.c_uint64), ("comm", ct.c_char * COMM_LEN),
                ("key_uid", ct.c_uint32), ("key_kind", ct.c_uint32),
                ("why", ct.c_uint32), ("by_pid", ct.c_uint32), ("by_code", ct.c_int32),
                ("by_comm", ct.c_char * COMM_LEN), ("pad2", ct.c_uint32)]


class Record(ct.LittleEndianStructure):
    """struct wd_record: one call sent by the recorder, and the record of a
    recording file (ethoswd/research/recording.py packs it with RECORD_FORMAT)."""
    _fields_ = [("t_ns", ct.c_uint64), ("tid", ct.c_uint32),
                ("tgid", ct.c_uint32), ("root", ct.c_uint32),
                ("uid", ct.c_uint32), ("cgroup", ct.c_uint64),
                ("magic", ct.c_uint32), ("listed", ct.c_uint8),
                ("call", ct.c_uint8), ("pad", ct.c_uint16)]


# struct.Struct format of a wd_record (little-endian, no padding: the
# members are naturally aligned), checked against Record by the tests.
RECORD_FORMAT = "<QIIIIQIBBH"

# Every struct of the header and its mirror (tests/unit/test_layout.py).
STRUCTS = {"wd_key": Key, "wd_value": Value, "wd_member": Member,
           "wd_proc": Proc, "wd_stop": Stop, "wd_file": File, "wd_config": Config,
           "wd_settings": Settings, "wd_event": Event, "wd_record": Record}
