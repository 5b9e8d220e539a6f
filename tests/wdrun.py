"""Run a watchdog front end from a test and collect its JSON records.

    run = Watchdog(["--action", "monitor"], cmd=aggressive_cmd(reads=500))
    run.wait_started()              # the 'start' record: enforcing now
    res = run.finish()              # exit status, records, stderr
    res.summary_for(pid)            # that process's final counts
    out = run_text(["--action", "monitor"], cmd=...)   # text mode, raw bytes

Used by the host suite (tests/host) and the VM suite (tests/vm).  Both
suites run every test against each front end (FRONTENDS): watchdog.py
(BCC) and ethoswd (libbpf, build/ethoswd); the conftest's `frontend`
fixture picks one with use(), and argv0() / PREFIX follow it.  A test
marked @pytest.mark.frontends("watchdog.py") runs only against those named
(the research commands, for one, are watchdog.py's alone).
"""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WATCHDOG = REPO / "watchdog.py"
PYTHON = "/usr/bin/python3"
# The C front end: `make ethoswd`, or another build (the sanitizer one).
ETHOSWD = Path(os.environ.get("WD_ETHOSWD", REPO / "build" / "ethoswd"))
FRONTENDS = ("watchdog.py", "ethoswd")
_frontend = "watchdog.py"


def use(name):
    """Make `name` (one of FRONTENDS) the front end the helpers run."""
    global _frontend
    assert name in FRONTENDS, name
    _frontend = name


def frontend():
    return _frontend


def argv0():
    """The command that starts the current front end."""
    if _frontend == "ethoswd":
        return [str(ETHOSWD)]
    return [PYTHON, str(WATCHDOG)]


def prefix():
    """How the current front end starts its status and error lines."""
    return "ethoswd: " if _frontend == "ethoswd" else "watchdog: "


# Program names (truncated to 15 chars by the kernel) of the watchdog; the
# same in both front ends (one probe source).
# tests/unit/test_probe_programs.py checks every program Probe attaches is here.
PROG_NAMES = ("wd_tracepoint", "wd_tp_fd1", "wd_kprobe", "wd_kprobe_fd1",
              "wd_kprobe_uring", "wd_uring_submit", "wd_exit", "lsm__file_permi",
              "wd_newtask", "wd_sigcont", "file_permission", "kfunc____x64_sy",
              "__x64_sys_sendf", "__x64_sys_copy_",
              # --jitter's BPF modes (probe/jitter.bpf.c; test_jitter_cover.py)
              "jb_cg_enter", "jb_gtod_enter", "jb_ru_enter", "jb_cg_exit", "jb_ru_exit",
              "jb_cg_exit_w", "jb_gtod_exit_w", "jb_ru_exit_w", "jb_res_enter",
              "jb_res_exit_w", "jb_time_enter", "jb_times_enter", "jb_newtask", "jb_exec",
              "jb_rename", "jb_exit", "jb_u_cg", "jb_ur_cg_w", "jb_u_res", "jb_ur_res_w")


class Result:
    """What a finished watchdog run produced."""

    def __init__(self, rc, records, stderr, other_lines=()):
        self.rc, self.records, self.stderr = rc, records, stderr
        # Lines that are not JSON: the launched command's own stdout.
        self.other_lines = list(other_lines)

    def events(self, kind):
        return [r for r in self.records if r.get("event") == kind]

    @property
    def start(self):
        found = self.events("start")
        return found[0] if found else None

    @property
    def summary(self):
        found = self.events("summary")
        assert found, "no summary record; stderr:\n%s" % self.stderr
        return found[-1]

    def summary_for(self, pid):
        for row in self.summary["processes"]:
            if row["pid"] == pid:
                return row
        raise AssertionError("pid %d not in summary %s" % (pid, self.summary))

    def rows_by_comm(self, comm):
        return [r for r in self.summary["processes"] if r["comm"] == comm]


class Watchdog:
    """A front end run with --json, whose stdout is parsed as it runs."""

    def __init__(self, args, cmd=None, env=None, preexec=None, wrap=()):
        # wrap: a command that runs the front end (setpriv ...).
        argv = list(wrap) + argv0() + ["--json"] + list(args)
        if cmd:
            argv += ["--"] + [str(c) for c in cmd]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env, preexec_fn=preexec)
        self.records = []
        self.bad_lines = []
        self._cond = threading.Condition()
        self._stderr = []
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            with self._cond:
                self.records.append(rec)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            self._stderr.append(line)

    def wait_for(self, pred, timeout):
        """The first record matching pred, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.records:
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not self._threads[0].is_alive()):
                    return None
                self._cond.wait(min(left, 0.2))

    def wait_started(self, timeout=120):
        rec = self.wait_for(lambda r: r.get("event") == "start", timeout)
        if rec is None:
            self.kill()
            raise AssertionError("watchdog did not start: rc=%s stderr:\n%s"
                                 % (self.proc.poll(), "".join(self._stderr)))
        return rec

    def signal(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def finish(self, timeout=120, sig=None):
        """Wait for exit (after sending sig, if given); the Result."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("watchdog did not exit within %ss; stderr:\n%s"
                                 % (timeout, "".join(self._stderr)))
        for t in self._threads:
            t.join(10)
        return Result(rc, self.records, "".join(self._stderr), self.bad_lines)


def run(args, cmd=None, timeout=120, **kw):
    """Run to completion (use with -- CMD or --duration)."""
    return Watchdog(args, cmd, **kw).finish(timeout)


def run_routes(args, cmd, timeout=600):
    """Run route_reader command(s) to completion under the watchdog: the
    Result and {label: counts} of the readers' result lines."""
    import readers
    res = run(args, cmd, timeout=timeout)
    assert res.rc == 0, "rc %s, stderr:\n%s" % (res.rc, res.stderr)
    return res, readers.route_results(res.other_lines)


def run_text(args, cmd=None, timeout=120):
    """Run the front end in text mode (no --json) to completion: the
    CompletedProcess, stdout and stderr as raw bytes."""
    argv = argv0() + list(args)
    if cmd:
        argv += ["--"] + [str(c) for c in cmd]
    return subprocess.run(argv, capture_output=True, timeout=timeout)


def _is_mine(pid, argv):
    """Does this process belong to this checkout: a path under REPO in its
    command line, or its working directory under REPO (the tests run from
    the checkout; a relative `bench.py` elsewhere is someone else's)."""
    root = str(REPO).encode()
    if any(a.startswith(root + b"/") or a == root for a in argv):
        return True
    try:
        cwd = os.readlink("/proc/%s/cwd" % pid).encode()
    except OSError:
        return False
    return cwd == root or cwd.startswith(root + b"/")


def _foreign_progs():
    """IDs of programs held only by processes of another checkout (another
    developer's watchdog, bench or test run on a shared machine): not this
    suite's to judge.  Found through the holders' /proc/PID/fdinfo
    (prog_id lines).  A program nobody holds is never foreign."""
    held = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            progs = set()
            for fd in os.listdir("/proc/%s/fdinfo" % pid):
                with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                    for line in f:
                        if line.startswith("prog_id:"):
                            progs.add(int(line.split()[1]))
            if not progs:
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                mine = _is_mine(pid, f.read().split(b"\0"))
        except OSError:
            continue
        for prog in progs:
            held.setdefault(prog, set()).add(mine)
    return {prog for prog, owners in held.items() if owners == {False}}


def attached_watchdog_progs():
    """IDs and names of loaded BPF programs that belong to a watchdog of this
    checkout (or to none: left behind)."""
    out = subprocess.run(["bpftool", "-j", "prog", "list"], check=True,
                         capture_output=True, text=True).stdout
    foreign = _foreign_progs()
    return [(p["id"], p.get("name", "")) for p in json.loads(out)
            if p.get("name", "") in PROG_NAMES and p["id"] not in foreign]


def wait_detached(timeout):
    """Watchdog programs still loaded after up to `timeout` seconds.  Detach
    is synchronous on exit, but the kernel frees a program only after an
    RCU grace period."""
    deadline = time.monotonic() + timeout
    while attached_watchdog_progs() and time.monotonic() < deadline:
        time.sleep(0.1)
    return attached_watchdog_progs()


def proc_state(pid):
    """The State letter of /proc/PID/status (R, S, T, Z...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except OSError:
        return None
    return None


def is_root():
    return os.geteuid() == 0


# ---- one suite, both front ends (used by the host and VM conftests) ----
def frontends_for(metafunc):
    """The front ends a test runs against: all, or those its
    @pytest.mark.frontends(...) names."""
    mark = metafunc.definition.get_closest_marker("frontends")
    return list(mark.args) if mark else list(FRONTENDS)


def frontend_problem():
    """None if the current front end can run, else why not (a test of
    ethoswd fails with this when build/ethoswd was never built)."""
    if _frontend == "ethoswd" and not os.access(str(ETHOSWD), os.X_OK):
        return "%s is missing: run `make ethoswd` (test.sh does)" % ETHOSWD
    return None
