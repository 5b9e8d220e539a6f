#!/usr/bin/python3
"""Soak the watchdog with process churn: many short-lived processes.

    sudo /usr/bin/python3 tests/soak/churn.py --procs 200000                # watchdog.py
    sudo /usr/bin/python3 tests/soak/churn.py --procs 200000 --frontend ethoswd --key process

One watchdog (--json -i INTERVAL, the fingerprint profile, --action
monitor: nothing is stopped) runs `churn -n PROCS -j JOBS -r READS`: every
child reads /proc/self/stat READS times and exits.  Each exit leaves the
row of an exited process behind: with the tree key (what the fingerprint
profile picks for -- CMD) the share of an exited process (a PROC_EXIT
event), with --key process an ended budget (an EXIT event).  A service
sees such churn for months, so the watchdog keeps only the last
WD_EXITED_ROWS of them (probe/watchdog_map.h) and folds the older ones
into the summary's `not_listed` counts.

The driver samples the watchdog's VmRSS and CPU time every SAMPLE_S
seconds together with churn's progress (children reaped so far).  A table
every second (-i 1) runs the per-table code often.  Pass when:

  rss      the peak RSS after warm-up (WARMUP of the children reaped, and
           at least WARMUP_TABLES interval tables printed) is
           at most 5% above the peak over the warm-up, from the start
           record on (VmHWM, reset through /proc/PID/clear_refs: a
           table's buffers come and go between samples), while churn
           runs (the summary built once at the end is not growth);
  counts   the summary's allowed + limited equal PROCS * READS, and the
           churn reported no failed child;
  listed   at most WD_EXITED_ROWS exited processes are listed, and those
           listed plus `not_listed` make PROCS;
  health   every counter listed (stops_full too), none counted: no map_full,
           targets_full, events_lost, contended or stops_full.

Prints a table and a verdict; --result FILE writes the figures as JSON.
Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

import readers  # noqa: E402
import wdrun  # noqa: E402
from ethoswd.abi import DEFS  # noqa: E402
from procinfo import cpu_s, health_ok, hwm_kb, rss_kb, write_verdict  # noqa: E402

KEEP = DEFS["WD_EXITED_ROWS"]
CHURN = readers.BIN_DIR / "churn"
SAMPLE_S = 0.5
WARMUP = 0.2
# The warm-up also spans this many interval tables: a table's buffers are
# part of the steady state, and at 10 000 exits a second the fraction alone
# ended the warm-up before the first full table (ethoswd tree: +9% "growth"
# that was the first table after warm-up, 5.8 -> 6.35 MB, RSS then flat).
WARMUP_TABLES = 2
RSS_GROWTH_MAX = 0.05
PROCS_PER_SOAK_S = 1000 / 3     # SOAK_S 600 -> 200 000 exits
PROCS_MIN = 50000               # SOAK_S 60 (CI): 50 000, about 10 s each


def procs_for(seconds):
    """The churn size of a soak of `seconds` (SOAK_S)."""
    return max(PROCS_MIN, int(seconds * PROCS_PER_SOAK_S))


def progress(path):
    try:
        with open(path, "rb") as f:
            return int.from_bytes(f.read(8), "little")
    except OSError:
        return 0


def reset_peak(pid):
    """Reset the process's peak RSS (VmHWM) to its RSS now (proc(5):
    clear_refs 5)."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


class Sampler(threading.Thread):
    """Every SAMPLE_S: (seconds, children reaped, RSS kB, CPU s, peak RSS
    kB).  The peak (VmHWM, which the kernel keeps, so a table's buffers
    between two samples count) is reset when the watchdog starts and
    again at warm-up (`warm` children reaped and `warm_s` seconds run),
    after noting it then."""

    def __init__(self, pid, progress_file, warm, warm_s):
        super().__init__(daemon=True)
        self.pid, self.file, self.warm, self.warm_s = pid, progress_file, warm, warm_s
        self.samples = []
        self.peak_warm = None      # VmHWM over the warm-up
        self.warm_at = None        # the index of the sample that ended it
        self.halt = threading.Event()

    def run(self):
        t0 = time.monotonic()
        try:
            reset_peak(self.pid)
        except OSError:
            return
        while not self.halt.is_set():
            rss, hwm = rss_kb(self.pid), hwm_kb(self.pid)
            if rss is None or hwm is None:
                break
            exits = progress(self.file)
            self.samples.append((round(time.monotonic() - t0, 2), exits, rss,
                                 cpu_s(self.pid), hwm))
            if (self.peak_warm is None and exits >= self.warm and
                    self.samples[-1][0] >= self.warm_s):
                self.peak_warm, self.warm_at = hwm, len(self.samples) - 1
                try:
                    reset_peak(self.pid)
                except OSError:
                    break
            self.halt.wait(SAMPLE_S)


def rss_figures(samples, warm_at, peak_warm):
    """RSS kB at warm-up (the sample then, and the peak over the warm-up),
    at the end (the last sample while churn ran), the peak after warm-up,
    and the growth of the peak; None if the run never got past warm-up."""
    if warm_at is None or warm_at + 1 >= len(samples):
        return None
    after = samples[warm_at + 1:]
    # Samples taken while churn still ran: the final summary (up to
    # WD_EXITED_ROWS rows as text and JSON, built once when CMD has ended)
    # is a one-off at exit, not growth over the run; counting it made the
    # verdict depend on whether a sample fell between the summary and exit.
    running = [s for s in after if s[1] < samples[-1][1]] or after
    peak = max(s[4] for s in running)
    return dict(warmup=samples[warm_at][2], warmup_peak=peak_warm, end=running[-1][2],
                peak=peak, at_exits=samples[warm_at][1],
                growth_pct=round(100.0 * (peak - peak_warm) / peak_warm, 2))


def cpu_per_10k(samples, lo, hi):
    """The watchdog's CPU seconds per 10 000 exits between lo and hi exits."""
    pts = [s for s in samples if lo <= s[1] <= hi and s[3] is not None]
    if len(pts) < 2 or pts[-1][1] == pts[0][1]:
        return None
    return round((pts[-1][3] - pts[0][3]) * 10000 / (pts[-1][1] - pts[0][1]), 3)


def soak(procs, key, frontend, out, jobs=8, reads=2, interval=1, backend="auto"):
    """Run one churn soak; the figures and verdicts as a dict."""
    wdrun.use(frontend)
    out.mkdir(parents=True, exist_ok=True)
    prog_file = out / ("churn-%s-%s.progress" % (frontend, key))
    args = ["-i", str(interval), "--profile", "fingerprint", "--action", "monitor",
            "--backend", backend, "--key", key]
    cmd = [CHURN, "-n", procs, "-j", jobs, "-r", reads, "-p", prog_file]
    wd = wdrun.Watchdog(args, cmd)
    wd.wait_started(timeout=600)
    warm = int(procs * WARMUP)
    sampler = Sampler(wd.proc.pid, prog_file, warm, WARMUP_TABLES * interval)
    sampler.start()
    res = wd.finish(timeout=procs / 50 + 600)
    sampler.halt.set()
    sampler.join(10)
    samples = sampler.samples

    fails, checks = [], {}
    if res.rc != 0:
        fails.append("watchdog exit status %s: %s" % (res.rc, res.stderr[-2000:]))
    summ = res.events("summary")
    summ = summ[-1] if summ else {}
    churn_line = [x for x in res.other_lines if x.startswith("procs=")]
    checks["counts"] = (summ.get("total") == procs * reads and
                        churn_line == ["procs=%d reads=%d failed=0\n" % (procs, procs * reads)])
    if not checks["counts"]:
        fails.append("summary total %s, want %d; churn said %s"
                     % (summ.get("total"), procs * reads, churn_line))
    listed = [r for r in summ.get("processes", []) if r.get("state") == "exited"]
    # The children; the root (churn itself) makes no counted read.
    children = [r for r in listed if r["total"]]
    not_listed = summ.get("not_listed") or {}
    checks["listed"] = (len(listed) <= KEEP and
                        len(children) + not_listed.get("processes", -1) == procs)
    if not checks["listed"]:
        fails.append("%d exited processes listed (at most %d), not_listed %s, want %d in all"
                     % (len(listed), KEEP, not_listed, procs))
    health = summ.get("health") or {}
    checks["health"] = health_ok(health)
    if not checks["health"]:
        fails.append("health counters: %s" % health)
    rss = rss_figures(samples, sampler.warm_at, sampler.peak_warm)
    checks["rss"] = rss is not None and rss["growth_pct"] <= 100 * RSS_GROWTH_MAX
    if not checks["rss"]:
        fails.append("RSS grew more than %d%% after %d exits: %s"
                     % (100 * RSS_GROWTH_MAX, warm, rss))
    mid = warm + (procs - warm) // 2
    return dict(
        frontend=frontend, key=key, procs=procs, jobs=jobs, reads=reads,
        interval=interval, kernel=os.uname().release, keep=KEEP,
        seconds=samples[-1][0] if samples else None,
        rss_kb=rss, rss_first_kb=samples[0][2] if samples else None,
        cpu_s_per_10k_exits=dict(first_half=cpu_per_10k(samples, warm, mid),
                                 second_half=cpu_per_10k(samples, mid, procs)),
        watchdog_cpu_s=samples[-1][3] if samples else None,
        intervals=len(res.events("interval")), listed=len(listed), not_listed=not_listed,
        health=health, checks=checks, failures=fails,
        passed=all(checks.values()) and not fails,
        samples=[list(s) for s in samples])


def print_report(res, stream=sys.stdout):
    w = stream.write
    w("churn soak: %s, key %s, %d processes (%d at a time, %d reads each) on %s\n"
      % (res["frontend"], res["key"], res["procs"], res["jobs"], res["reads"], res["kernel"]))
    w("ran %s s, %d interval records; watchdog CPU %s s; per 10 000 exits %s\n"
      % (res["seconds"], res["intervals"], res["watchdog_cpu_s"], res["cpu_s_per_10k_exits"]))
    r = res["rss_kb"]
    if r:
        w("RSS kB: first %s; at warm-up (%d exits) %d, its peak %d; end %d; "
          "peak after warm-up %d (%+.2f%%)\n"
          % (res["rss_first_kb"], r["at_exits"], r["warmup"], r["warmup_peak"], r["end"],
             r["peak"], r["growth_pct"]))
    w("exited processes listed %d (keep %d), not listed %s\n"
      % (res["listed"], res["keep"], res["not_listed"]))
    write_verdict(w, res, "churn soak")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--procs", type=int, default=procs_for(
        float(os.environ.get("SOAK_S", 600))),
        help="processes to churn (default $SOAK_S / 3 * 1000, at least 50 000; "
             "200 000 at 600)")
    p.add_argument("--frontend", default="watchdog.py", choices=wdrun.FRONTENDS)
    p.add_argument("--key", default="tree", choices=("tree", "process"))
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--reads", type=int, default=2)
    p.add_argument("--interval", type=float, default=1)
    p.add_argument("--backend", default="auto")
    p.add_argument("--result", help="write the figures as JSON to this file")
    a = p.parse_args(argv)
    readers.build()
    out = Path(tempfile.mkdtemp(prefix="wd-churn-"))
    res = soak(a.procs, a.key, a.frontend, out, a.jobs, a.reads, a.interval, a.backend)
    print_report(res)
    if a.result:
        Path(a.result).write_text(json.dumps(res, indent=1) + "\n")
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
