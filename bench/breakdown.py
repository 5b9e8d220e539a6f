#!/usr/bin/python3
"""breakdown.py - where the watchdog's per-read cost goes, term by term.

    sudo make -C bench breakdown           # about a minute
    sudo /usr/bin/python3 bench/breakdown.py [--rounds N]

Builds variants of the watchdog's probe that each remove or replace one
step of the hot path (wd_on_call() in probe/limiter.h), and measures them
next to the reference probe exactly as bench.py does: interleaved rounds,
wall ns per 1-byte read from undisturbed chunks, and bpf_stats ns/event.
The variants are for measurement only -- most of them no longer limit
correctly -- and are made by text substitution on the probe source in
memory: probe/ is never modified.  A substitution whose text is no longer
in the probe is reported and that variant skipped.

All variants count system-wide (action monitor), except "targeted", which
is the real probe restricted to the worker's PID; nothing is enforced.
Prints a Markdown table and writes results/breakdown.md.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402
from bench import log, median  # noqa: E402

CLOCK = "bpf_ktime_get_ns() / WD_NS_PER_MS"
ALLOWED = "__sync_fetch_and_add(&v->allowed, 1);\n\t\treturn 0;"
CAS = "__sync_val_compare_and_swap(&v->window, old, new) == old"
COMM_REFRESH = "if (calls == 1)\n\t\t\t\tbpf_get_current_comm(v->comm, sizeof(v->comm));"
CLOCK_LINE = "\t__u32 now_ms = bpf_ktime_get_ns() / WD_NS_PER_MS;\n"
AFTER_LOOKUP = "\n\t__u64 window = 0;\n"

# (name, what it shows, [(text in the probe, replacement)], whose PID is
# the target: None = system-wide, "worker", or "other" = a sleeping process,
# the worker being a bystander)
VARIANTS = [
    ("watchdog", "the probe as it is (monitor, system-wide)", [], None),
    ("no-clock", "bpf_ktime_get_ns() and the divide removed (window never "
     "moves)", [(CLOCK, "0")], None),
    ("jiffies-clock", "bpf_jiffies64() instead of bpf_ktime_get_ns()",
     [(CLOCK, "(__u32)bpf_jiffies64()")], None),
    ("shift-not-divide", "ns >> 20 instead of ns / 1000000",
     [(CLOCK, "(bpf_ktime_get_ns() >> 20)")], None),
    # The window never restarts here, so the once-per-window name refresh
    # would run on every call: it goes too.
    ("xadd-not-cas", "one atomic add instead of the compare-and-swap",
     [(CAS, "(__sync_fetch_and_add(&v->window, 1), 1)"), (COMM_REFRESH, "")],
     None),
    ("no-allowed-add", "without the atomic add to v->allowed",
     [(ALLOWED, "return 0;")], None),
    ("targeted", "the probe as it is, worker only (--pid)", [], "worker"),
    ("bystander", "the probe as it is, another process targeted: the "
     "worker's reads are filtered out", [], "other"),
    ("bystander-clock-late", "as bystander, the clock read moved after the "
     "wd_state lookup", [(CLOCK_LINE, ""), (AFTER_LOOKUP, "\n" + CLOCK_LINE + AFTER_LOOKUP[1:])],
     "other"),
]


class Variant(B.Config):
    """A patched copy of the watchdog probe, built, attached and detached
    by ethoswd.probe.Probe exactly like the real one."""
    role = "variant"

    def __init__(self, name, label, text, flags, backend, target_pid):
        from ethoswd.probe import Probe
        super().__init__(name, label)
        self.backend = backend
        self.probe = Probe(self.bcc, flags, text=text)
        self.probe.configure(B.SAFE_MAX_CALLS, B.WINDOW_MS,
                             [target_pid] if target_pid else [])

    def attach(self):
        self.probe.attach(self.backend)

    def detach(self):
        self.probe.detach()

    def hot_prog(self):
        return B._prog_of(self.probe.bpf, B.WD_HOT_FN[self.backend])

    def close(self):
        self.probe.close()


def points_for(module, backend):
    """The hooks of a backend; module: any loaded bcc.BPF (for syscall names)."""
    from ethoswd import features
    if backend == "tracepoint":
        return [("tracepoint", "syscalls:sys_enter_" + s) for s in features.READ_SYSCALLS]
    if backend == "kprobe":
        return [("kprobe", module.get_syscall_fnname(s.encode()).decode())
                for s in features.READ_SYSCALLS]
    return [("lsm", "file_permission")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--chunks", type=int, default=60)
    ap.add_argument("--out", default=os.path.join(B.BENCH_DIR, "results"))
    a = ap.parse_args()

    from ethoswd import environment, features
    from ethoswd.probe import cflags, source_text
    environment.require_root()
    environment.mount_pseudo_filesystems()
    bcc = environment.import_bcc()
    environment.require_headers()
    feats = features.Features()
    backend, _, _ = features.choose(feats, "auto", "auto")
    info = B.machine_info()
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1] if len(cpus) > 1 else None
    worker = B.Worker(cpu)
    other = B.subprocess.Popen([B.WORKER_BIN, "wait"])
    target_pids = {None: None, "worker": worker.pid, "other": other.pid}
    if cpu is not None:
        os.sched_setaffinity(0, set(cpus) - {cpu})
    Variant.bcc = bcc
    old = B.read_sysctl(B.STATS_SYSCTL)
    configs = []
    try:
        worker.chunks("read", 10000, 3)
        n = int(min(500000, max(500, 1e6 / worker.run("read", 5000, 20))))
        ref = B.manual_bpf(bcc)(src_file=B.REF_SOURCE.encode(),
                                cflags={"kprobe": ["-DREF_KPROBE"],
                                        "lsm": ["-DREF_LSM"]}.get(backend, []))
        pts = points_for(ref, backend)
        ref_fn = {"tracepoint": "ref_tp", "kprobe": "ref_kprobe",
                  "lsm": "lsm__file_permission"}[backend]
        configs = [B.Config("none", "no BPF program"),
                   B.RefConfig("ref-empty", "empty program", ref, "ref_empty",
                               pts, backend, "-", counts=False),
                   B.RefConfig("reference", "ref_probe.c: lookup-or-init + atomic add",
                               ref, ref_fn, pts, backend, "-")]
        if backend != "tracepoint":
            configs.pop(1)      # ref_empty is a tracepoint program
        src = source_text()
        skipped = []
        for name, label, patches, whom in VARIANTS:
            text = src
            missing = [old_text for old_text, _ in patches if old_text not in text]
            if missing:
                skipped.append("%s (text not found: %r)" % (name, missing[0][:40]))
                continue
            for old_text, new_text in patches:
                text = text.replace(old_text, new_text)
            target = target_pids[whom]
            flags = cflags(backend, "monitor", os.getpid(),
                           [target] if target else [], [], [],
                           B.DEFS["WD_MAX_PIDS"],
                           feats.offsets(backend))
            log("compiling variant %s" % name)
            try:
                configs.append(Variant(name, label, text, flags, backend, target))
            except Exception as e:      # a patch that no longer compiles
                skipped.append("%s (%s)" % (name, str(e).strip().splitlines()[-1][:80]))
        res = {c.name: {"read": [], "stats": []} for c in configs}
        rng = random.Random()
        for r in range(a.rounds):
            log("round %d/%d" % (r + 1, a.rounds))
            order = list(configs)
            rng.shuffle(order)
            for c in order:
                c.attach()
                try:
                    worker.chunks("read", n, 5)
                    res[c.name]["read"].append(worker.run("read", n, a.chunks))
                    if c.role != "none":
                        B.write_sysctl(B.STATS_SYSCTL, "1")
                        pid, fd = c.hot_prog()
                        t0, c0 = B.prog_stats(fd)
                        worker.chunks("read", n, a.chunks)
                        t1, c1 = B.prog_stats(fd)
                        B.write_sysctl(B.STATS_SYSCTL, old)
                        if c1 > c0:
                            res[c.name]["stats"].append((t1 - t0) / (c1 - c0))
                finally:
                    c.detach()
    finally:
        B.write_sysctl(B.STATS_SYSCTL, old)
        for c in configs:
            c.close()
        worker.close()
        other.kill()
        other.wait()

    base = median(res["none"]["read"])
    ref_add = median(res["reference"]["read"]) - base
    ref_st = median(res["reference"]["stats"])
    wd_st = median(res["watchdog"]["stats"]) if res.get("watchdog", {}).get("stats") else None
    rows = []
    for c in configs:
        r = res[c.name]
        rd = median(r["read"])
        st = median(r["stats"]) if r["stats"] else None
        rows.append([c.name, c.label, B.f1(rd), B.f1(rd - base) if c.role != "none" else "-",
                     B.f2((rd - base) / ref_add) if c.role == "variant" else "-",
                     B.f1(st), B.f2(st / ref_st) if st and c.role == "variant" else "-",
                     B.f1(st - wd_st) if st and wd_st and c.role == "variant" else "-"])
    text = ["# Where the watchdog's per-read cost goes (%s backend)" % backend, "",
            "Machine: %d CPU (%s), kernel %s, virt %s; %s; %d rounds x %d chunks of %d reads." % (
                info["nproc"], info["cpu_model"], info["kernel"], info["virt"], info["date"],
                a.rounds, a.chunks, n), "",
            B.md_table(["variant", "what", "read ns", "added ns", "added / ref",
                        "bpf_stats ns/event", "x ref", "vs watchdog"], rows,
                       ["l", "l", "r", "r", "r", "r", "r", "r"])]
    if skipped:
        text += ["", "Skipped: " + "; ".join(skipped)]
    out = "\n".join(text) + "\n"
    print(out)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "breakdown.md"), "w") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
