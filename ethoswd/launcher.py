"""Launch `-- CMD` held at a gate until the probe is attached.

The child is forked first so its PID can go into the target map, then
waits on a pipe; the watchdog opens the gate once enforcement is live,
and only then does the child exec the command.  If the watchdog fails
before opening the gate, the child exits 127 without running anything.
"""

import os
import signal
import sys

from .safetext import one_line


class GatedChild:
    """A forked child that execs `argv` when release() is called."""

    def __init__(self, argv, jitter=None):
        self.argv = argv
        self._jitter = jitter  # a jitter.Supervisor: prepared at the gate
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
        if jitter:
            jitter.child_sock.close()  # the child's end
        self.status = None

    def _pre_exec(self):
        """The steps other features take between the gate and the exec,
        while this process is still the watchdog's (root): --jitter.
        False: one failed and said why; the command is not run."""
        if self._jitter:
            from . import jitter
            try:
                jitter.child_prepare(self._jitter.child_sock)
            except OSError as e:
                jitter.child_fail(e)
                return False
        return True

    def _run_child(self, rfd):
        # A Ctrl-C during the watchdog's start-up reaches the whole process
        # group; the watchdog handles it and closes the gate, so the waiting
        # child ignores it until it runs the command.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self._jitter:
            self._jitter.child_end()
        go = os.read(rfd, 1)
        if go != b"1" or not self._pre_exec():
            return
        # Python ignores SIGPIPE/SIGXFSZ; the command must not inherit that,
        # nor the two ignored above.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT,
                    signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
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
