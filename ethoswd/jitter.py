"""`--jitter GRAIN`: the launcher-mode clock supervisor, as watchdog.py
starts it (src/jitter_launch.c does the same for ethoswd).

Everything on the per-read path is C: build/ethos-clockd (src/jitter/).
This module only starts it and prepares the command's process:

  socketpair  the supervisor sends the seccomp program on it; the command's
              process installs it at the gate and sends back the listener
  control     a pipe the watchdog holds: "=" at a clean stop; if it closes
              without "=" (the watchdog died) the supervisor exits and the
              tree is killed with it (PTRACE_O_EXITKILL): fail closed
  ready       the supervisor's one line, "ok" or why it could not start
"""

import ctypes
import errno
import os
import socket
import subprocess
import sys

from . import REPO_ROOT, jitter_cover
from .errors import SetupError

CLOCKD = os.path.join(REPO_ROOT, "build", "ethos-clockd")
FD_CHILD, FD_CTL, FD_READY = 3, 4, 5
SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER = 317, 1, 8
PR_SET_TSC, PR_TSC_SIGSEGV = 26, 2


class Supervisor:
    """ethos-clockd for one `-- CMD`: start() before the gate opens."""

    def __init__(self, grain_ns, mode):
        self.grain_ns, self.mode = grain_ns, mode
        self.pid = None
        self.jfrac = None  # J * 65536, as the supervisor chose it
        self._ctl = None
        # SEQPACKET: the program arrives as one message, the listener too.
        self._sup_sock, self.child_sock = socket.socketpair(socket.AF_UNIX,
                                                            socket.SOCK_SEQPACKET)

    def child_end(self):
        """In the command's process: let go of the supervisor's end."""
        self._sup_sock.close()

    def start(self, child_pid):
        """Fork and exec the supervisor, which seizes child_pid (waiting at
        the gate); SetupError with its reason if it cannot."""
        if not os.access(CLOCKD, os.X_OK):
            raise SetupError("--jitter needs %s: run make clockd (or ./install.sh)"
                             % CLOCKD)
        ctl_r, ctl_w = os.pipe()
        rdy_r, rdy_w = os.pipe()
        argv = [CLOCKD, "--grain", str(self.grain_ns), "--mode", self.mode,
                "--pid", str(child_pid)]
        self.pid = os.fork()
        if self.pid == 0:
            try:
                for fd, want in ((self._sup_sock.fileno(), FD_CHILD), (ctl_r, FD_CTL),
                                 (rdy_w, FD_READY)):
                    os.dup2(fd, want + 10)
                for want in (FD_CHILD, FD_CTL, FD_READY):
                    os.dup2(want + 10, want)  # dup2 clears close-on-exec
                os.closerange(FD_READY + 1, 1 << 16)
                os.execv(CLOCKD, argv)
            finally:
                os._exit(127)
        self._sup_sock.close()
        os.close(ctl_r)
        os.close(rdy_w)
        self._ctl = ctl_w
        with os.fdopen(rdy_r, "rb") as f:  # one line, or EOF
            line = f.readline(400).decode(errors="replace").strip()
        words = line.split()
        if len(words) != 2 or words[0] != "ok" or not words[1].isdigit():
            self.close(clean=False)
            if self.pid:
                os.waitpid(self.pid, 0)
                self.pid = None
            raise SetupError("--jitter: ethos-clockd could not start: %s"
                             % (line or "it exited"))
        self.jfrac = int(words[1])

    def start_lines(self, rows):
        """(info lines, warning lines, JSON member) for the start report."""
        info = ["jitter: grain %d ns, mode %s, J %.4g; ethos-clockd (pid %d) traces "
                "the command and its children, with a secret drawn for this run"
                % (self.grain_ns, self.mode, self.jfrac / 65536, self.pid),
                "clocks clamped: %s" % "; ".join(r[0] for r in rows if r[1] == "clamped")]
        warn = ["%s: %s (%s)" % r for r in rows if r[1] != "clamped"]
        member = {"grain_ns": self.grain_ns, "mode": self.mode, "jfrac": self.jfrac,
                  "supervisor": self.pid, "clocks": _rows_json(rows)}
        return info, warn, member

    def close(self, clean=True):
        """Say "=" (clean: keep serving the tree until it exits) and let go;
        the supervisor is reaped if it has already ended."""
        if self._ctl is not None:
            try:
                if clean:
                    os.write(self._ctl, b"=\n")
            except BrokenPipeError:
                pass  # it has ended already: the tree has exited
            os.close(self._ctl)
            self._ctl = None
        if self.pid:
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0] or not clean:
                    self.pid = None
            except ChildProcessError:
                self.pid = None

    def wait(self, timeout_s):
        """After the command exited: give the supervisor timeout_s to end."""
        import time
        end = time.monotonic() + timeout_s
        while self.pid and time.monotonic() < end:
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                self.pid = None
                return
            time.sleep(0.005)


def coverage():
    """`ethos-clockd --coverage`: [(source, status, how)], or None if the
    supervisor is missing (src/jitter/coverage.c holds the table)."""
    if not os.access(CLOCKD, os.X_OK):
        return None
    p = subprocess.run([CLOCKD, "--coverage"], capture_output=True, text=True)
    if p.returncode:
        return None
    return [tuple(f) for f in (line.split("\t") for line in p.stdout.splitlines())
            if len(f) == 3]


def _rows_json(rows):
    return [{"source": s, "status": st, "how": how} for s, st, how in rows or ()]


def features_lines(rows, bpf):
    """--probe-features: the JITTER block (text); bpf: (write_ok, detail)
    of the BPF modes (jitter_cover.py)."""
    out = ["", "JITTER (--jitter GRAIN, launcher mode: -- CMD):",
           "  supervisor ethos-clockd: %s"
           % ("available" if rows is not None else "missing (run make clockd)")]
    out += ["  %s: %s (%s)" % r for r in rows or ()]
    return out + jitter_cover.features_lines(*bpf)


def features_json(rows, bpf):
    """--probe-features: the JITTER block (JSON member)."""
    return {"supervisor": rows is not None, "launcher": _rows_json(rows),
            "bpf": jitter_cover.features_json(*bpf)}


def _fail(what, err):
    return OSError(err, "%s: %s" % (what, os.strerror(err)))


def child_prepare(sock):
    """In the command's process at the gate, before its exec: make rdtsc
    fault, install the supervisor's seccomp program and hand it the
    listener (src/jitter_launch.c wd_jitter_child_prepare does the same).
    Raises OSError naming the step that failed."""
    libc = ctypes.CDLL(None, use_errno=True)
    # First: the program refuses PR_SET_TSC once installed.
    if libc.prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0):
        raise _fail("prctl(PR_SET_TSC)", ctypes.get_errno())
    try:
        prog = sock.recv(65536)
    except OSError as e:
        raise _fail("no seccomp program from the supervisor", e.errno) from None
    if not prog or len(prog) % 8:
        raise _fail("no seccomp program from the supervisor", errno.EPROTO)
    buf = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    lfd = libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER,
                       SECCOMP_FILTER_FLAG_NEW_LISTENER, ctypes.byref(fprog))
    if lfd < 0:
        raise _fail("seccomp", ctypes.get_errno())
    try:
        socket.send_fds(sock, [b"L"], [lfd])
    except OSError as e:
        raise _fail("sending the listener", e.errno) from None
    os.close(lfd)
    sock.close()


def child_fail(err):
    sys.stderr.write("watchdog: cannot set up --jitter: %s\n" % err.strerror)
