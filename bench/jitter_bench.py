#!/usr/bin/python3
"""jitter_bench.py - what `--jitter GRAIN` costs (docs/jitter.md, "Numbers").

    sudo /usr/bin/python3 bench/jitter_bench.py [--quick] [--rounds N] [--out DIR]

Needs root, build/ethoswd and build/ethos-clockd (`make ethoswd`); it
loads the watchdog's probe, so run it under wd-lock on a shared machine.
Writes bench/results/jitter.md and jitter.json.

1. Cost per clock read.  bench/bin/clock_bench KIND N writes one byte to
   descriptor 3 before its loop of N reads and one after; this script
   stamps both with its own clock, which no defence mediates.  Each round
   runs every configuration once, in a fresh shuffled order: bare (no
   watchdog), and `ethoswd --action monitor --jitter 100us --jitter-mode
   clamp|pause -- clock_bench`.  The table gives the median over rounds of
   ns per read, and of the added ns against the bare run of the same round.
   The BPF modes (docs/jitter_bpf.md), on the dynamic build (their uprobe
   is on libc's clock_gettime): `quantize` runs it as `ethoswd ...
   --jitter-via quantize -- clock_bench_dyn` (each read held to the next
   switch point: up to a grain a read, by design), and `nontarget` runs it
   bare while an `ethoswd --jitter 100us -p PID` targets another process
   (a `sleep`; auto: quantize where the kernel refuses the write): what a
   process that is not a target pays.
   Their added ns are against bare_dyn, the dynamic build unwatched.
2. Everyday programs.  Each runs as `sh -c 'printf a >&3; CMD; printf b
   >&3'` under the same three configurations, so the watchdog's own
   start-up is not counted; the median wall time over rounds, and the
   median of the per-round ratios against bare.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ETHOSWD = os.path.join(REPO, "build", "ethoswd")
CLOCK_BENCH = os.path.join(HERE, "bin", "clock_bench")
CLOCK_BENCH_DYN = os.path.join(HERE, "bin", "clock_bench_dyn")
GRAIN = "100us"
MODES = ("bare", "clamp", "pause")
BPF_MODES = ("bare_dyn", "quantize", "nontarget")
# The everyday programs under each launcher mode, the quantize BPF mode (the
# program is the target) and as a non-target while another process is one.
EVERYDAY_MODES = MODES + ("quantize", "nontarget")
KINDS = ("monotonic", "thread_cputime", "gettimeofday", "rdtsc", "schedstat")


def wrap(mode, argv):
    if mode in ("bare", "bare_dyn", "nontarget"):
        return argv
    if mode == "quantize":
        return [ETHOSWD, "--action", "monitor", "--jitter", GRAIN, "--jitter-via",
                "quantize", "--"] + argv
    return [ETHOSWD, "--action", "monitor", "--jitter", GRAIN, "--jitter-mode", mode,
            "--"] + argv


def stamped(argv, timeout=600):
    """Run argv with a pipe as descriptor 3; the time between its two bytes
    in seconds (our CLOCK_MONOTONIC), or raise with its stderr."""
    r, w = os.pipe()
    err = tempfile.TemporaryFile()
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, w, 3),
                                           (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        os.close(w)
        w = None
        stamps = []
        deadline = time.monotonic() + timeout
        while len(stamps) < 2 and time.monotonic() < deadline:
            got = os.read(r, 1)
            if not got:
                break
            stamps.append(time.monotonic())
        _, status = os.waitpid(pid, 0)
        if len(stamps) < 2 or os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError("%s: exit %s, %d stamps:\n%s" % (
                " ".join(argv), os.waitstatus_to_exitcode(status), len(stamps),
                err.read().decode(errors="replace")[-2000:]))
        return stamps[1] - stamps[0]
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
        err.close()


class Bystander:
    """An ethoswd with --jitter (quantize here) targeting a sleeping process, for the
    `nontarget` rows: started and ready (its start record) on entry."""

    def __enter__(self):
        import subprocess
        self.sleep = subprocess.Popen(["sleep", "600"])
        self.p = subprocess.Popen([ETHOSWD, "--json", "--action", "monitor", "--jitter",
                                   GRAIN, "-p", str(self.sleep.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.p.stdout:
            if '"event": "start"' in line:
                return self
        self.__exit__()
        raise RuntimeError("the bystander ethoswd did not start: rc %s" % self.p.returncode)

    def __exit__(self, *exc):
        self.p.send_signal(2)
        self.p.communicate(timeout=60)
        self.sleep.kill()
        self.sleep.wait()


def per_read(rounds, quick):
    """{kind: {mode: [ns per read, per round]}}."""
    n = {"bare": 200000, "clamp": 4000, "pause": 1500, "bare_dyn": 200000,
         "quantize": 1500, "nontarget": 200000}
    if quick:
        n = {m: v // 4 for m, v in n.items()}
    out = {k: {m: [] for m in MODES + BPF_MODES} for k in KINDS}
    for _ in range(rounds):
        jobs = [(k, m) for k in KINDS for m in MODES + BPF_MODES]
        random.shuffle(jobs)
        for kind, mode in jobs:
            bench = CLOCK_BENCH_DYN if mode in BPF_MODES else CLOCK_BENCH
            argv = wrap(mode, [bench, kind, str(n[mode])])
            if mode == "nontarget":
                with Bystander():
                    s = stamped(argv)
            else:
                s = stamped(argv)
            out[kind][mode].append(s * 1e9 / n[mode])
    return out


def everyday_programs(tmp):
    big = os.path.join(tmp, "64mib")
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * 64)
    progs = {
        "gcc -c": ["gcc", "-O2", "-c", "-o", os.path.join(tmp, "x.o"),
                   os.path.join(REPO, "tests", "progs", "clock_probe.c")],
        "git log": ["git", "-C", REPO, "log", "-n", "300", "--stat"],
        "tar": ["tar", "cf", os.path.join(tmp, "t.tar"), "-C", REPO, "src", "probe",
                "ethoswd"],
        "sha256sum 64 MiB": ["sha256sum", big],
        "python3 -c pass": ["/usr/bin/python3", "-c", "pass"],
        "python3 timeit": ["/usr/bin/python3", "-m", "timeit", "-n", "300000", "pass"],
    }
    if shutil.which("node"):
        progs["node loop"] = ["node", "-e", "let s = 0; for (let i = 0; i < 1e6; i++) s += i"]
    return progs


def everyday(rounds, tmp):
    """{program: {mode: [seconds, per round]}}."""
    progs = everyday_programs(tmp)
    shell = 'printf a >&3; "$@" >/dev/null 2>&1; st=$?; printf b >&3; exit $st'
    out = {p: {m: [] for m in EVERYDAY_MODES} for p in progs}
    for _ in range(rounds):
        jobs = [(p, m) for p in progs for m in EVERYDAY_MODES]
        random.shuffle(jobs)
        for prog, mode in jobs:
            argv = wrap(mode, ["/bin/sh", "-c", shell, "sh"] + progs[prog])
            if mode == "nontarget":
                with Bystander():
                    out[prog][mode].append(stamped(argv))
            else:
                out[prog][mode].append(stamped(argv))
    return out


def _ratio(side, base):
    return statistics.median(a / b for a, b in zip(side, base))


def markdown(res):
    lines = ["# --jitter: cost per clock read and everyday wall time", "",
             "Machine: %s, %d CPUs; load average at start %s, at end %s; %s; grain %s; "
             "%d rounds, configurations shuffled in each; the wrapper is `ethoswd "
             "--action monitor --jitter %s --jitter-mode MODE --`."
             % (res["kernel"], res["cpus"], " ".join(res["load_start"]),
                " ".join(res["load_end"]), res["time"], GRAIN, res["rounds"], GRAIN), "",
             "## Cost per clock read (ns)", "",
             "| clock source | bare | clamp | added | pause | added |",
             "|---|--:|--:|--:|--:|--:|"]
    for kind, by in res["per_read"].items():
        med = {m: statistics.median(v) for m, v in by.items() if v}
        add = {m: statistics.median(a - b for a, b in zip(by[m], by["bare"]))
               for m in ("clamp", "pause")}
        lines.append("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |"
                     % (kind, med["bare"], med["clamp"], add["clamp"], med["pause"],
                        add["pause"]))
    lines += ["", "## BPF modes (dynamic build; docs/jitter_bpf.md): cost per clock read (ns)",
              "", "`quantize`: the process is the target (`--jitter-via quantize -- CMD`); "
              "`nontarget`: another process is (the cost every other process pays).", "",
              "| clock source | bare | quantize | added | nontarget | added |",
              "|---|--:|--:|--:|--:|--:|"]
    for kind, by in res["per_read"].items():
        if not by.get("bare_dyn"):
            continue
        med = {m: statistics.median(by[m]) for m in BPF_MODES}
        add = {m: statistics.median(a - b for a, b in zip(by[m], by["bare_dyn"]))
               for m in ("quantize", "nontarget")}
        lines.append("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |"
                     % (kind, med["bare_dyn"], med["quantize"], add["quantize"],
                        med["nontarget"], add["nontarget"]))
    lines += ["", "## Everyday programs: wall time (ms) and ratio against bare", "",
              "`quantize` and `nontarget` as in the BPF rows above.", "",
              "| program | bare | " + " | ".join("%s | x bare" % m for m in EVERYDAY_MODES[1:])
              + " |", "|---|--:|" + "--:|--:|" * (len(EVERYDAY_MODES) - 1)]
    for prog, by in res["everyday"].items():
        cells = ["%.1f" % (statistics.median(by["bare"]) * 1000)]
        for m in EVERYDAY_MODES[1:]:
            if by.get(m):
                cells += ["%.1f" % (statistics.median(by[m]) * 1000),
                          "%.3f" % _ratio(by[m], by["bare"])]
            else:
                cells += ["-", "-"]
        lines.append("| %s | %s |" % (prog, " | ".join(cells)))
    return "\n".join(lines) + "\n"


def _load():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer reads and rounds")
    p.add_argument("--rounds", type=int, default=0, help="rounds (default 5, quick 2)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    a = p.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("jitter_bench.py: needs root (the watchdog loads BPF)")
    for need in (ETHOSWD, CLOCK_BENCH, CLOCK_BENCH_DYN):
        if not os.access(need, os.X_OK):
            sys.exit("jitter_bench.py: %s is missing: run make ethoswd and make -C bench"
                     % need)
    rounds = a.rounds or (2 if a.quick else 5)
    res = {"kernel": os.uname().release, "cpus": os.cpu_count(), "rounds": rounds,
           "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "load_start": _load(), "grain": GRAIN}
    res["per_read"] = per_read(rounds, a.quick)
    with tempfile.TemporaryDirectory() as tmp:
        res["everyday"] = everyday(rounds, tmp)
    res["load_end"] = _load()
    os.makedirs(a.out, exist_ok=True)
    text = markdown(res)
    with open(os.path.join(a.out, "jitter.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "jitter.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
