"""Wall time of everyday programs, bare against under a wrapper prefix.

Each program runs once bare and once wrapped as a warm-up, then REPS pairs
in alternating order (A B, B A, ...), so a drift of the shared machine's
speed falls on both sides; the ratio is taken pair by pair, of wall time
(the metric) and of CPU time (user + system, less sensitive to the other
jobs on a shared machine; a supervisor's own CPU counts only if it is the
process waited for).  Without a
wrapper both sides run bare: the A/A ratios show the harness's own noise.
"""

import os
import shutil
import statistics
import subprocess
import tempfile
import time

SMALL_C = """#include <stdio.h>
#include <string.h>
struct item { char name[32]; int value; };
static int cmp(const void *a, const void *b)
{
\treturn ((const struct item *)a)->value - ((const struct item *)b)->value;
}
int main(int argc, char **argv)
{
\tstruct item items[16];
\tfor (int i = 0; i < 16; i++) {
\t\tsnprintf(items[i].name, sizeof(items[i].name), "item%d", i);
\t\titems[i].value = (i * 7919) % 16;
\t}
\tqsort(items, 16, sizeof(items[0]), cmp);
\tprintf("%s %d\\n", items[0].name, argc > 1 ? (int)strlen(argv[1]) : 0);
\treturn 0;
}
"""


def programs(tmp, repo):
    """(name, argv) of each everyday program; argv[0] is looked up on PATH."""
    py = "/usr/bin/python3"
    return [
        ("gcc -c", ["gcc", "-O2", "-c", os.path.join(tmp, "small.c"), "-o",
                    os.path.join(tmp, "small.o")]),
        ("git status", ["git", "-C", repo, "status", "--short"]),
        ("git log", ["git", "-C", repo, "log", "--oneline", "-n", "500"]),
        ("tar /usr/include", ["tar", "-cf", os.path.join(tmp, "inc.tar"), "-C", "/usr",
                              "include"]),
        ("sha256sum 64 MiB", ["sha256sum", os.path.join(tmp, "big.bin")]),
        ("python3 -c", [py, "-c", "pass"]),
        ("python3 timeit", [py, "-m", "timeit", "-n", "20000", "-r", "3", "sum(range(50))"]),
        ("node -e loop", ["node", "-e",
                          "let s=0;for(let i=0;i<3e7;i++){s+=i}console.log(s)"]),
    ]


def _prepare(tmp):
    with open(os.path.join(tmp, "small.c"), "w") as f:
        f.write(SMALL_C)
    with open(os.path.join(tmp, "big.bin"), "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(64):
            f.write(chunk)


def _time(argv):
    """Wall seconds, CPU seconds (user + system of the process and the
    children it reaped) and exit code of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, p.returncode


def _spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def run(wrap, reps, here):
    """Time every program REPS times bare (A) and wrapped (B), paired."""
    repo = os.path.dirname(os.path.dirname(here))
    tmp = tempfile.mkdtemp(prefix="jitter-everyday-")
    rows = []
    try:
        _prepare(tmp)
        for name, argv in programs(tmp, repo):
            if not shutil.which(argv[0]):
                rows.append({"name": name, "skipped": "%s is not installed" % argv[0]})
                continue
            a_argv, b_argv = argv, list(wrap) + argv
            _time(a_argv)
            _time(b_argv)
            wall = {"a": [], "b": []}
            cpu = {"a": [], "b": []}
            codes = set()
            for i in range(reps):
                pair = [("a", a_argv), ("b", b_argv)]
                for side, av in (pair if i % 2 == 0 else pair[::-1]):
                    t, c, rc = _time(av)
                    wall[side].append(t)
                    cpu[side].append(c)
                    codes.add(rc)
            rows.append({"name": name, "argv": argv, "exit_codes": sorted(codes),
                         "bare_s": _spread(wall["a"]), "wrapped_s": _spread(wall["b"]),
                         "ratio": _spread([b / a for a, b in zip(wall["a"], wall["b"])]),
                         "bare_cpu_s": _spread(cpu["a"]), "wrapped_cpu_s": _spread(cpu["b"]),
                         "cpu_ratio": _spread([b / a if a else float("nan")
                                               for a, b in zip(cpu["a"], cpu["b"])])})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"wrap": " ".join(wrap), "reps": reps, "rows": rows}
