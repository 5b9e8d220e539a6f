"""Recording files: every read-family call of the targets, for replay.

`watchdog.py record` and `sweep` write one; `replay` and `export` read it.
Pure Python (no BPF): unit-testable.  The layout, version 1:

    offset 0         magic  b"WDREC1\\n\\0"  (8 bytes)
    offset 8         records, back to back, each a struct wd_record of
                     probe/watchdog_map.h, little-endian, RECORD.size (40)
                     bytes: t_ns u64, tid u32, tgid u32, root u32, uid u32,
                     cgroup u64, magic u32, listed u8, call u8, pad u16
    end - 12 - N     metadata: N bytes of UTF-8 JSON (see Writer.close)
    end - 12         N as u32, then b"WDRECEND"

Records are written as the probe delivers them; the metadata trailer is
written last, so a file without it was cut short (the watchdog died) and
reads as `complete: false`.  Where the probe lost records (its ring buffer
was full) the front end writes a marker record with call == LOSS and the
number lost in `tid`; the trailer's `lost` is their sum.  Fields:

- t_ns: CLOCK_MONOTONIC ns at syscall entry (bpf_ktime_get_ns; the
  metadata's `mono_ns`/`wall` pair maps it to wall-clock time);
- tid, tgid: the thread and process that called (the process key);
- root: the target root the process descends from (the tree key; 0 for a
  system-wide recording);
- uid, cgroup: the real UID and the cgroup v2 ID (the uid and cgroup keys);
- magic: the filesystem magic of the file behind the fd (0: no open file);
- listed: the file is one of the listed files (metadata `files`: --file
  and the identity files of ethoswd.policy.IDENTITY_FILES);
- call: 0 read, 1 pread64, 2 readv, 3 preadv, 4 preadv2, 255 loss marker.
"""

import csv
import json
import os
import struct
from collections import namedtuple

from .abi import DEFS, RECORD_FORMAT
from .errors import SetupError

MAGIC = b"WDREC1\n\0"
END = b"WDRECEND"
VERSION = 1
RECORD = struct.Struct(RECORD_FORMAT)
FIELDS = ("t_ns", "tid", "tgid", "root", "uid", "cgroup", "magic", "listed",
          "call")
CALLS = ("read", "pread64", "readv", "preadv", "preadv2")
LOSS = DEFS["WD_REC_LOSS"]
Record = namedtuple("Record", FIELDS)
_TAIL = struct.Struct("<I8s")


class Writer:
    """Append records to a new recording file; close() writes the trailer."""

    def __init__(self, path):
        try:
            self.f = open(path, "wb")
        except OSError as e:
            raise SetupError("cannot write %s: %s" % (path, e.strerror)) from None
        self.path = path
        self.f.write(MAGIC)
        self.count = 0
        self.lost = 0

    def write_raw(self, chunk):
        """Records exactly as the probe sent them (a multiple of 40 bytes)."""
        self.f.write(chunk)
        self.count += len(chunk) // RECORD.size

    def loss(self, t_ns, lost):
        """Mark that `lost` records were lost before t_ns."""
        self.f.write(RECORD.pack(t_ns, min(lost, 0xFFFFFFFF), 0, 0, 0, 0, 0,
                                 0, LOSS, 0))
        self.lost += lost

    def close(self, meta):
        """Write the metadata trailer (meta plus counts and the schema)."""
        meta = dict(meta, version=VERSION, record_size=RECORD.size,
                    fields=list(FIELDS), calls=list(CALLS), records=self.count,
                    lost=self.lost)
        blob = json.dumps(meta, sort_keys=True).encode()
        self.f.write(blob)
        self.f.write(_TAIL.pack(len(blob), END))
        self.f.close()
        return meta


class Recording:
    """A recording file read back: .meta (dict), .records (list of
    Record, loss markers left out), .losses ([(t_ns, count)]),
    .complete (False if the trailer is missing)."""

    def __init__(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SetupError("cannot read %s: %s" % (path, e.strerror)) from None
        if data[:len(MAGIC)] != MAGIC:
            raise SetupError("%s is not a watchdog recording (bad magic)" % path)
        end = len(data)
        self.meta, self.complete = {}, False
        if end >= len(MAGIC) + _TAIL.size and data[-8:] == END:
            n, _ = _TAIL.unpack_from(data, end - _TAIL.size)
            start = end - _TAIL.size - n
            if start >= len(MAGIC):
                try:
                    self.meta = json.loads(data[start:end - _TAIL.size])
                    self.complete, end = True, start
                except ValueError:
                    pass
        if self.complete and self.meta.get("version") != VERSION:
            raise SetupError("%s: recording version %s, this watchdog reads %d"
                             % (path, self.meta.get("version"), VERSION))
        body = data[len(MAGIC):end]
        body = body[:len(body) - len(body) % RECORD.size]
        self.records, self.losses = [], []
        for rec in RECORD.iter_unpack(body):
            if rec[8] == LOSS:
                self.losses.append((rec[0], rec[1]))
            else:
                self.records.append(Record(*rec[:9]))
        self.path = path

    @property
    def lost(self):
        return sum(n for _, n in self.losses)

    def segments(self):
        """The sweep's segments (one per command run), or one segment
        covering the whole recording."""
        return self.meta.get("segments") or [
            {"name": os.path.basename(self.path), "class": "", "run": 1,
             "root": None, "start_ns": 0, "end_ns": 1 << 64}]


def segment_records(rec, seg):
    """Records of one segment: its root's calls within its time span."""
    root, lo, hi = seg.get("root"), seg["start_ns"], seg["end_ns"]
    return [r for r in rec.records if lo <= r.t_ns <= hi and
            (root is None or r.root == root)]


def export(rec, out, fmt):
    """Write the records (and loss markers) as CSV or JSON lines."""
    rows = sorted([r._asdict() for r in rec.records] +
                  [{"t_ns": t, "lost": n} for t, n in rec.losses],
                  key=lambda d: d["t_ns"])
    if fmt == "csv":
        w = csv.DictWriter(out, fieldnames=list(FIELDS) + ["lost"],
                           lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow(row)
        return
    for row in rows:
        out.write(json.dumps(row, sort_keys=True) + "\n")
