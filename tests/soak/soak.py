#!/usr/bin/python3
"""Soak the watchdog: many aggressive and normal readers for minutes.

    sudo /usr/bin/python3 tests/soak/soak.py --seconds 600              # host: throttle
    /usr/bin/python3 tests/soak/soak.py --seconds 120 --action deny \\
        --backend lsm                                                   # in a VM guest

One watchdog (--json -i 5, 100 calls per 500 ms) runs over a launcher shell
script that starts AGGRESSIVE aggressive readers and NORMAL normal readers,
each with its own report file, waits for all of them and then lingers a few
intervals, so that the watchdog's last interval records show its map after
every reader exited.  The readers run for the whole soak (duration mode):
the aggressive ones in bursts separated by gaps longer than a window, so
both limited and quiet windows happen; the normal ones at a low steady rate.

While it runs, the driver samples the VmRSS of the watchdog and of its
guardian process every RSS_EVERY seconds and the state of every reader.
Pass when:

  rss       the watchdog's (and under throttle its guardian's) RSS grows by at most 5% after
            the baseline: the sample at 60 s, or at 20% of the run when the
            run is shorter than 120 s; the peak of all later samples counts;
  counts    for every reader, allowed + limited (the watchdog's final row for
            its PID) equals ok + eperm + other (the reader's own report), the
            reader finished ("done"), every aggressive reader was limited, and a
            normal reader was limited only if its own log (every read logged)
            shows more than MAX_CALLS reads in a WINDOW_MS span (a normal
            reader starved of CPU catches up in a burst); one never
            limited was never seen stopped; under deny also allowed == ok,
            limited == eperm;
  map       once all readers exited, the watchdog's wd_state map holds no
            reader's entry: both `bpftool map dump` of that map while the
            watchdog is still attached and its last interval record;
  stopped   no process of the soak is left stopped (state T) after the
            watchdog exits, and no normal reader was ever seen stopped;
  health    every counter listed (stops_full too), none counted: no map_full,
            targets_full, events_lost, contended or stops_full;
  detached  every BPF program and map the watchdog held is gone after it exits.

Prints a table and a verdict; --result FILE writes the figures as JSON.
Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import readers  # noqa: E402
import wdrun  # noqa: E402
from procinfo import (bpf_ids, bpftool_json, cpu_s, dump_keys, find_map,  # noqa: E402
                      guardian_of, health_ok, rss_kb, rss_verdict, status_field,
                      write_verdict)

MAX_CALLS, WINDOW_MS, INTERVAL = 100, 500, 5
RSS_EVERY = 2.0
RSS_GROWTH_MAX = 0.05
LINGER_S = 2 * INTERVAL + 3      # >= 2 interval records after the last reader
VARIANTS = readers.VARIANTS
# Aggressive readers' bursts and gaps (ms), cycled so the readers' windows
# drift apart; every gap is longer than a window, so quiet windows happen.
# Under throttle a reader is stopped for most of each window, so long bursts
# cost little CPU.  Under deny a reader spins on EPERM for its whole burst:
# 64 of them on 2 CPUs starve the watchdog's event loop (first VM run: 1116
# ring-buffer events lost, exit events among them), so deny runs use shorter
# bursts and start the aggressive readers at nice 10 (--nice).
DUTY = {"throttle": ((2000, 2500, 3000), (800, 1200, 1700)),
        "deny": ((500, 750, 1000), (1500, 2000, 2500))}


def baseline_s(seconds):
    """When the RSS baseline is taken, in seconds after the readers start."""
    return 60.0 if seconds >= 120 else 0.2 * seconds


def reader_plan(seconds, n_aggr, n_norm, out, normal_rate, action="throttle"):
    """[(kind, argv, report path)] for every reader."""
    plan = []
    bursts_ms, gaps_ms = DUTY[action]
    for i in range(n_aggr):
        burst, gap = bursts_ms[i % 3], gaps_ms[(i // 3) % 3]
        bursts = max(1, min(256, int(seconds * 1000 + gap) // (burst + gap)))
        rep = str(out / ("a%03d.rep" % i))
        plan.append(("aggressive", readers.aggressive_cmd(
            duration_ms=burst, bursts=bursts, gap_ms=gap, threads=1 + (i % 4 == 3),
            variant=VARIANTS[i % len(VARIANTS)], report=rep, quiet=True), rep))
    for i in range(n_norm):
        rep = str(out / ("n%03d.rep" % i))
        rate = normal_rate[i % len(normal_rate)]
        # Every read logged (16 bytes each): a limited normal reader must show
        # more than MAX_CALLS reads within WINDOW_MS in its own log.
        plan.append(("normal", readers.normal_cmd(
            rate=rate, total_ms=int(seconds * 1000), log=int(rate * seconds) + 16,
            variant=VARIANTS[i % len(VARIANTS)], report=rep, quiet=True), rep))
    return plan


def write_launcher(plan, path, nice=0):
    """The launcher script (and, with nice, a second one for the aggressive
    readers, run under nice(1) so they are niced from their first read);
    returns the command that runs it.  nice's own start-up reads are charged
    to that second launcher, never to a reader, whose count must equal its
    own report's.  (Renicing each reader once started was tried: 64 renice
    runs in a TCG guest left the early spinners at nice 0 long enough for
    the watchdog to lose 1041 events.)"""
    def cmdline(argv):
        return " ".join(shlex.quote(a) for a in argv) + " &"
    head = ["#!/bin/sh", "# written by tests/soak/soak.py: start readers, wait"]
    lines = list(head)
    aggr = [argv for kind, argv, _ in plan if kind == "aggressive"]
    if nice and aggr:
        sub = path.with_name(path.stem + "-aggressive.sh")
        sub.write_text("\n".join(head + [cmdline(a) for a in aggr] + ["wait", ""]))
        lines.append(cmdline(["nice", "-n", str(nice), "/bin/sh", str(sub)]))
    else:
        lines += [cmdline(a) for a in aggr]
    lines += [cmdline(argv) for kind, argv, _ in plan if kind != "aggressive"]
    lines += ["wait", "sleep %d  # linger: interval records after the last reader" % LINGER_S, ""]
    path.write_text("\n".join(lines))
    return ["/bin/sh", str(path)]


# -- the run ------------------------------------------------------------------
class Sampler(threading.Thread):
    """Every RSS_EVERY s: the watchdog's and guardian's RSS, the readers' states."""

    def __init__(self, wd_pid, t0):
        super().__init__(daemon=True)
        self.wd_pid, self.t0 = wd_pid, t0
        self.guard_pid = None
        self.samples = []          # (t, wd_rss_kb, guardian_rss_kb)
        self.reader_pids = {}      # pid -> kind, filled in by the driver
        self.seen_stopped = set()
        self.halt = threading.Event()
        self.cpu_s = None          # the watchdog's user+system CPU time so far

    def run(self):
        while not self.halt.is_set():
            if self.guard_pid is None:
                self.guard_pid = guardian_of(self.wd_pid)
            wd = rss_kb(self.wd_pid)
            if wd is None:
                break
            g = rss_kb(self.guard_pid) if self.guard_pid else None
            self.samples.append((time.monotonic() - self.t0, wd, g))
            self.cpu_s = cpu_s(self.wd_pid) or self.cpu_s
            for pid in list(self.reader_pids):
                if status_field(pid, "State") == "T":
                    self.seen_stopped.add(pid)
            self.halt.wait(RSS_EVERY)


def wait_reports(plan, deadline):
    """{pid: (kind, report path)} once every report file is initialised."""
    pids, pending = {}, list(plan)
    while pending and time.monotonic() < deadline:
        left = []
        for kind, argv, rep in pending:
            try:
                pids[readers.parse_report(rep)["pid"]] = (kind, rep)
            except (OSError, readers.ReportError):
                left.append((kind, argv, rep))
        pending = left
        if pending:
            time.sleep(0.2)
    return pids, pending


def busiest_window(log, window_ns=WINDOW_MS * 1000000):
    """The most reads any WINDOW_MS span of the log holds."""
    ts = sorted(e["t_ns"] for e in log)
    best, lo = 0, 0
    for hi, t in enumerate(ts):
        while t - ts[lo] >= window_ns:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def soak(seconds, n_aggr, n_norm, action, backend, out, normal_rate, nice=None):
    """Run one soak; the figures and verdicts as a dict.  nice: the aggressive
    readers' niceness (default 0 under throttle, 10 under deny)."""
    if nice is None:
        nice = 10 if action == "deny" else 0
    out.mkdir(parents=True, exist_ok=True)
    plan = reader_plan(seconds, n_aggr, n_norm, out, normal_rate, action)
    cmd = write_launcher(plan, out / "launch.sh", nice)
    args = ["-i", str(INTERVAL), "--action", action, "--backend", backend,
            "--max-calls", str(MAX_CALLS), "--window-ms", str(WINDOW_MS)]
    wd = wdrun.Watchdog(args, cmd)
    start = wd.wait_started(timeout=600)
    t0 = time.monotonic()
    ids = bpf_ids(wd.proc.pid)
    state_map = find_map(ids["map"], "wd_state")
    sampler = Sampler(wd.proc.pid, t0)
    sampler.start()

    pids, missing = wait_reports(plan, time.monotonic() + 120)
    sampler.reader_pids = dict(pids)
    # All readers gone: each report says done and the PID has left /proc.
    map_keys_after = None
    deadline = time.monotonic() + seconds + 600
    while time.monotonic() < deadline and wd.proc.poll() is None:
        live = [p for p in pids if os.path.exists("/proc/%d" % p)
                and status_field(p, "State") not in ("Z", "X", None)]
        if not live:
            time.sleep(1.0)
            if state_map is not None and wd.proc.poll() is None:
                map_keys_after = dump_keys(state_map)
            break
        time.sleep(1.0)
    t_readers_done = time.monotonic() - t0
    res = wd.finish(timeout=seconds + 600)
    sampler.halt.set()
    sampler.join(10)
    time.sleep(0.5)

    # -- checks ---------------------------------------------------------------
    checks, rows = {}, []
    fails = []
    if missing:
        fails.append("%d readers never wrote a report" % len(missing))
    if res.rc != 0:
        fails.append("watchdog exit status %s: %s" % (res.rc, res.stderr[-2000:]))
    summary = {r["pid"]: r for r in res.summary["processes"]} if res.events("summary") else {}
    count_bad = []
    for pid, (kind, rep) in sorted(pids.items(), key=lambda kv: kv[1][1]):
        r = readers.parse_report(rep)
        row = summary.get(pid)
        t = r["totals"]
        reader_calls = t["ok"] + t["eperm"] + t["other"]
        wd_calls = None if row is None else row["allowed"] + row["limited"]
        ok = (row is not None and r["state"] == "done" and wd_calls == reader_calls
              and t["other"] == 0)
        if ok and action == "deny":
            ok = (row["allowed"], row["limited"]) == (t["ok"], t["eperm"])
        if ok and action == "throttle":
            ok = t["eperm"] == 0
        busiest = None
        if ok and kind == "aggressive":
            ok = row["limited"] > 0
        if ok and kind == "normal":
            # A normal reader that was starved of CPU catches up on its
            # schedule in a burst (normal_reader.c): limited then is right,
            # but only if its own log shows more than MAX_CALLS reads in a
            # window's span, and never while its log shows none.
            busiest = busiest_window(r["log"]) if not r["log_dropped"] else None
            # (A span is not a window: over MAX_CALLS in one need not be limited.)
            ok = busiest is not None and (row["limited"] == 0 or busiest > MAX_CALLS)
            if row["limited"] == 0:
                ok = ok and pid not in sampler.seen_stopped
        rows.append(dict(pid=pid, kind=kind, report=os.path.basename(rep), state=r["state"],
                         ok=t["ok"], eperm=t["eperm"], other=t["other"],
                         allowed=row and row["allowed"], limited=row and row["limited"],
                         limited_windows=row and row["limited_windows"], busiest=busiest,
                         seen_stopped=pid in sampler.seen_stopped, match=ok))
        if not ok:
            count_bad.append(pid)
    checks["counts"] = not count_bad and not missing and len(rows) == n_aggr + n_norm
    if count_bad:
        fails.append("count check failed for %d readers: %s" % (len(count_bad), count_bad[:10]))

    base_t = baseline_s(seconds)
    rss = {"watchdog": rss_verdict(sampler.samples, base_t, 1),
           "guardian": rss_verdict(sampler.samples, base_t, 2)}
    if sampler.guard_pid is None and action != "throttle":
        del rss["guardian"]        # only throttle stops processes: no guardian
    checks["rss"] = all(v is not None and v[3] <= RSS_GROWTH_MAX for v in rss.values())
    if not checks["rss"]:
        fails.append("RSS grew more than %d%% after %.0f s: %s"
                     % (RSS_GROWTH_MAX * 100, base_t, rss))

    intervals = res.events("interval")
    last_pids = [p["pid"] for p in intervals[-1]["processes"]] if intervals else None
    last_left = None if last_pids is None else sorted(set(last_pids) & set(pids))
    dumped_left = None if map_keys_after is None else sorted(set(map_keys_after) & set(pids))
    checks["map"] = last_left == [] and dumped_left == []
    if not checks["map"]:
        fails.append("map not clear of readers: last interval %s, bpftool dump %s"
                     % (last_left, dumped_left))

    ours = set(pids) | {sampler.guard_pid or 0, wd.proc.pid} | set(last_pids or [])
    left_stopped = sorted(p for p in ours if p and status_field(p, "State") == "T")
    checks["stopped"] = not left_stopped
    if left_stopped:
        fails.append("processes left stopped: %s" % left_stopped)

    health = res.summary["health"] if res.events("summary") else {}
    checks["health"] = health_ok(health)
    if not checks["health"]:
        fails.append("health counters: %s" % health)

    # Only the ids this watchdog held: other watchdogs may run on the machine.
    still = [(k, i) for k in ("prog", "map") for i in sorted(ids[k])]
    for _ in range(50):       # the kernel frees them after an RCU grace period
        still = [(k, i) for k, i in still if bpftool_json(k, "show", "id", str(i)) is not None]
        if not still:
            break
        time.sleep(0.1)
    checks["detached"] = bool(ids["prog"]) and not still
    if not checks["detached"]:
        fails.append("BPF objects of the watchdog still loaded: %s (held %s)" % (still, ids))

    aggr = [r for r in rows if r["kind"] == "aggressive"]
    norm = [r for r in rows if r["kind"] == "normal"]
    result = dict(
        seconds=seconds, action=action, readers_nice=nice, backend=start.get("backend"),
        kernel=os.uname().release, readers=dict(aggressive=n_aggr, normal=n_norm),
        limit=dict(max_calls=MAX_CALLS, window_ms=WINDOW_MS),
        readers_done_s=round(t_readers_done, 1), baseline_s=base_t,
        rss_kb={k: (None if v is None else dict(baseline=v[0], end=v[1], peak=v[2],
                                                growth_pct=round(100 * v[3], 2)))
                for k, v in rss.items()},
        rss_samples=[(round(t, 1), w, g) for t, w, g in sampler.samples],
        watchdog_cpu_s=sampler.cpu_s, health=health,
        map_after_readers=dict(last_interval_pids=last_pids, bpftool_keys=map_keys_after,
                               reader_entries_last_interval=last_left,
                               reader_entries_bpftool=dumped_left),
        left_stopped=left_stopped,
        aggressive_seen_stopped=sum(r["seen_stopped"] for r in aggr),
        normal_seen_stopped=sum(r["seen_stopped"] for r in norm),
        normal_limited=[dict(report=r["report"], limited=r["limited"], busiest=r["busiest"])
                        for r in norm if r["limited"]],
        totals={kind: {k: sum((r[k] or 0) for r in rs)
                       for k in ("ok", "eperm", "other", "allowed", "limited", "limited_windows")}
                for kind, rs in (("aggressive", aggr), ("normal", norm))},
        limited_windows_range=[min((r["limited_windows"] or 0) for r in aggr),
                               max((r["limited_windows"] or 0) for r in aggr)] if aggr else None,
        readers_matching=sum(r["match"] for r in rows), readers_total=len(rows),
        checks=checks, failures=fails, passed=all(checks.values()) and not fails,
        rows=rows, out=str(out))
    return result


def print_report(res, stream=sys.stdout):
    w = stream.write
    w("soak: %d s, %s/%s on %s, %d aggressive + %d normal readers, %d calls per %d ms\n"
      % (res["seconds"], res["backend"], res["action"], res["kernel"],
         res["readers"]["aggressive"], res["readers"]["normal"],
         res["limit"]["max_calls"], res["limit"]["window_ms"]))
    w("readers finished after %.1f s; watchdog CPU time %s s\n"
      % (res["readers_done_s"], res["watchdog_cpu_s"]))
    w("\n%-10s %10s %10s %10s %8s  (RSS kB; baseline at %.0f s)\n"
      % ("process", "baseline", "end", "peak", "growth", res["baseline_s"]))
    for k, v in res["rss_kb"].items():
        if v is None:
            w("%-10s %10s\n" % (k, "no samples"))
        else:
            w("%-10s %10d %10d %10d %7.2f%%\n" % (k, v["baseline"], v["end"], v["peak"],
                                                  v["growth_pct"]))
    w("\n%-11s %12s %10s %10s %12s %10s %8s %8s\n" % (
        "readers", "ok", "eperm", "other", "allowed", "limited", "lim.win", "match"))
    for kind in ("aggressive", "normal"):
        rs = [r for r in res["rows"] if r["kind"] == kind]
        t = res["totals"][kind]
        w("%-11s %12d %10d %10d %12d %10d %8d %5d/%d\n" % (
            kind, t["ok"], t["eperm"], t["other"], t["allowed"], t["limited"],
            t["limited_windows"], sum(r["match"] for r in rs), len(rs)))
    m = res["map_after_readers"]
    w("\nmap after the readers exited: bpftool %s, last interval %s (reader entries: %s / %s)\n"
      % (m["bpftool_keys"], m["last_interval_pids"], m["reader_entries_bpftool"],
         m["reader_entries_last_interval"]))
    w("seen stopped while running: %d aggressive, %d normal; left stopped: %s\n"
      % (res["aggressive_seen_stopped"], res["normal_seen_stopped"], res["left_stopped"]))
    w("normal readers limited (each had > %d reads in a %d ms span of its own log, "
      "after a CPU stall): %d, busiest spans %s\n"
      % (res["limit"]["max_calls"], res["limit"]["window_ms"], len(res["normal_limited"]),
         sorted({r["busiest"] for r in res["normal_limited"]})))
    w("health: %s\n" % res["health"])
    w("\n")
    write_verdict(w, res, "soak")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_S", 600)),
                   help="how long the readers run (default $SOAK_S or 600)")
    p.add_argument("--aggressive", type=int, default=64)
    p.add_argument("--normal", type=int, default=64)
    p.add_argument("--action", default="throttle", choices=("throttle", "deny"))
    p.add_argument("--backend", default="tracepoint")
    p.add_argument("--normal-rate", default="10,20,30,40",
                   help="normal readers' reads per second, cycled (default 10,20,30,40)")
    p.add_argument("--nice", type=int, help="the aggressive readers' niceness "
                   "(default 0 under throttle, 10 under deny)")
    p.add_argument("--out", help="directory for the launcher and the reports "
                                 "(default: a new one under /tmp)")
    p.add_argument("--result", help="write the figures as JSON to this file")
    a = p.parse_args(argv)
    readers.build()
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="wd-soak-"))
    rates = [int(x) for x in a.normal_rate.split(",")]
    res = soak(a.seconds, a.aggressive, a.normal, a.action, a.backend, out, rates, a.nice)
    print_report(res)
    if a.result:
        Path(a.result).write_text(json.dumps(res, indent=1) + "\n")
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
