"""The ctypes mirrors of ethoswd/abi.py match probe/watchdog_map.h as the
C compiler lays it out, and the Python side takes the header's constants."""

import ctypes as ct
import os
import re
import shutil
import struct
import subprocess

import pytest

from ethoswd import abi, environment
from ethoswd.abi import DEFS, MAP_H, STRUCTS
from ethoswd.probe import source_text
from ethoswd.research import recording


def _header_structs():
    with open(MAP_H) as f:
        return re.findall(r"^struct (\w+) \{", f.read(), re.M)


def _header_members(name):
    with open(MAP_H) as f:
        body = re.search(r"^struct %s \{(.*?)^\};" % name, f.read(), re.S | re.M).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return re.findall(r"^\s*[\w ]+?\s(\w+)(?:\[\w+\])?;", body, re.M)


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    """{struct: (sizeof, [(member, offsetof, sizeof)])} as gcc sees them."""
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to check the layout (./install.sh --tests installs it)"
    lines = []
    for name in STRUCTS:
        lines.append('\tprintf("S %s %%zu\\n", sizeof(struct %s));' % (name, name))
        for m in _header_members(name):
            lines.append('\tprintf("M %s %s %%zu %%zu\\n", offsetof(struct %s, %s), '
                         'sizeof(((struct %s *)0)->%s));' % (name, m, name, m, name, m))
    src = ("#include <stddef.h>\n#include <stdio.h>\n#include <linux/types.h>\n"
           '#include "%s"\nint main(void)\n{\n%s\n\treturn 0;\n}\n'
           % (MAP_H, "\n".join(lines)))
    d = tmp_path_factory.mktemp("layout")
    (d / "layout.c").write_text(src)
    build = subprocess.run([gcc, "-Wall", "-Werror", "-o", str(d / "layout"),
                            str(d / "layout.c")], capture_output=True, text=True)
    assert build.returncode == 0, "gcc failed on the header:\n" + build.stderr
    out = subprocess.run([str(d / "layout")], check=True, capture_output=True,
                         text=True).stdout
    layout = {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "S":
            layout[f[1]] = (int(f[2]), [])
        else:
            layout[f[1]][1].append((f[2], int(f[3]), int(f[4])))
    return layout


def test_every_header_struct_has_a_mirror():
    assert sorted(_header_structs()) == sorted(STRUCTS)


@pytest.mark.parametrize("name", sorted(STRUCTS))
def test_mirror_matches_gcc(name, c_layout):
    mirror = STRUCTS[name]
    size, members = c_layout[name]
    assert ct.sizeof(mirror) == size
    assert [(f, getattr(mirror, f).offset, getattr(mirror, f).size)
            for f, _ in mirror._fields_] == members


def test_record_format_matches_mirror():
    fmt = abi.RECORD_FORMAT
    assert recording.RECORD.size == ct.sizeof(abi.Record)
    offsets = [struct.calcsize(fmt[:i + 1]) - struct.calcsize(fmt[i])
               for i in range(1, len(fmt))]
    assert offsets == [getattr(abi.Record, f).offset for f, _ in abi.Record._fields_]


def test_constants_come_from_the_header():
    assert abi.COMM_LEN == abi.DEFS["WD_COMM_LEN"] == 16
    assert abi.COMM_MAX == 15
    assert environment.PF_KTHREAD == abi.DEFS["WD_PF_KTHREAD"]
    probe_dir = os.path.dirname(MAP_H)
    for name in os.listdir(probe_dir):
        with open(os.path.join(probe_dir, name)) as f:
            text = f.read()
        # Defined once, in the header; the probe uses the names.
        if name != "watchdog_map.h":
            assert "#define WD_COMM_LEN" not in text and "#define WD_PF_KTHREAD" not in text
            assert not re.search(r"\[16\]", text), name


def test_source_text_inlines_local_headers_once():
    text = source_text()
    assert '#include "' not in text
    assert text.count("#define WATCHDOG_MAP_H") == 1
    assert "static __always_inline int wd_charge(struct wd_caller *c)" in text
    assert os.path.basename(MAP_H) == "watchdog_map.h"


def test_syscall_numbers_match_the_kernel_headers():
    """WD_NR_* (watchdog_map.h, the one copy) are x86-64's syscall numbers."""
    path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
    with open(path) as f:
        nr = dict(re.findall(r"#define __NR_(\w+) (\d+)", f.read()))
    names = {"READ": "read", "PREAD64": "pread64", "READV": "readv",
             "SENDFILE": "sendfile", "SPLICE": "splice", "PREADV": "preadv",
             "COPY_FILE_RANGE": "copy_file_range", "PREADV2": "preadv2",
             "IO_URING_ENTER": "io_uring_enter"}
    ours = {k[6:]: v for k, v in DEFS.items() if k.startswith("WD_NR_")}
    assert set(ours) == set(names)
    for k, sysname in names.items():
        assert ours[k] == int(nr[sysname]), k


def test_every_numeric_define_of_the_header_is_in_defs():
    """abi.DEFS parses watchdog_map.h with a regex; the C preprocessor is
    the judge: every WD_ macro it expands to a plain number is in DEFS
    with that value (a reformatted #define once hid two of them)."""
    out = subprocess.run(["gcc", "-dM", "-E", "-include", "linux/types.h", MAP_H],
                         capture_output=True, text=True, check=True).stdout
    want = {}
    for m in re.finditer(r"^#define (WD_\w+) (0x[0-9a-fA-F]+|\d+)(?:U?LL|U)?$", out, re.M):
        want[m.group(1)] = int(m.group(2), 0)
    assert len(want) > 40
    assert {k: DEFS.get(k) for k in want} == want
