"""readmix.py - measure how many read-family calls real programs make.

For each command it runs the command under readmix.bt (bpftrace), which logs
every read/pread64/readv/preadv/preadv2 call of the command's process tree,
then windows the log offline the way the watchdog does: a fixed window opens
at a key's first counted call, and a call at t with t - start >= WINDOW
opens the next one at t.  Four peaks per run:
  all/process   most calls of one process (tgid) in one window, every read
  all/tree      same, the whole tree sharing one budget
  sys/process   only reads of kernel-information filesystems or identity files
  sys/tree      same, per tree
Each command runs RUNS times; the table keeps the max of each column and
lists the tree peaks of every run.

  /usr/bin/python3 bench/readmix/readmix.py [-r RUNS] [-o DIR] [-k NAME...] [--keep]
  /usr/bin/python3 bench/readmix/readmix.py --table out/results.json

Needs root and bpftrace.  Standard library only.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "readmix.bt")
WINDOW_NS = 500 * 1000 * 1000

SYSINFO_MAGICS = {
    0x9fa0: "proc", 0x62656572: "sysfs", 0x64626720: "debugfs",
    0x73636673: "securityfs", 0x74726163: "tracefs", 0x27e0eb: "cgroup",
    0x63677270: "cgroup2", 0x62656570: "configfs", 0xde5e81e4: "efivarfs"}
IDENTITY_FILES = (
    "/etc/machine-id", "/etc/hostname", "/etc/os-release",
    "/usr/lib/os-release", "/var/lib/dbus/machine-id",
    "/etc/debian_version", "/etc/lsb-release")

HELLO = "/tmp/readmix-hello"
BIG = "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"
EV, FP, SI = "everyday", "fingerprint", "sysinfo"
COMMANDS = [  # (name, class, shell command, cwd)
    ("gcc -O2 hello.c", EV, "gcc -O2 -o hello hello.c", HELLO),
    ("grep -r limiter .", EV, "grep -r limiter . >/dev/null", REPO),
    ("tar czf /tmp/x.tgz .", EV, "tar czf /tmp/readmix-x.tgz .", REPO),
    ("sha256sum 112 MB file", EV, "sha256sum " + BIG, REPO),
    ("python3 -m pytest --version", EV,
     "/usr/bin/python3 -m pytest --version", REPO),
    ("make -C tests/progs -B", EV, "make -C tests/progs -B", REPO),
    ("git log --oneline | wc -l", EV, "git log --oneline | wc -l", REPO),
    ("dpkg -l | wc -l", EV, "dpkg -l | wc -l", REPO),
    ("apt-cache policy bash", EV, "apt-cache policy bash", REPO),
    ("ls -lR /usr/share/doc", EV, "ls -lR /usr/share/doc >/dev/null", REPO),
    ("200 x cat /etc/hostname", EV,
     "for i in $(seq 200); do cat /etc/hostname; done >/dev/null", REPO),
    ("lshw -short", FP, "lshw -short", REPO),
    ("neofetch --stdout", FP, "neofetch --stdout", REPO),
    ("virt-what", FP, "virt-what", REPO),
    ("dmidecode", FP, "dmidecode", REPO),
    ("inxi -F", FP, "inxi -F", REPO),
    ("hostnamectl", FP, "hostnamectl", REPO),
    ("lscpu", FP, "lscpu", REPO),
    ("lsblk", FP, "lsblk", REPO),
    ("lspci", FP, "lspci", REPO),
    ("systemd-detect-virt", FP, "systemd-detect-virt", REPO),
    ("ps aux", SI, "ps aux", REPO),
    ("top -bn1", SI, "top -bn1", REPO),
    ("free", SI, "free", REPO),
    ("uptime", SI, "uptime", REPO),
    ("df -h", SI, "df -h", REPO),
]


def identity_keys():
    """(kernel s_dev, inode) of each identity file that exists."""
    keys = {}
    for path in IDENTITY_FILES:
        try:
            st = os.stat(path)
        except OSError:
            continue
        kdev = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
        keys[(kdev, st.st_ino)] = path
    return keys


def peak(times):
    """Most calls in one fixed window, windows anchored at first call."""
    best = count = 0
    start = None
    for t in times:
        if start is None or t - start >= WINDOW_NS:
            start, count = t, 0
        count += 1
        best = max(best, count)
    return best


def trace_one(cmd, cwd, logdir, tag, timeout=180):
    """Run cmd (sh -c) under the tracer; return (trace lines, rc, errlog)."""
    gate_r, gate_w = os.pipe()
    err_path = os.path.join(logdir, tag + ".stderr")
    child = os.fork()
    if child == 0:  # blocked until the tracer is attached, then exec
        try:
            os.close(gate_w)
            os.setsid()
            os.read(gate_r, 1)
            os.chdir(cwd)
            fd = os.open("/dev/null", os.O_RDWR)
            os.dup2(fd, 0)
            os.dup2(fd, 1)
            efd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(efd, 2)
            os.execv("/bin/sh", ["sh", "-c", cmd])
        finally:
            os._exit(127)
    os.close(gate_r)
    out_path = os.path.join(logdir, tag + ".trace")
    env = dict(os.environ, BPFTRACE_PERF_RB_PAGES="4096")
    with open(out_path, "w") as out:
        tracer = subprocess.Popen(["bpftrace", SCRIPT, str(child)],
                                  stdout=out, stderr=subprocess.PIPE,
                                  env=env)
    try:
        deadline = time.time() + 60
        while True:
            with open(out_path) as f:
                if "READY" in f.read():
                    break
            if tracer.poll() is not None or time.time() > deadline:
                raise RuntimeError("bpftrace did not attach: %s"
                                   % tracer.stderr.read().decode())
            time.sleep(0.05)
        os.write(gate_w, b"x")
        os.close(gate_w)
        t_end = time.time() + timeout
        rc = None
        while rc is None:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
            elif time.time() > t_end:
                os.killpg(child, signal.SIGKILL)
            else:
                time.sleep(0.02)
        for _ in range(200):  # let descendants left in the session finish
            try:
                os.killpg(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        tracer.send_signal(signal.SIGINT)
        _, terr = tracer.communicate(timeout=60)
    with open(out_path) as f:
        lines = f.read().splitlines()
    with open(err_path) as f:
        err = f.read()
    return lines, rc, err, terr.decode()


def analyse(lines, ident):
    """Peaks, process count, totals and lost-event count of one trace."""
    calls, procs, lost = [], set(), 0
    for line in lines:
        p = line.split()
        if not p:
            continue
        if p[0] == "R" and len(p) == 7:
            t, tgid = int(p[1]), int(p[2])
            magic, dev, ino = int(p[4], 16), int(p[5]), int(p[6])
            sysinfo = magic in SYSINFO_MAGICS or (dev, ino) in ident
            calls.append((t, tgid, sysinfo))
            procs.add(tgid)
        elif p[0] == "E":
            procs.add(int(p[2]))
        elif p[0] == "Lost":
            lost += int(p[1])
    calls.sort()
    res = {"procs": len(procs), "calls": len(calls),
           "sys_calls": sum(1 for c in calls if c[2]), "lost": lost}
    for cls, keep in (("all", lambda c: True), ("sys", lambda c: c[2])):
        chosen = [c for c in calls if keep(c)]
        per = {}
        for t, tgid, _ in chosen:
            per.setdefault(tgid, []).append(t)
        res[cls + "_proc"] = max((peak(v) for v in per.values()), default=0)
        res[cls + "_tree"] = peak([c[0] for c in chosen])
    return res


def table(path):
    """Markdown table of a results.json: max over runs, then each run."""
    data = json.load(open(path))
    rows = ["| program | class | processes | all: max per process "
            "| all: per tree | sysinfo: max per process | sysinfo: per tree "
            "| total calls (sysinfo) | runs: all/tree; sysinfo/tree | note |",
            "|" + " --- |" * 10]
    for r in data["results"]:
        runs = r["runs"]
        mx = {k: max(x[k] for x in runs) for k in
              ("procs", "calls", "sys_calls", "all_proc", "all_tree",
               "sys_proc", "sys_tree", "lost")}
        spread = "%s; %s" % tuple(",".join(str(x[k]) for x in runs)
                                  for k in ("all_tree", "sys_tree"))
        note = sorted({"rc=%d: %s" % (x["rc"], x["err"][0][:60])
                       for x in runs if x["rc"]})
        if mx["lost"]:
            note.append("LOST EVENTS: %d" % mx["lost"])
        rows.append("| `%s` | %s | %d | %d | %d | %d | %d | %d (%d) | %s | %s |"
                    % (r["name"].replace("|", "\\|"), r["class"], mx["procs"], mx["all_proc"],
                       mx["all_tree"], mx["sys_proc"], mx["sys_tree"],
                       mx["calls"], mx["sys_calls"],
                       spread, "; ".join(note)
                       .replace("|", "\\|")))
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-r", "--runs", type=int, default=3)
    ap.add_argument("-o", "--out", default="/tmp/readmix-out")
    ap.add_argument("-k", "--only", nargs="*", help="command names to run")
    ap.add_argument("--keep", action="store_true", help="keep raw traces")
    ap.add_argument("--table", metavar="JSON",
                    help="print the markdown table of a results.json")
    a = ap.parse_args()
    if a.table:
        sys.stdout.write(table(a.table))
        return 0
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(HELLO, exist_ok=True)
    with open(os.path.join(HELLO, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void)'
                '{ puts("hello"); return 0; }\n')
    ident = identity_keys()
    results = []
    for i, (name, cls, cmd, cwd) in enumerate(COMMANDS):
        if a.only and name not in a.only:
            continue
        runs = []
        for r in range(a.runs):
            tag = "%02d-%d" % (i, r)
            lines, rc, err, terr = trace_one(cmd, cwd, a.out, tag)
            res = analyse(lines, ident)
            res.update(rc=rc, err=err.strip().splitlines()[-1:] or [""])
            if "Lost" in terr:
                res["lost"] += 1  # keep the warning visible either way
            runs.append(res)
            print("%-28s run %d rc=%s %s" % (name, r, rc, json.dumps(
                {k: res[k] for k in res if k != "err"})), flush=True)
            if not a.keep:
                os.unlink(os.path.join(a.out, tag + ".trace"))
        results.append({"name": name, "class": cls, "cmd": cmd,
                        "runs": runs})
    path = os.path.join(a.out, "results.json")
    with open(path, "w") as f:
        json.dump({"window_ms": WINDOW_NS // 10**6,
                   "identity": sorted(ident.values()),
                   "results": results}, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    sys.exit(main())
