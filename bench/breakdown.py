#!/usr/bin/python3
"""breakdown.py - where the watchdog's per-read cost goes, term by term.

    sudo make -C bench breakdown           # about a minute
    sudo /usr/bin/python3 bench/breakdown.py [--rounds N]

Builds variants of the watchdog's probe that each remove or replace one
step of the hot path (wd_charge() and wd_count() in probe/limiter.h), and
measures them next to the reference probe with bench.py's pieces:
interleaved rounds, wall ns per 1-byte read from undisturbed chunks, and
bpf_stats ns/event.  The variants are for measurement only -- most of
them no longer limit correctly -- and are made by text substitution on
the probe source in memory: probe/ is never modified.  Each substituted
text must occur exactly once in the probe: if the probe has changed so
that a patch no longer applies (or no longer compiles), the run stops
with an error naming the variant and the patch, instead of publishing a
table without it.

All variants count system-wide (action monitor), except "targeted", which
is the real probe restricted to the worker's PID; nothing is enforced.
Prints a Markdown table and writes results/breakdown.md.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (also puts the repository on sys.path)
from common import BenchError, median  # noqa: E402
from configs import Config, Loader, ref_config  # noqa: E402
from ethoswd import cli  # noqa: E402
from machine import bpf_stats, machine_info  # noqa: E402
from phases import Quiet, rounds, stats_sample  # noqa: E402
from report import f1, f2, md_table  # noqa: E402
from worker import pick_cpu, workers  # noqa: E402

CLOCK = "bpf_ktime_get_ns() / WD_NS_PER_MS"
ALLOWED = "\t\t__sync_fetch_and_add(&v->allowed, 1);\n"
COUNT = "__u32 n = wd_count(v, cfg->window_ms, now_ms, c->tgid, &window);"

CLASS_CHECK = "if (WD_ON_CLASS && !wd_class_has(wd_fd_file(ctx->args[arg])))"
SYSINFO = ("--count", "sysinfo")

# (name, what it shows, [(text in the probe, replacement)], scope: "all"
# = system-wide, "target" = the worker, "other" = a sleeping process, the
# worker being a bystander[, the watchdog.py options of a policy])
VARIANTS = [
    ("watchdog", "the probe as it is (monitor, system-wide)", [], "all"),
    ("no-clock", "bpf_ktime_get_ns() and the divide removed (window never "
     "moves)", [(CLOCK, "0")], "all"),
    ("jiffies-clock", "bpf_jiffies64() instead of bpf_ktime_get_ns()",
     [(CLOCK, "(__u32)bpf_jiffies64()")], "all"),
    ("shift-not-divide", "ns >> 20 instead of ns / 1000000",
     [(CLOCK, "(bpf_ktime_get_ns() >> 20)")], "all"),
    ("bare-xadd", "wd_count() replaced by one atomic add on the window word "
     "(no window check, saturation test or retry loop)",
     [(COUNT, "__u32 n = (__u32)(window = __sync_fetch_and_add(&v->window, 1) + 1);")],
     "all"),
    ("no-allowed-add", "without the atomic add to v->allowed",
     [(ALLOWED, "")], "all"),
    ("targeted", "the probe as it is, worker only (--pid)", [], "target"),
    ("bystander", "the probe as it is, another process targeted: the "
     "worker's reads are filtered out", [], "other"),
    ("class-sysinfo", "worker only, --count sysinfo: each /dev/zero read's file is "
     "looked up and let go (the class check, tracepoint shim)", [], "target", SYSINFO),
    ("class-skipped", "the same without the class check: the call is let go after "
     "the target lookup", [(CLASS_CHECK, "if (WD_ON_CLASS)")], "target", SYSINFO),
]


def patched(src, name, patches):
    """src with the variant's patches applied; a BenchError naming the
    variant and the patch if a patch's text is not in src exactly once."""
    text = src
    for old, new in patches:
        n = text.count(old)
        if n != 1:
            raise BenchError("breakdown variant %s: patch %r -> %r does not apply to "
                             "the current probe (the text occurs %d times, not once); "
                             "update VARIANTS in bench/breakdown.py" % (name, old, new, n))
        text = text.replace(old, new)
    return text


def variant_configs(src, backend):
    out = []
    for name, label, patches, scope, *argv in VARIANTS:
        pol = cli.parse(list(argv[0])).policy if argv else None
        out.append(Config("variant", label, backend=backend, scope=scope, name=name, policy=pol,
                          source=patched(src, name, patches) if patches else None))
    return out


def load_all(loader, configs):
    for c in configs:
        try:
            loader.load(c)
        except Exception as e:      # a patch that no longer compiles
            if c.kind != "variant" or c.source is None:
                raise
            raise BenchError("breakdown variant %s no longer compiles: %s" % (
                c.name, str(e).strip().splitlines()[-1][:200]))
    return configs


def measure(configs, worker, n, n_rounds, chunks):
    """{name: {"read": [wall ns per read], "stats": [bpf_stats ns per run],
    "dropped": samples dropped for other processes' syscall hooks}}."""
    p = {"chunks": chunks}
    res = {c.name: {"read": [], "stats": [], "dropped": 0} for c in configs}

    def sample(c):
        worker.chunks("read", n, 5)
        wall = worker.run("read", n, chunks)
        if c.kind == "none":
            return wall, None
        with bpf_stats():
            return wall, stats_sample(c, worker, p, n)[0]

    quiet = Quiet()
    for c, before_hooks, (wall, ns) in rounds(configs, n_rounds, random.Random(), sample,
                                              before=quiet.before):
        if ns is not None:      # in-kernel: other processes' hooks do not add to it
            res[c.name]["stats"].append(ns)
        if quiet.seen(before_hooks):
            res[c.name]["dropped"] += 1
        else:
            res[c.name]["read"].append(wall)
    return res


def render(info, backend, configs, res, a, n):
    base = median(res["none"]["read"])
    ref_add = median(res["reference"]["read"]) - base
    ref_st = median(res["reference"]["stats"])
    wd_st = median(res["watchdog"]["stats"]) if res["watchdog"]["stats"] else None
    rows = []
    for c in configs:
        r = res[c.name]
        rd = median(r["read"])
        st = median(r["stats"]) if r["stats"] else None
        var = c.kind == "variant"
        rows.append([c.name, c.label, f1(rd), f1(rd - base) if c.kind != "none" else "-",
                     f2((rd - base) / ref_add) if var else "-",
                     f1(st), f2(st / ref_st) if st and var else "-",
                     f1(st - wd_st) if st and wd_st and var else "-"])
    return "\n".join([
        "# Where the watchdog's per-read cost goes (%s backend)" % backend, "",
        "Machine: %d CPU (%s), kernel %s, virt %s; %s; load average %s; "
        "%d rounds x %d chunks of %d reads." % (
            info["nproc"], info["cpu_model"], info["kernel"], info["virt"], info["date"],
            info["loadavg_start"], a.rounds, a.chunks, n), "",
        md_table(["variant", "what", "read ns", "added ns", "added / ref",
                  "bpf_stats ns/event", "x ref", "vs watchdog"], rows,
                 ["l", "l", "r", "r", "r", "r", "r", "r"])] + _dropped(res)) + "\n"


def _dropped(res):
    d = {n: r["dropped"] for n, r in res.items() if r["dropped"]}
    if not d:
        return []
    return ["", "Wall-time samples dropped while another process had BPF programs on "
            "syscall tracepoints (bpf_stats kept): " +
            ", ".join("%s %d" % kv for kv in d.items()) + "."]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--chunks", type=int, default=60)
    ap.add_argument("--out", default=common.RESULTS)
    a = ap.parse_args()
    from ethoswd import features
    from ethoswd.probe import source_text
    bcc = common.start_bcc()
    feats = features.Features()
    backend, _, _ = features.choose(feats, "auto", "auto")
    variants = variant_configs(source_text(), backend)  # a patch that fails stops here
    info = machine_info()
    loader = Loader(bcc, feats, {}, ref_families=[backend])
    try:
        with workers(pick_cpu(), sleeper=True) as (worker, other):
            loader.pids = {"target": worker.pid, "other": other.pid}
            worker.chunks("read", 10000, 3)
            n = int(min(500000, max(500, 1e6 / worker.run("read", 5000, 20))))
            base = [Config("none", "no BPF program"),
                    ref_config(backend, "ref_probe.c: lookup-or-init + atomic add",
                               name="reference")]
            if backend == "tracepoint":     # ref_empty is a tracepoint program
                base.insert(1, Config("ref", "empty program", backend=backend,
                                      program="ref_empty"))
            configs = load_all(loader, base + variants)
            res = measure(configs, worker, n, a.rounds, a.chunks)
    finally:
        loader.close()
    out = render(info, backend, configs, res, a, n)
    print(out)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "breakdown.md"), "w") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    common.run_main(main)
