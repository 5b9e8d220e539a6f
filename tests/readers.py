"""Build, launch and read the reports of the test readers in tests/progs.

aggressive_reader hammers a read syscall from several threads in bursts;
normal_reader reads at a low, even rate.  Both write a report file whose
layout is documented in tests/progs/reader_report.h; parse_report() reads it
at any time: while the reader runs, while it is stopped, after it was killed.

    build()
    argv = aggressive_cmd(threads=8, reads=1000, report=path, wait=True)
    proc = launch(argv)          # returns once the reader printed "ready"
    ...attach the watchdog to proc.pid...
    go(proc)                     # SIGUSR1: start the first burst
    out, _ = proc.communicate()
    report = parse_report(path)  # report["totals"]["eperm"], report["bursts"][0], ...
"""

import fcntl
import os
import select
import signal
import struct
import subprocess
from pathlib import Path

PROGS_DIR = Path(__file__).resolve().parent / "progs"
BIN_DIR = PROGS_DIR / "bin"
AGGRESSIVE = BIN_DIR / "aggressive_reader"
NORMAL = BIN_DIR / "normal_reader"

MAGIC = b"WDREPT1\0"
VERSION = 1
PROGRAMS = {1: "aggressive", 2: "normal"}
VARIANTS = ("read", "pread", "readv", "preadv", "preadv2")
STATES = ("starting", "running", "done")
ODD_RESULT = -1  # first_other_errno when the odd outcome was not an errno

_HEADER = struct.Struct("<8s12I9Q")
_HEADER_FIELDS = (
    "magic", "version", "header_size", "burst_size", "log_entry_size", "pid",
    "program", "nthreads", "nbursts", "variant", "state", "bursts_started",
    "gap_ms", "reads_per_burst", "duration_ms", "log_capacity", "log_claimed",
    "total_ok", "total_eperm", "total_other", "file_size", "rate_per_sec",
)
_BURST = struct.Struct("<5QiI")
_LOG_ENTRY = struct.Struct("<QiI")
COUNTERS = ("ok", "eperm", "other")


class ReportError(ValueError):
    """The file is not a complete report of a supported version."""


class BuildError(RuntimeError):
    """make -C tests/progs failed; the message holds its output."""


def parse_report(path):
    """Parse a report file into a dict.

    Keys: the header fields (pid, nthreads, nbursts, bursts_started,
    reads_per_burst, duration_ms, gap_ms, rate_per_sec, log_capacity,
    log_claimed, version), "program", "variant" and "state" as names
    ("aggressive", "preadv", "running", ...), "bursts" (a list of dicts with
    ok, eperm, other, first_other_errno, t_start_ns, t_end_ns), "totals" (ok,
    eperm, other summed over the bursts: each read counted exactly once),
    "file_totals" (the header's running totals, which lag "totals" by at most
    one read per thread if the reader was killed), "log" (the complete log
    entries in slot order, dicts with t_ns, result, thread) and "log_dropped"
    (reads past log_capacity).
    """
    data = Path(path).read_bytes()
    if len(data) < _HEADER.size:
        raise ReportError(f"{path}: truncated: {len(data)} bytes, header needs {_HEADER.size}")
    h = dict(zip(_HEADER_FIELDS, _HEADER.unpack_from(data)))
    if h["magic"] == bytes(8):
        raise ReportError(f"{path}: report not initialised yet (magic is zero)")
    if h["magic"] != MAGIC:
        raise ReportError(f"{path}: bad magic {h['magic']!r}, expected {MAGIC!r}")
    if h["version"] != VERSION:
        raise ReportError(f"{path}: unsupported version {h['version']}, expected {VERSION}")
    sizes = (h["header_size"], h["burst_size"], h["log_entry_size"])
    if sizes != (_HEADER.size, _BURST.size, _LOG_ENTRY.size):
        raise ReportError(f"{path}: unexpected record sizes {sizes}")
    expected = _HEADER.size + h["nbursts"] * _BURST.size + h["log_capacity"] * _LOG_ENTRY.size
    if h["file_size"] != expected:
        raise ReportError(f"{path}: header says {h['file_size']} bytes, "
                          f"its layout needs {expected}")
    if len(data) < expected:
        raise ReportError(f"{path}: truncated: {len(data)} bytes, expected {expected}")
    try:
        program = PROGRAMS[h["program"]]
        variant = VARIANTS[h["variant"]]
        state = STATES[h["state"]]
    except (KeyError, IndexError):
        raise ReportError(f"{path}: bad program/variant/state "
                          f"{h['program']}/{h['variant']}/{h['state']}") from None

    bursts = []
    for i in range(h["nbursts"]):
        ok, eperm, other, t_start, t_end, first_errno, _ = _BURST.unpack_from(
            data, _HEADER.size + i * _BURST.size)
        bursts.append({"ok": ok, "eperm": eperm, "other": other,
                       "first_other_errno": first_errno,
                       "t_start_ns": t_start, "t_end_ns": t_end})

    log_offset = _HEADER.size + h["nbursts"] * _BURST.size
    log_end = log_offset + min(h["log_claimed"], h["log_capacity"]) * _LOG_ENTRY.size
    log = [{"t_ns": t_ns, "result": result, "thread": thread}
           for t_ns, result, thread in _LOG_ENTRY.iter_unpack(data[log_offset:log_end]) if t_ns]

    report = {k: v for k, v in h.items() if k not in ("magic", "program", "variant", "state")
              and not k.startswith("total_") and not k.endswith("_size")}
    report.update(
        program=program, variant=variant, state=state, bursts=bursts,
        totals={c: sum(b[c] for b in bursts) for c in COUNTERS},
        file_totals={c: h["total_" + c] for c in COUNTERS},
        log=log, log_dropped=max(0, h["log_claimed"] - h["log_capacity"]),
    )
    if state == "done" and report["totals"] != report["file_totals"]:
        raise ReportError(f"{path}: finished report with inconsistent totals: "
                          f"bursts {report['totals']} vs header {report['file_totals']}")
    return report


def parse_summary(text):
    """Return {"pid", "ok", "eperm", "other"} from the last `pid=P ok=N eperm=N other=N` line."""
    for line in reversed(text.splitlines()):
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if set(fields) == {"pid", "ok", "eperm", "other"}:
            return {k: int(v) for k, v in fields.items()}
    raise ValueError(f"no summary line in {text!r}")


def build():
    """Run make -C tests/progs (concurrent callers serialised by a lock on the
    Makefile); return BIN_DIR."""
    with open(PROGS_DIR / "Makefile") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = subprocess.run(["make", "-C", str(PROGS_DIR)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    if res.returncode:
        raise BuildError(f"make -C {PROGS_DIR} failed ({res.returncode}):\n{res.stdout}")
    return BIN_DIR


def _argv(binary, flags, opts):
    argv = [str(binary)]
    for name, value in opts.items():
        if name not in flags:
            raise TypeError(f"unknown option {name!r}; known: {', '.join(flags)}")
        if value is None or value is False:
            continue
        argv.append(flags[name])
        if value is not True:
            argv.append(str(value))
    return argv


_AGGRESSIVE_FLAGS = {"threads": "-t", "reads": "-n", "bursts": "-b", "gap_ms": "-g",
                     "variant": "-s", "file": "-f", "duration_ms": "-d", "report": "-o",
                     "log": "-L", "wait": "-w", "quiet": "-q", "name": "-N"}
_NORMAL_FLAGS = {"rate": "-r", "total_ms": "-D", "variant": "-s", "file": "-f",
                 "report": "-o", "log": "-L", "wait": "-w", "quiet": "-q", "name": "-N"}


def aggressive_cmd(**opts):
    """argv for aggressive_reader; options: threads, reads, bursts, gap_ms, variant,
    file, duration_ms, report, log, wait, quiet, name (None/False leave a flag out).
    name is the -N text: C escapes such as \\x1b or \\n give any byte but NUL."""
    return _argv(AGGRESSIVE, _AGGRESSIVE_FLAGS, opts)


def normal_cmd(**opts):
    """argv for normal_reader; options: rate, total_ms, variant, file, report, log,
    wait, quiet, name (None/False leave a flag out; name as for aggressive_cmd)."""
    return _argv(NORMAL, _NORMAL_FLAGS, opts)


def launch(argv, timeout=10.0, **popen_kw):
    """Start a reader with stdout piped (text); with -w, return once it printed "ready"."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, **popen_kw)
    if "-w" in argv:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if line != "ready\n":
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{argv[0]} did not get ready (got {line!r})")
    return proc


def go(proc):
    """Release a reader started with -w."""
    os.kill(proc.pid, signal.SIGUSR1)


# route_reader: one byte of a file, N times, by one route (tests/progs/route_reader.c).
ROUTE = BIN_DIR / "route_reader"
# pread is the read family's baseline; "+async" adds IOSQE_ASYNC (an io-wq worker reads).
# uring-batch submits all its reads with one io_uring_enter(); uring-sqpoll
# queues linked READ -> WRITE pairs for an SQPOLL ring's kernel thread.
ROUTES = ("pread", "sendfile", "splice", "copy-file-range", "uring-read",
          "uring-read+async", "uring-readv", "uring-read-fixed", "uring-splice",
          "uring-batch", "uring-sqpoll")
URING_ROUTES = tuple(r for r in ROUTES if r.startswith("uring-"))


def route_cmd(route, reads, file, label="route", only_pid=None, out=None):
    """argv for route_reader; only_pid: read only if it got that PID (-P);
    out: the file where uring-batch / uring-sqpoll put what they read
    (route_outcome)."""
    name, _, extra = route.partition("+")
    argv = [str(ROUTE), "-r", name, "-n", str(reads), "-f", str(file), "-l", label]
    return argv + (["-A"] if extra == "async" else []) + \
        (["-P", str(only_pid)] if only_pid else []) + (["-o", str(out)] if out else [])


def route_outcome(out, reads):
    """(reads that completed, bytes copied on by linked writes) from the -o
    file of uring-batch / uring-sqpoll: byte i is read i, byte reads + i
    its copy; a zero byte never arrived.  Readable after a SIGKILL."""
    data = Path(out).read_bytes()
    return (sum(1 for b in data[:reads] if b),
            sum(1 for b in data[reads:2 * reads] if b))


def route_source(directory):
    """A small file for route_reader to read, in `directory`."""
    path = Path(directory) / "source"
    path.write_bytes(b"route\n")
    return path


def route_results(lines):
    """{label: {route, pid, setup, ok, eperm, other, first_other}} from
    route_reader's result lines (other lines are ignored)."""
    out = {}
    for line in lines:
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "label" in fields and "setup" in fields:
            label = fields.pop("label")
            out[label] = {k: v if k == "route" else int(v) for k, v in fields.items()}
    return out


def jb_target_start(path=None, mode="readings", n=1, settle=0.3):
    """Start tests/progs/jb_target (or a copy at `path`), waiting on its
    stdin for "go" once it is past its calibration (`settle` seconds)."""
    import time
    p = subprocess.Popen([str(path or BIN_DIR / "jb_target"), mode, str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    time.sleep(settle)
    assert p.poll() is None, "jb_target exited early: rc %s" % p.returncode
    return p


def jb_target_go(p, timeout=120):
    """Let a jb_target read; {source: values} of its readings."""
    import json
    out, _ = p.communicate("go\n", timeout=timeout)
    assert p.returncode == 0, "jb_target rc %s" % p.returncode
    got = {}
    for line in out.splitlines():
        rec = json.loads(line)
        assert "error" not in rec, rec
        got[rec["source"]] = rec["values"]
    return got
