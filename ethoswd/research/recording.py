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

Reading streams the records a chunk at a time (Recording.chunks), so its
memory does not grow with the file.  What is read is checked: a regular
file (not a FIFO or a device), a trailer that is a JSON object whose
fields have the types Writer writes (check_meta), and records that are
wd_records (pad 0, listed 0 or 1, call a WD_REC_*: random bytes after
the magic fail at once), as many as the trailer says.  Anything else is
one SetupError line naming the file and the problem.
"""

import csv
import json
import os
import stat
import struct
from collections import namedtuple

from ..abi import DEFS, RECORD_FORMAT
from ..errors import SetupError
from ..policy import KEYS, parse_count

MAGIC = b"WDREC1\n\0"
END = b"WDRECEND"
VERSION = 1
RECORD = struct.Struct(RECORD_FORMAT)
FIELDS = ("t_ns", "tid", "tgid", "root", "uid", "cgroup", "magic", "listed",
          "call")
CALLS = ("read", "pread64", "readv", "preadv", "preadv2")
LOSS = DEFS["WD_REC_LOSS"]
Record = namedtuple("Record", FIELDS)
# Indices of the fields in a record tuple (a Record or a raw tuple).
T_NS, TID, TGID, ROOT, UID, CGROUP, MAGIC_NR, LISTED, CALL = range(9)
_TAIL = struct.Struct("<I8s")
CHUNK_RECORDS = 1 << 15          # records per read: 1.25 MiB
TRAILER_MAX = 64 << 20           # a sweep's trailer is a few hundred kB
_VALID_CALLS = bytes(range(len(CALLS))) + bytes([LOSS])


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


# -- the trailer --------------------------------------------------------------
def _whole(v, lo=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _show(v):
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


# Trailer fields the readers use: (name, test, what it must be).
META_FIELDS = (
    ("version", _whole, "a whole number"),
    ("record_size", _whole, "a whole number"),
    ("records", _whole, "a whole number"),
    ("lost", _whole, "a whole number"),
    ("policy", lambda v: isinstance(v, dict), "an object"),
    ("segments", lambda v: isinstance(v, list), "a list"),
    ("targets", lambda v: isinstance(v, list) and all(_whole(t) for t in v),
     "a list of PIDs"),
    ("host", lambda v: isinstance(v, str), "a string"),
    ("kernel", lambda v: isinstance(v, str), "a string"),
)
SEGMENT_FIELDS = (
    ("name", lambda v: isinstance(v, str), "a string"),
    ("class", lambda v: isinstance(v, str), "a string"),
    ("run", _whole, "a whole number"),
    ("root", lambda v: v is None or _whole(v), "a PID or null"),
    ("start_ns", _whole, "a whole number"),
    ("end_ns", _whole, "a whole number"),
    ("status", lambda v: v is None or isinstance(v, int), "a whole number or null"),
    ("seconds", _number, "a number"),
)


def _check_fields(path, where, obj, fields, required=()):
    for name, ok, what in fields:
        if name not in obj:
            if name in required:
                raise SetupError("%s: the trailer has no %s%s: the file is damaged"
                                 % (path, where, name))
            continue
        if not ok(obj[name]):
            raise SetupError("%s: trailer field %s%s must be %s, not %s: the file is "
                             "damaged" % (path, where, name, what, _show(obj[name])))


def check_meta(path, meta):
    """SetupError unless meta is a trailer this watchdog reads."""
    if not isinstance(meta, dict):
        kind = {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
            type(meta), "number")
        raise SetupError("%s: the trailer is a JSON %s, not an object: the file is "
                         "damaged" % (path, kind))
    _check_fields(path, "", meta, META_FIELDS, required=("version", "record_size"))
    if meta["version"] != VERSION:
        raise SetupError("%s: recording version %d, this watchdog reads version %d"
                         % (path, meta["version"], VERSION))
    if meta["record_size"] != RECORD.size:
        raise SetupError("%s: records of %d bytes, this watchdog reads %d-byte records"
                         % (path, meta["record_size"], RECORD.size))
    pol = meta.get("policy", {})
    if "key" in pol and pol["key"] not in KEYS:
        raise SetupError("%s: trailer field policy.key must be one of %s, not %s: the "
                         "file is damaged" % (path, "|".join(KEYS), _show(pol["key"])))
    if "count" in pol:
        try:
            if not isinstance(pol["count"], str):
                raise SetupError("must be a string")
            parse_count(pol["count"])
        except SetupError as e:
            raise SetupError("%s: trailer field policy.count %s: %s" % (
                path, _show(pol["count"]), e)) from None
    for i, seg in enumerate(meta.get("segments", []), 1):
        if not isinstance(seg, dict):
            raise SetupError("%s: trailer field segments: segment %d must be an object, "
                             "not %s: the file is damaged" % (path, i, _show(seg)))
        _check_fields(path, "segments[%d]." % i, seg, SEGMENT_FIELDS,
                      required=("name", "class", "run", "root", "start_ns", "end_ns"))


def open_regular(path):
    """A regular file opened for reading; SetupError (one line) for
    anything else: a FIFO or a device would block or never end."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise SetupError("cannot read %s: %s" % (path, e.strerror)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise SetupError("%s is not a regular file: give a recording file "
                         "(watchdog.py record -o FILE)" % path)
    return os.fdopen(fd, "rb")


# -- reading ------------------------------------------------------------------
class Recording:
    """A recording file, checked and read back in chunks: .meta (dict),
    .complete (False if the trailer is missing), .slots (records and loss
    markers in the file).  chunks() streams the records; after one whole
    pass .count (records) and .lost are known.  .records is every record
    as a list: for tests and small files only."""

    def __init__(self, path):
        self.path = path
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(len(MAGIC)) != MAGIC:
                raise SetupError("%s is not a watchdog recording (bad magic)" % path)
            self.meta, self.complete, body_end = {}, False, size
            if size >= len(MAGIC) + _TAIL.size:
                f.seek(size - _TAIL.size)
                n, end = _TAIL.unpack(f.read(_TAIL.size))
                if end == END:
                    start = size - _TAIL.size - n
                    if n > TRAILER_MAX or start < len(MAGIC):
                        raise SetupError("%s: a trailer of %d bytes does not fit the "
                                         "file: the file is damaged" % (path, n))
                    f.seek(start)
                    self.meta = self._parse(f.read(n))
                    self.complete, body_end = True, start
        body = body_end - len(MAGIC)
        if self.complete and body % RECORD.size:
            raise SetupError("%s: %d bytes of records are not whole %d-byte records: "
                             "the file is damaged" % (path, body, RECORD.size))
        # A file cut short may end inside a record: that part is left out.
        self.slots = body // RECORD.size
        self.count = self._lost = None
        self.late = None        # set by a replay: records out of time order left out
        self._records = None

    def _parse(self, blob):
        try:
            meta = json.loads(blob)
        except (ValueError, RecursionError):
            raise SetupError("%s: the trailer is not valid JSON: the file is damaged"
                             % self.path) from None
        check_meta(self.path, meta)
        return meta

    def _check(self, chunk, first):
        """SetupError unless every record of chunk is a wd_record."""
        for off, allowed, what in ((37, _VALID_CALLS, "call"), (36, b"\0\1", "listed"),
                                   (38, b"\0", "pad"), (39, b"\0", "pad")):
            col = chunk[off::RECORD.size]
            if col.translate(None, allowed):        # a byte not allowed is left
                i = next(i for i, c in enumerate(col) if c not in allowed)
                raise SetupError("%s: record %d (byte %d) is not a wd_record (%s %d): "
                                 "the file is damaged or not a recording" % (
                                     self.path, first + i + 1,
                                     len(MAGIC) + (first + i) * RECORD.size, what, col[i]))

    def chunks(self, markers=True):
        """Lists of record tuples (t_ns, ..., call, pad), in file order,
        with the loss markers (call LOSS, the count in tid) unless
        markers is False."""
        count = lost = 0
        with open_regular(self.path) as f:
            f.seek(len(MAGIC))
            done = 0
            while done < self.slots:
                want = min(CHUNK_RECORDS, self.slots - done)
                chunk = f.read(want * RECORD.size)
                if len(chunk) != want * RECORD.size:
                    raise SetupError("%s changed while it was read" % self.path)
                self._check(chunk, done)
                recs = list(RECORD.iter_unpack(chunk))
                nmark = chunk[37::RECORD.size].count(LOSS)
                if nmark:
                    lost += sum(r[TID] for r in recs if r[CALL] == LOSS)
                    if not markers:
                        recs = [r for r in recs if r[CALL] != LOSS]
                count += want - nmark
                done += want
                yield recs
        if self.complete and count != self.meta.get("records", count):
            raise SetupError("%s: the trailer says %d records, the file holds %d: the "
                             "file is damaged" % (self.path, self.meta["records"], count))
        self.count, self._lost = count, lost

    def iter_records(self):
        """Every record (loss markers left out) as a Record, file order."""
        for chunk in self.chunks(markers=False):
            for r in chunk:
                yield Record(*r[:9])

    @property
    def records(self):
        if self._records is None:
            self._records = list(self.iter_records())
        return self._records

    @property
    def lost(self):
        """Records lost (the sum of the loss markers): one pass if needed."""
        if self._lost is None:
            for _ in self.chunks():
                pass
        return self._lost

    def segments(self):
        """The sweep's segments (one per command run), or one segment
        covering the whole recording."""
        return self.meta.get("segments") or [
            {"name": os.path.basename(self.path), "class": "", "run": 1,
             "root": None, "start_ns": 0, "end_ns": 1 << 64}]


def export(rec, out, fmt):
    """Write the records as CSV or JSON lines, streamed in file order (the
    order the probe delivered them: time order, but for calls of different
    CPUs microseconds apart), each loss marker as a row with `lost`."""
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(list(FIELDS) + ["lost"])
        for chunk in rec.chunks():
            for r in chunk:
                if r[CALL] == LOSS:
                    w.writerow([r[T_NS]] + [""] * (len(FIELDS) - 1) + [r[TID]])
                else:
                    w.writerow(r[:9] + ("",))
        return
    # json.dumps(record, sort_keys=True) of whole numbers, spelt out (faster).
    line = "".join(('{', ", ".join('"%s": %%d' % f for f in sorted(FIELDS)), '}\n'))
    order = [FIELDS.index(f) for f in sorted(FIELDS)]
    for chunk in rec.chunks():
        for r in chunk:
            if r[CALL] == LOSS:
                out.write('{"lost": %d, "t_ns": %d}\n' % (r[TID], r[T_NS]))
            else:
                out.write(line % tuple([r[i] for i in order]))
