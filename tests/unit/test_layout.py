"""The ctypes mirror of struct wd_event matches probe/watchdog_map.h."""

import ctypes as ct
import os
import re

from ethoswd.cli import MAP_H
from ethoswd.probe import Event, source_text

SIZES = {"__u32": 4, "__u64": 8, "char": 1}


def _struct_fields(name):
    with open(MAP_H) as f:
        text = f.read()
    body = re.search(r"struct %s \{(.*?)\};" % name, text, re.S).group(1)
    fields = []
    for m in re.finditer(r"^\s*(__u32|__u64|char)\s+(\w+)(?:\[(\d+)\])?;", body, re.M):
        fields.append((m.group(2), SIZES[m.group(1)] * int(m.group(3) or 1)))
    return fields


def test_event_struct_matches_header():
    header = _struct_fields("wd_event")
    mirror = [(name, ct.sizeof(typ)) for name, typ in Event._fields_]
    assert header == mirror


def test_source_text_inlines_local_headers_once():
    text = source_text()
    assert '#include "' not in text
    assert text.count("#define WATCHDOG_MAP_H") == 1
    assert "static __always_inline int wd_charge(struct wd_caller *c)" in text
    assert os.path.basename(MAP_H) == "watchdog_map.h"
