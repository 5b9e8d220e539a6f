"""The layout and constants shared with the C probe, read from
probe/watchdog_map.h (the one source of truth for both sides).

DEFS holds every numeric #define of that header; the ctypes mirrors of
its structs live in probe.py and are checked against the header by
tests/unit/test_layout.py.
"""

import os
import re

MAP_H = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "probe", "watchdog_map.h")
COMM_MAX = 15   # TASK_COMM_LEN 16 minus the NUL


def map_defines(path=MAP_H):
    """The numeric #defines of probe/watchdog_map.h."""
    out = {}
    with open(path) as f:
        for m in re.finditer(r"^#define\s+(WD_\w+)\s+(0x[0-9a-fA-F]+|\d+)(?:U?LL|U)?\b",
                             f.read(), re.M):
            out[m.group(1)] = int(m.group(2), 0)
    return out


DEFS = map_defines()
