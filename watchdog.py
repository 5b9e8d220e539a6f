#!/usr/bin/python3
# watchdog.py  Rate-limit short bursts of read() per process with eBPF.
#              For Linux, uses BCC, eBPF. Embedded C in probe/.
#
# USAGE: watchdog.py [-h] [--config FILE] [--max-calls N] [--window-ms MS]
#                    [--profile P] [--count CLASS] [--file PATH] [--key K]
#                    [--backend B] [--action A] [-p PID] [-u USER] [--comm NAME]
#                    [--exclude-comm NAME] [--exclude-exe PATH] [-i SECONDS]
#                    [--duration SECONDS] [--map-size N] [--json]
#                    [--state-file PATH] [--metrics-file PATH]
#                    [--metrics-listen ADDR:PORT] [--metrics-per-cgroup N]
#                    [--probe-features] [--jitter GRAIN]
#                    [--jitter-mode clamp|pause]
#                    [--jitter-via auto|launcher|write|quantize] [--version]
#                    [-- CMD [ARGS...]]
#        watchdog.py --resume-stopped PATH [--json]
#
# Counts each process's read-family calls (read, pread64, readv, preadv,
# preadv2) in a BPF hash map keyed by PID, over a fixed window; a call over
# the limit fails with EPERM (kprobe/lsm backends), or the process is
# stopped until its window ends, or killed.  --count, --key and --profile
# choose which reads count and whose budget they use (a process tree, a
# user, a cgroup).  --jitter clamps every clock the command's tree reads to
# a keyed grain (docs/jitter.md); with -p, --comm or system-wide a BPF
# program rewrites or delays the targets' clock reads (docs/jitter_bpf.md).
# See docs/watchdog_guide.md.
#
# Copyright 2026 The Ethos authors.
# Licensed under the GNU General Public License, version 2.0.
#
# 25-Nov-2026  Ethos authors  Created this.
# 03-Dec-2026  Ethos authors  --config FILE (TOML), re-read on SIGHUP.
# 03-Dec-2026  Ethos authors  --jitter GRAIN, --jitter-mode (launcher mode).
# 03-Dec-2026  Ethos authors  --jitter-via: the BPF modes (write, quantize).
"""Entry point: `./watchdog.py --help` (as root; `sudo ./watchdog.py` from another
account). The code lives in ethoswd/."""

import os
import sys
import time

LAUNCHED = time.monotonic()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ethoswd.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(launched=LAUNCHED))
