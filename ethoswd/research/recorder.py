"""`watchdog.py record`: write every read-family call of the targets to a
recording file (ethoswd/research/recording.py), monitor only.

    watchdog.py record -o run.wdrec [policy flags] -- CMD
    watchdog.py record -o run.wdrec -p PID [-p PID...]
    watchdog.py record -o all.wdrec --duration 10      # system-wide

The probe is the watchdog's own, compiled with -DWD_RECORD
(probe/recorder.h): the same caller filter as the limiter (targets,
--comm, --exclude-comm, --exclude-exe), then one record per call into a
large ring buffer, with every budget key and the file's class.  Nothing
is counted or enforced.  Records the ring could not take are counted per
CPU; the front end writes a loss marker into the file wherever that count
grew, reports it, and stores the total in the trailer.

The Recorder class is shared with `sweep` (ethoswd/research/sweep.py), which
attaches it once and adds each command's process as a target root.
"""

import ctypes as ct
import mmap
import os
import select
import signal
import struct
import time
from types import SimpleNamespace

from .. import cli, environment, features
from ..abi import DEFS
from ..errors import SetupError
from ..policy import IDENTITY_FILES, Policy, file_id
from .recording import Writer
from ..report import Reporter
from ..safetext import escape, one_line
from ..session import run_loop

FLUSH_BYTES = 1 << 20
# The BPF ring buffer's user-space ABI (include/uapi/linux/bpf.h).
RB_BUSY, RB_DISCARD, RB_HDR = 1 << 31, 1 << 30, 8
SPAN_MAX = 8 << 20


class RingReader:
    """Read a BPF ring buffer by mapping it, not through a callback per
    record: BCC's ctypes callback costs ~20 us per record on the
    development machine (about 50 000 records/s), far below the 150 000
    calls/s a recording must keep up with.

    The kernel maps the consumer position (one writable page), then the
    producer position (one page) and the data area twice in a row, so a
    record that wraps is still contiguous.  Each record has an 8-byte
    header (length, with busy and discard bits); records are 8-aligned.
    read() takes every committed record up to the first one still busy."""

    def __init__(self, map_fd, data_size):
        page = mmap.PAGESIZE
        self.size, self.mask, self.page = data_size, data_size - 1, page
        self.cons = mmap.mmap(map_fd, page, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self.prod = mmap.mmap(map_fd, page + 2 * data_size, mmap.MAP_SHARED,
                              mmap.PROT_READ, offset=page)
        self.poller = select.epoll()
        self.poller.register(map_fd, select.EPOLLIN)

    def wait(self, timeout_s):
        self.poller.poll(timeout_s)

    def read(self):
        """The payloads of the committed records, joined: bytes."""
        cons, = struct.unpack_from("<Q", self.cons, 0)
        prod, = struct.unpack_from("<Q", self.prod, 0)
        if cons == prod:
            return b""
        start = self.page + (cons & self.mask)
        span = self.prod[start:start + min(prod - cons, SPAN_MAX)]
        rec = 40 + RB_HDR      # struct wd_record (a multiple of 8)
        whole = len(span) - len(span) % rec
        heads = memoryview(span)[:whole].cast("I")[0::rec // 4]
        if whole and not any(h != 40 for h in heads):
            # Fast path: every record committed and ours: strip headers.
            out = b"".join([span[i + RB_HDR:i + rec] for i in range(0, whole, rec)])
            used = whole
        else:
            parts, used = [], 0
            while used + RB_HDR <= len(span):
                head, = struct.unpack_from("<I", span, used)
                if head & RB_BUSY:
                    break
                size = head & ~(RB_BUSY | RB_DISCARD)
                if not head & RB_DISCARD:
                    parts.append(span[used + RB_HDR:used + RB_HDR + size])
                used += (size + RB_HDR + 7) & ~7
            out = b"".join(parts)
        self.cons[0:8] = struct.pack("<Q", cons + used)
        return out

    def close(self):
        self.poller.close()
        self.cons.close()
        self.prod.close()


def listed_files(policy):
    """The files whose reads a record marks as listed: --file and the
    identity files (ethoswd.policy.IDENTITY_FILES) that exist."""
    files = {(f.dev, f.ino): f for f in policy.files}
    for path in IDENTITY_FILES:
        if os.path.isfile(path):
            f = file_id("--file", path)
            files.setdefault((f.dev, f.ino), f)
    return list(files.values())


class Recorder:
    """The recording probe: compile, attach, and pump records to a Writer."""

    def __init__(self, bcc, feats, policy, writer, targets=(), filter_targets=False,
                 comms=(), exclude_comm=(), map_size=65536):
        from ..probe import Probe, cflags
        self.writer = writer
        self.files = listed_files(policy)
        # Tree key with targets: wd_caller() then finds each call's root.
        key = "tree" if (targets or filter_targets) else "process"
        self.policy = Policy("record", 1, 1, "all", None, self.files, key,
                             policy.exclude_exe, [])
        offsets = feats.defines("tracepoint", SimpleNamespace(
            needs_btf=True, counts_all=False, exclude_exe=policy.exclude_exe))
        flags = cflags("tracepoint", "monitor", os.getpid(),
                       bool(targets or filter_targets), comms, exclude_comm,
                       map_size, offsets, self.policy) + ["-DWD_RECORD"]
        try:
            self.probe = Probe(bcc, flags)
            self.probe.configure(1, 1, targets, comms, exclude_comm, self.policy)
            self.probe.attach("tracepoint")
            self.probe.drop_exited(targets)
        except Exception as e:  # BCC raises bare Exceptions
            last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise SetupError("could not build or attach the recorder: %s" % last) from None
        self._chunks, self._size = [], 0
        self._lost_seen = 0
        self._lost = self.probe.bpf["wd_rec_lost"]
        self.ring = RingReader(self.probe.bpf["wd_records"].map_fd,
                               DEFS["WD_RECORD_PAGES"] * mmap.PAGESIZE)

    def _take(self):
        data = self.ring.read()
        if data:
            self._chunks.append(data)
            self._size += len(data)
        return len(data)

    def _flush(self):
        if self._chunks:
            self.writer.write_raw(b"".join(self._chunks))
            self._chunks, self._size = [], 0

    def add_target(self, tgid):
        self.probe.add_target(tgid)

    def check_loss(self):
        """Records lost since the last check (a marker goes in the file)."""
        total = sum(self._lost[ct.c_int(0)])
        new = total - self._lost_seen
        if new:
            self._flush()
            self.writer.loss(time.monotonic_ns(), new)
            self._lost_seen = total
        return new

    def pump(self, timeout_ms):
        """Wait up to timeout_ms for records and take all that are there."""
        if not self._take():
            self.ring.wait(timeout_ms / 1000.0)
        while self._take():
            if self._size >= FLUSH_BYTES:
                self._flush()
        if self._size >= FLUSH_BYTES:
            self._flush()

    def drain(self):
        """Take every record still in the ring, then check for losses."""
        while self._take():
            pass
        self._flush()
        return self.check_loss()

    def close(self):
        self.ring.close()
        self.probe.close()


def _record_args(p):
    p.prog = "watchdog.py record"
    p.usage = ("%(prog)s -o FILE [policy flags] "
               "(-- CMD [ARGS...] | -p PID ... | --duration SECONDS)")
    p.description = ("Record every read-family call of the targets (monitor "
                     "only) for `watchdog.py replay` and `sweep`; the file "
                     "format is in docs/research.md.")
    p.epilog = None
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the recording file to write")


def check_monitor(opts, what):
    """A recording never enforces: refuse enforcing flags."""
    if opts.action not in ("auto", "monitor"):
        raise SetupError("%s only monitors: --action %s is not allowed"
                         % (what, opts.action))
    if opts.backend not in ("auto", "tracepoint"):
        raise SetupError("%s uses the tracepoint backend: --backend %s is not "
                         "allowed" % (what, opts.backend))


def prepare(rep):
    """Root, mounts, features, BCC, headers: (bcc, features)."""
    environment.require_root()
    for note in environment.mount_pseudo_filesystems():
        rep.info(note)
    feats = features.Features()
    problem = feats.backend_problem("tracepoint")
    if problem:
        raise SetupError("the recorder needs syscall tracepoints: %s" % problem)
    bcc = environment.import_bcc()
    environment.require_headers()
    return bcc, feats


def base_meta(policy, files):
    return {"wall": time.time(), "mono_ns": time.monotonic_ns(),
            "host": os.uname().nodename, "kernel": os.uname().release,
            "policy": policy.as_dict(), "files": [f.as_dict() for f in files]}


def main(argv, launched=None):
    """record: returns the command's status (-- CMD), 0, or 2 on bad input."""
    from ..launcher import GatedChild
    child = rec = None
    stop = []
    try:
        opts = cli.parse(argv, extra=_record_args)
        check_monitor(opts, "record")
        rep = Reporter(as_json=opts.json)
        bcc, feats = prepare(rep)
        if opts.command:
            # Before the file: a command that cannot run leaves nothing.
            child = GatedChild(opts.command, opts.user)
        writer = Writer(opts.output)
        targets = opts.pid + ([child.pid] if child else [])
        for pid in opts.pid:
            environment.check_target_pid(pid)
        rec = Recorder(bcc, feats, opts.policy, writer, targets, comms=opts.comm,
                       exclude_comm=opts.exclude_comm, map_size=opts.map_size)
        meta = base_meta(opts.policy, rec.files)
        meta.update(targets=targets, command=opts.command,
                    user=opts.user.as_dict() if opts.user else None)
        what = ("command '%s' (pid %d)%s" % (escape(" ".join(opts.command)), child.pid,
                                             " as user %s" % escape(opts.user.name)
                                             if opts.user else "")
                if child else "pid %s" % ",".join(map(str, opts.pid))
                if opts.pid else "every process")
        rep.info("recording read-family calls of %s to %s (monitor only)"
                 % (what, escape(opts.output)), event="start", mode="record",
                 output=opts.output, targets=targets)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda s, _f: stop.append(signal.Signals(s).name))
        t0 = time.monotonic()
        if child:
            child.release()

        def tick(_now):
            lost = rec.check_loss()
            if lost:
                rep.warn("records_lost: %d more (%d in all): the ring buffer "
                         "was full; the file marks where" % (lost, rec.writer.lost),
                         counter="records_lost", count=rec.writer.lost)
            rep.emit({"event": "interval", "records": writer.count,
                      "lost": writer.lost},
                     None if opts.json else
                     "%s recorded %d calls, lost %d" % (
                         time.strftime("%H:%M:%S"), writer.count, writer.lost))

        reason = run_loop(opts, child, lambda _tick, _end: rec.pump(50), tick,
                          lambda: stop[0] if stop else None)
        rec.drain()
        rec.close()
        rec = None
        secs = time.monotonic() - t0
        meta.update(seconds=round(secs, 3), stop=reason)
        meta = writer.close(meta)
        rate = writer.count / secs if secs > 0 else 0
        rep.emit({"event": "summary", "mode": "record", "output": opts.output,
                  "records": writer.count, "lost": writer.lost,
                  "seconds": round(secs, 3), "calls_per_s": round(rate)},
                 "recorded %d calls in %.2f s (%d/s), lost %d%s: %s"
                 % (writer.count, secs, rate, writer.lost,
                    " (marked in the file)" if writer.lost else "",
                    escape(opts.output)))
        rep.info("stopped: %s; all programs detached" % reason)
        return child.status if child else 0
    except SetupError as e:
        import sys
        sys.stderr.write("watchdog: error: %s\n" % one_line(str(e)))
        return e.exit_status
    finally:
        if rec is not None:
            rec.close()
        if child is not None:
            child.abort()
