"""What the BPF modes of --jitter cover, and which mode a run gets.

No BPF here (unit-testable).  The coverage table lives in
probe/jitter_cover.h, which src/jitter_bpf_report.c compiles; this module
reads its string literals, so both front ends print the same words.

choose_via() picks the mode of a --jitter run from --jitter-via, the
targets and whether this kernel loads bpf_probe_write_user:

  launcher  -- CMD (auto): ethos-clockd mediates the command's tree
  write     the kernel lets BPF write user memory: values rewritten
  quantize  it does not: readers held to the next switch point (grains
            of at most 100 us: a hold never lasts longer than a grain)
"""

import os
import re

from .abi import map_defines
from .errors import SetupError

PROBE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "probe")
COVER_H = os.path.join(PROBE_DIR, "jitter_cover.h")
DEFS = map_defines(os.path.join(PROBE_DIR, "jitter_bpf.h"))
SPIN_MAX_NS = DEFS["WD_JB_SPIN_MAX_NS"]

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(-?\d+)|([{},;])')


def _c_strings(text):
    """Tokens of C text: str (adjacent literals joined), int, or '{', '}', ','."""
    out, joining = [], False
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            s = m.group(1).encode().decode("unicode_escape")
            if joining:
                out[-1] += s
            else:
                out.append(s)
            joining = True
            continue
        joining = False
        out.append(int(m.group(2)) if m.group(2) is not None else m.group(3))
    return out


def load_rows(path=COVER_H):
    """([(source, w_status, w_how, q_status, q_how, uprobe)], no-uprobes text)."""
    with open(path) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    no_up = _c_strings(re.search(r"#define WD_JB_NO_UPROBES(.*?)\n\n", text, re.S).group(1))[0]
    table = text[text.index("wd_jb_rows[] = {") + len("wd_jb_rows[] = "):]
    toks = _c_strings(table[:table.index("};") + 2])
    rows, row = [], None
    for t in toks[1:]:
        if t == "{":
            row = []
        elif t == "}" and row is not None:
            rows.append(tuple(row))
            row = None
        elif row is not None and t != ",":
            row.append(t)
    return rows, no_up


ROWS, NO_UPROBES = load_rows()


def rows_for(via, system_wide):
    """[(source, status, how)] of a BPF mode ("write" or "quantize")."""
    out = []
    for source, w_st, w_how, q_st, q_how, uprobe in ROWS:
        status, how = (w_st, w_how) if via == "write" else (q_st, q_how)
        if not status:
            continue
        if uprobe and system_wide and status != "out of reach":
            status, how = "out of reach", NO_UPROBES
        out.append((source, status, how))
    return out


def rows_json(rows):
    return [{"source": s, "status": st, "how": how} for s, st, how in rows]


def _us(ns):
    return "%dus" % (ns // 1000)


def check_via(grain_ns, mode, via, command):
    """The refusals that need no kernel: SetupError, or None."""
    if via == "launcher" and not command:
        raise SetupError("--jitter-via launcher needs -- CMD: the launcher mediates "
                         "only a command it starts")
    holds = via == "quantize" or (via == "write" and mode == "pause")
    if holds and grain_ns > SPIN_MAX_NS:
        raise SetupError("--jitter %s with --jitter-via %s%s: a reader is held at most "
                         "%s a read in a BPF mode: give a grain of at most %s"
                         % (_us(grain_ns), via,
                            " and --jitter-mode pause" if via == "write" else "",
                            _us(SPIN_MAX_NS), _us(SPIN_MAX_NS)))


def choose_via(grain_ns, mode, via, command, write_ok, write_detail):
    """(via, why) for a --jitter run; SetupError for an impossible choice.
    write_ok/write_detail: whether bpf_probe_write_user loads here."""
    check_via(grain_ns, mode, via, command)
    if via == "launcher" or (via == "auto" and command):
        return "launcher", ("-- CMD: ethos-clockd mediates the command's tree"
                            if via == "auto" else "--jitter-via launcher")
    if via == "write":
        if not write_ok:
            raise SetupError("--jitter-via write: this kernel refuses "
                             "bpf_probe_write_user (%s); use --jitter-via quantize"
                             % write_detail)
        return "write", "--jitter-via write"
    if via == "quantize":
        return "quantize", "--jitter-via quantize"
    if write_ok:
        how = "write", "auto: the kernel allows bpf_probe_write_user (%s)" % write_detail
        check_via(grain_ns, mode, "write", command)
        return how
    if grain_ns > SPIN_MAX_NS:
        raise SetupError("--jitter %s: this kernel refuses bpf_probe_write_user (%s), and "
                         "quantize mode holds a reader at most %s a read: give a grain of "
                         "at most %s" % (_us(grain_ns), write_detail, _us(SPIN_MAX_NS),
                                         _us(SPIN_MAX_NS)))
    return "quantize", ("auto: the kernel refuses bpf_probe_write_user (%s)"
                        % write_detail)


def describe_targets(pids, comms, command_pid):
    """The jitter targets line's subject and what reaches them."""
    if not pids and not comms and not command_pid:
        return ("every process: system calls only (a uprobe on every process would add "
                "about 13 us to each of its clock reads)")
    what = []
    if command_pid:
        what.append("command (pid %d) and its children" % command_pid)
    if pids:
        what.append("pid %s and their children" % ",".join(map(str, pids)))
    if comms:
        what.append("comm %s" % ",".join(comms))
    return ("%s: system calls from the start (a new process: from its fork), libc's "
            "clock_gettime once its uprobe is attached" % "; ".join(what))


def features_lines(write_ok, write_detail):
    """--probe-features: the BPF modes' part of the JITTER block."""
    out = ["  BPF modes (-p, --comm, system-wide; --jitter-via write|quantize):",
           "    write: %s (%s)" % ("available" if write_ok else "refused", write_detail),
           "    quantize: available (grains up to %s)" % _us(SPIN_MAX_NS)]
    for via in ("write", "quantize"):
        out.append("  %s mode:" % via)
        out += ["    %s: %s (%s)" % r for r in rows_for(via, False)]
    return out


def features_json(write_ok, write_detail):
    return {"write": {"available": write_ok, "detail": write_detail},
            "quantize": {"available": True, "max_grain_ns": SPIN_MAX_NS},
            "rows": {via: rows_json(rows_for(via, False)) for via in ("write", "quantize")}}
