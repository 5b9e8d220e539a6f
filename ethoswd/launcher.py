"""Launch `-- CMD` held at a gate until the probe is attached.

The child is forked first so its PID can go into the target map.  It
finds the command's file as the user who will run it (ethoswd/runas.py)
and tells the watchdog over a second pipe, so a command that cannot run
is refused (SetupError, exit 2) before anything attaches.  Then it waits
on the gate; the watchdog opens it once enforcement is live, and only
then does the child make itself ready for --jitter (still root: the
seccomp filter and PR_SET_TSC), take the command's user (-u) and exec
the file (execv: no PATH search left, and no /bin/sh fallback).  If the watchdog
fails before opening the gate, the child exits 127 without running
anything.
"""

import os
import signal
import sys
import time

from . import runas
from .errors import SetupError
from .safetext import one_line


# How long the watchdog waits for the child to sit in its read of the gate.
GATE_WAIT_S = 5.0


def _wait_at_gate(pid, fd):
    """Wait, at most GATE_WAIT_S, until the child sits in its read() of the
    gate (/proc/PID/syscall: "0 0xFD ..."), so that the probe attaches after
    that read began: the tracepoints count a call at its entry, and a gate
    read begun after the attach would be counted as the command's (its PID
    is a target already).  Past the bound the start goes on: at worst the
    command's budget carries that one read (launch.c wait_at_gate)."""
    want = "0 0x%x " % fd
    deadline = time.monotonic() + GATE_WAIT_S
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/syscall" % pid) as f:
                if f.read().startswith(want):
                    return
        except OSError:
            return  # the child is gone: nothing to wait for
        time.sleep(0.0001)


class GatedChild:
    """A forked child that execs `argv` (as `user`, a runas.RunAs, if
    given) when release() is called; SetupError if it cannot be run."""

    def __init__(self, argv, user=None, jitter=None):
        self.argv, self.user = argv, user
        self._jitter = jitter  # a jitter.Supervisor: prepared at the gate
        rfd, self._wfd = os.pipe()
        report_r, report_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            # Never return into the caller: whatever happens here (an
            # OSError, a KeyboardInterrupt, any bug) ends in os._exit().
            try:
                os.close(self._wfd)
                os.close(report_r)
                self._run_child(rfd, report_w)
            finally:
                os._exit(127)
        os.close(rfd)
        os.close(report_w)
        if jitter:
            jitter.child_sock.close()  # the child's end
        self.status = None
        with os.fdopen(report_r, "rb") as f:
            verdict = f.read()
        if verdict != b"ok":
            self.abort()
            raise SetupError(verdict.decode("utf-8", "surrogateescape")
                             or "the command's process ended before it was checked")
        _wait_at_gate(self.pid, rfd)

    def _pre_exec(self):
        """The steps other features take between the gate and the exec,
        while this process is still the watchdog's (root), before -u's
        drop of ids and capabilities (seccomp without no_new_privs needs
        CAP_SYS_ADMIN): --jitter.  False: one failed and said why; the
        command is not run."""
        if self._jitter:
            from . import jitter
            try:
                jitter.child_prepare(self._jitter.child_sock)
            except OSError as e:
                jitter.child_fail(e)
                return False
        return True

    def _run_child(self, rfd, report_w):
        # A Ctrl-C during the watchdog's start-up reaches the whole process
        # group; the watchdog handles it and closes the gate, so the waiting
        # child ignores it until it runs the command.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self._jitter:
            self._jitter.child_end()
        try:
            path = runas.resolve(self.argv[0], self.user)
        except (SetupError, OSError) as e:
            os.write(report_w, str(e).encode("utf-8", "surrogateescape"))
            return
        os.write(report_w, b"ok")
        os.close(report_w)
        delay = os.environ.get("WD_GATE_TEST_DELAY_US")
        if delay:  # tests only: held here as a loaded machine may hold it
            time.sleep(int(delay) / 1e6)
        go = os.read(rfd, 1)
        if go != b"1" or not self._pre_exec():
            return
        try:
            runas.pre_exec(self.user)
        except OSError as e:
            sys.stderr.write("watchdog: cannot run %s as user %s: %s\n"
                             % (one_line(self.argv[0]), one_line(self.user.name),
                                e.strerror))
            return
        try:
            os.execv(path, self.argv)
        except OSError as e:
            sys.stderr.write("watchdog: cannot run %s: %s\n"
                             % (one_line(self.argv[0]), e.strerror))

    def release(self):
        """Let the child exec its command."""
        os.write(self._wfd, b"1")
        os.close(self._wfd)
        self._wfd = None

    def abort(self):
        """If the command was never released, make the child exit unrun and
        reap it; a released command is left running."""
        if self._wfd is None:
            return
        os.close(self._wfd)
        self._wfd = None
        if self.status is None:
            os.waitpid(self.pid, 0)
            self.status = 127

    def poll(self):
        """Exit status (shell convention: 128+N for signal N) or None."""
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                if self.status < 0:
                    self.status = 128 - self.status
        return self.status
