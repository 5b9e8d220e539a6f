#!/usr/bin/python3
"""Run the jitter attacker suite (research/jitter) and write its results.

    /usr/bin/python3 research/jitter/run.py [--wrap "PREFIX --"] [--label NAME]
    /usr/bin/python3 research/jitter/run.py plot FILE.json... --out PNG
    /usr/bin/python3 research/jitter/run.py noise FILE.json... --out MD
    /usr/bin/python3 research/jitter/run.py report FILE.json --out MD

Builds the attackers (make -C research/jitter), measures the work unit's
speed once without any wrapper (so W means the same iteration count in every
run), then runs each attacker, dynamic and static, under the optional
wrapper prefix (a defence such as `ethoswd --jitter 100us --jitter-mode
clamp --`), collects their JSON lines and writes OUT/LABEL.json (every line
and how each program ended), OUT/LABEL.md (tables) and OUT/LABEL.png (the
averaging attack's estimate of W against N).  With a wrapper, the clock
survey also runs without it in the same invocation, so the added cost per
read is measured against an unmediated read of the same run.  README.md
defines every field and metric.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import everyday  # noqa: E402
import report  # noqa: E402

DEFAULT_PLOT_CLOCKS = "monotonic,thread_cputime,rdtsc,gettimeofday,monotonic_coarse,counter"

BIN = os.path.join(HERE, "bin")
PROGS = ("clocks", "avg", "edge", "speed")


def build():
    """make -C research/jitter; a failure stops the run with make's output."""
    r = subprocess.run(["make", "-s", "-C", HERE], capture_output=True, text=True)
    if r.returncode:
        sys.exit("run.py: building the attackers failed:\n" + r.stdout + r.stderr)


def binary(prog, build_kind):
    name = "jitter_" + prog + ("-static" if build_kind == "static" else "")
    return os.path.join(BIN, name)


def run_prog(argv, timeout):
    """Run one attacker; returns how it ended and the JSON lines it printed.

    Lines that do not start with '{' (a wrapper's own messages) are kept
    apart; a line that starts with '{' but does not parse is 'malformed'.
    """
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    except OSError as e:
        rc, out, err = "exec-failed", "", str(e)
    lines, other, malformed = [], [], 0
    for line in out.splitlines():
        if not line.startswith("{"):
            other.append(line)
            continue
        try:
            lines.append(json.loads(line))
        except ValueError:
            malformed += 1
    ended = rc if not isinstance(rc, int) or rc >= 0 else "signal %s" % signal.Signals(-rc).name
    return {"argv": argv, "exit": ended, "wall_s": round(time.monotonic() - t0, 3),
            "lines": lines, "malformed": malformed, "other_stdout": other[-20:],
            "stderr_tail": err.splitlines()[-20:]}


def calibrate():
    """The work unit's iterations per us, measured without any wrapper."""
    best = 0.0
    for _ in range(3):
        r = run_prog([binary("clocks", "dynamic"), "-c", "monotonic"], 60)
        for line in r["lines"]:
            if line.get("attack") == "setup" and line.get("ipu"):
                best = max(best, line["ipu"])
    if not best:
        sys.exit("run.py: the work unit could not be calibrated (jitter_clocks gave no ipu)")
    return best


def prog_args(prog, args, ipu):
    a = ["--ipu", "%.3f" % ipu, "-b", str(args.budget_ms)]
    if prog == "avg":
        a += ["-n", str(args.nmax)]
    if args.clocks:
        a += ["-c", args.clocks]
    if args.quick:
        a.append("-q")
    return a


def _loadavg():
    """The machine's 1, 5 and 15 minute load (it is shared: context for the noise)."""
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def measure(args):
    bad = set(args.progs.split(",")) - set(PROGS)
    if bad:
        sys.exit("run.py: unknown program(s) %s in --progs: use %s" %
                 (",".join(sorted(bad)), ",".join(PROGS)))
    build()
    ipu = args.ipu or calibrate()
    wrap = shlex.split(args.wrap) if args.wrap else []
    res = {"label": args.label, "grain": args.grain or args.label, "wrap": args.wrap or "",
           "ipu": ipu, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
           "host": os.uname().release, "loadavg_start": _loadavg(), "runs": [],
           "reference": []}
    for kind in args.builds.split(","):
        for prog in args.progs.split(","):
            n = args.speed_runs if prog == "speed" and kind == "dynamic" else 1
            for i in range(n):
                argv = wrap + [binary(prog, kind)] + prog_args(prog, args, ipu)
                which = " (run %d of %d)" % (i + 1, n) if n > 1 else ""
                print("run.py: %s %s%s" % (kind, prog, which), file=sys.stderr, flush=True)
                r = run_prog(argv, args.timeout)
                r.update(prog=prog, build=kind, run=i)
                res["runs"].append(r)
        if wrap:  # the unmediated survey of the same invocation
            r = run_prog([binary("clocks", kind)] + prog_args("clocks", args, ipu),
                         args.timeout)
            r.update(prog="clocks", build=kind, run=0)
            res["reference"].append(r)
    if args.everyday:
        res["everyday"] = everyday.run(wrap, args.everyday_reps, HERE)
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    res["loadavg_end"] = _loadavg()
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.label)
    with open(base + ".json", "w") as f:
        json.dump(res, f, indent=None, separators=(",", ":"))
        f.write("\n")
    with open(base + ".md", "w") as f:
        f.write(report.markdown(res))
    if args.plot_clocks:  # matplotlib (python3-matplotlib) only when plotting
        import plot
        plot.estimates([res], base + ".png", args.plot_clocks.split(","))
    print("run.py: wrote %s.json, .md%s" % (base, ", .png" if args.plot_clocks else ""),
          file=sys.stderr)
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wrap", default="", help="command prefix each attacker runs under")
    p.add_argument("--label", default="baseline", help="result file name (default baseline)")
    p.add_argument("--grain", default="", help="the panel title in plots (default: label)")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="output directory")
    p.add_argument("--builds", default="dynamic,static")
    p.add_argument("--clocks", default="", help="comma-separated clock names (default all)")
    p.add_argument("--progs", default=",".join(PROGS),
                   help="attackers to run, of %s (default all)" % ",".join(PROGS))
    p.add_argument("--budget-ms", type=int, default=500, help="the attacker's burst")
    p.add_argument("--nmax", type=int, default=3000, help="averaging samples per W")
    p.add_argument("--speed-runs", type=int, default=5,
                   help="runs of the CPU-speed probe (dynamic build) for its spread")
    p.add_argument("--ipu", type=float, default=0.0, help="work-unit iterations per us")
    p.add_argument("--quick", action="store_true", help="small N and budgets (smoke test)")
    p.add_argument("--timeout", type=int, default=1800, help="per program, seconds")
    p.add_argument("--everyday", action="store_true",
                   help="also time everyday programs, bare against wrapped, paired")
    p.add_argument("--everyday-reps", type=int, default=5)
    p.add_argument("--plot-clocks", default=DEFAULT_PLOT_CLOCKS,
                   help="clocks (rows) of the plot; empty: no plot")
    return p.parse_args(argv)


def main(argv):
    if argv and argv[0] in ("plot", "noise", "report"):
        p = argparse.ArgumentParser(prog="run.py " + argv[0])
        p.add_argument("files", nargs="+")
        p.add_argument("--out", required=True)
        p.add_argument("--clocks", default=DEFAULT_PLOT_CLOCKS)
        a = p.parse_args(argv[1:])
        results = []
        for name in a.files:
            with open(name) as f:
                results.append(json.load(f))
        if argv[0] == "plot":
            import plot
            plot.estimates(results, a.out, a.clocks.split(","))
        else:
            with open(a.out, "w") as f:
                f.write(report.noise(results) if argv[0] == "noise" else
                        report.markdown(results[0]))
        return 0
    return measure(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
