#!/usr/bin/python3
"""Peak memory of `watchdog.py replay` and `export` on a large recording.

    /usr/bin/python3 bench/replay_memory.py [--mb 200] [--keep FILE]

Writes a recording of about MB megabytes with ethoswd.recording.Writer
(no root, no BPF): 40-byte records of 64 processes in 8 trees, 4 users
and 4 cgroups, a third of them /proc reads, in bursts, a few calls a
microsecond out of time order (as the probe delivers calls of different
CPUs), a loss marker now and then, and a trailer.  Then runs, one at a
time, `replay FILE` (the default grid, text), `replay FILE --json` and
`export FILE --csv -o OUT`, and prints each one's peak RSS (the child's
ru_maxrss) and wall time.  No baseline to divide by: the number to
compare is the file size (a replay that holds every record needs a
multiple of it).  No root needed.
"""

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ethoswd.policy import FS_MAGIC  # noqa: E402
from ethoswd.research.recording import RECORD, Writer  # noqa: E402

PYTHON = "/usr/bin/python3"


def synthesize(path, mb, seed=1):
    """A recording of about `mb` MB; the number of records."""
    rnd = random.Random(seed)
    n = mb * 1000000 // RECORD.size
    w = Writer(path)
    t = 10 ** 12
    proc, ext4 = FS_MAGIC["proc"], FS_MAGIC["ext4"]
    batch, done = [], 0
    while done < n:
        tgid = 1000 + rnd.randrange(64)
        root, uid, cg = 1000 + tgid % 8, tgid % 4, 100 + tgid % 4
        magic = proc if rnd.random() < 0.33 else ext4
        for _ in range(min(rnd.randrange(1, 400), n - done)):
            t += rnd.randrange(1000, 30000)
            # A call now and then a few microseconds before the one before it.
            stamp = t - rnd.randrange(5000) if rnd.random() < 0.01 else t
            batch.append(RECORD.pack(stamp, tgid, tgid, root, uid, cg, magic, 0,
                                     rnd.randrange(5), 0))
            done += 1
        t += rnd.randrange(0, 50000000)     # gaps up to 50 ms between bursts
        if len(batch) > 50000:
            w.write_raw(b"".join(batch))
            batch = []
            if rnd.random() < 0.05:
                w.loss(t, rnd.randrange(1, 100))
    w.write_raw(b"".join(batch))
    w.close({"policy": {"key": "process", "count": "all"}, "targets": [],
             "host": "synthetic", "kernel": os.uname().release})
    return n


def measure(argv):
    """(peak RSS kB, wall seconds, exit status) of argv; run it from a
    fresh process (ru_maxrss of the children is the largest child's)."""
    t = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
    return (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            time.monotonic() - t, r.returncode)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=int, default=200)
    p.add_argument("--keep", help="write the recording here and keep it")
    a = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="wd-replay-mem-")
    path = a.keep or os.path.join(tmp, "big.wdrec")
    t = time.monotonic()
    n = synthesize(path, a.mb)
    print("recording: %s, %.1f MB, %d records (%.1f s to write)"
          % (path, os.path.getsize(path) / 1e6, n, time.monotonic() - t))
    wd = [PYTHON, os.path.join(ROOT, "watchdog.py")]
    runs = [("export --csv -o", wd + ["export", path, "--csv", "-o",
                                      os.path.join(tmp, "out.csv")]),
            ("replay (text)", wd + ["replay", path]),
            ("replay --json", wd + ["replay", path, "--json"])]
    print("%-18s %12s %10s %6s" % ("command", "peak RSS kB", "seconds", "status"))
    for name, argv_ in runs:
        # Each in its own process, so ru_maxrss is that command's alone.
        out = subprocess.run([PYTHON, "-c", "import sys; sys.path.insert(0, %r); "
                              "from replay_memory import measure; "
                              "print(*measure(%r))" % (os.path.dirname(__file__), argv_)],
                             capture_output=True, text=True)
        rss, secs, rc = out.stdout.split()
        print("%-18s %12s %10.1f %6s" % (name, rss, float(secs), rc))
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
