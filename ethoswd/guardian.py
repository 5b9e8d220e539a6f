"""A small helper process that resumes throttled processes if the
watchdog itself dies (SIGKILL, crash) while they are stopped.

The watchdog tells it, over a pipe, which processes it stopped and
resumed; when the pipe closes (the watchdog exited, however it died),
the guardian sends SIGCONT to every process still on its list.  It is
one of the watchdog's own processes, so the probe never limits it
(-DWD_GUARD_TGID).
"""

import os
import signal


class Guardian:
    def __init__(self):
        rfd, self._wfd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._wfd)
            self._serve(rfd)
        os.close(rfd)

    @staticmethod
    def _serve(rfd):
        # Ctrl-C reaches the whole process group; the guardian must outlive
        # the watchdog's own shutdown to do its job, so it ignores them.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped, pending = set(), b""
        while True:
            data = os.read(rfd, 4096)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                (stopped.add if line[:1] == b"+" else stopped.discard)(int(line[1:]))
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        os._exit(0)

    def stopped(self, tgid):
        os.write(self._wfd, b"+%d\n" % tgid)

    def resumed(self, tgid):
        os.write(self._wfd, b"-%d\n" % tgid)

    def close(self):
        """Close the pipe (the guardian resumes what is left) and reap it."""
        if self._wfd is not None:
            os.close(self._wfd)
            self._wfd = None
            os.waitpid(self.pid, 0)
