"""Launch `-- CMD` held at a gate until the probe is attached.

The child is forked first so its PID can go into the target map, then
waits on a pipe; the watchdog opens the gate once enforcement is live,
and only then does the child exec the command.  If the watchdog fails
before opening the gate, the child exits 127 without running anything.
"""

import ctypes
import os
import signal
import sys

from .safetext import one_line

PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4     # linux/prctl.h
CAP_VERSION_3 = 0x20080522                           # linux/capability.h


def _drop_inheritable_caps():
    """A watchdog run by a user with ambient capabilities (CAP_BPF, ...)
    must not hand them to the command it limits: clear the ambient set,
    and the inheritable one that a file's inheritable capabilities would
    match (as launch.c)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    head = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()          # 2 x {effective, permitted, inheritable}
    if libc.capget(head, data) == 0:
        data[2] = data[5] = 0
        libc.capset(head, data)


class GatedChild:
    """A forked child that execs `argv` when release() is called."""

    def __init__(self, argv):
        self.argv = argv
        rfd, self._wfd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            # Never return into the caller: whatever happens here (an
            # OSError, a KeyboardInterrupt, any bug) ends in os._exit().
            try:
                os.close(self._wfd)
                self._run_child(rfd)
            finally:
                os._exit(127)
        os.close(rfd)
        self.status = None

    def _run_child(self, rfd):
        # A Ctrl-C during the watchdog's start-up reaches the whole process
        # group; the watchdog handles it and closes the gate, so the waiting
        # child ignores it until it runs the command.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        go = os.read(rfd, 1)
        if go != b"1":
            return
        # Python ignores SIGPIPE/SIGXFSZ; the command must not inherit that,
        # nor the two ignored above.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT,
                    signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        _drop_inheritable_caps()
        try:
            os.execvp(self.argv[0], self.argv)
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
