"""A small helper process that resumes throttled processes if the
watchdog itself dies (SIGKILL, crash) while they are stopped.

The watchdog tells it, over a pipe, which processes it stopped and
resumed; when the pipe closes (the watchdog exited, however it died),
the guardian sends SIGCONT to every process still on its list.  It is
one of the watchdog's own processes, so the probe never limits it
(-DWD_GUARD_TGID).

If the watchdog died, the guardian first waits for it to be gone
entirely: its pipe closes while the kernel is still releasing its other
files, and a process resumed while the probe is still attached would be
stopped again by its next over-limit call (probe/limiter.h signals every
one).  A clean shutdown detaches first and says so ("=" on the pipe).
"""

import os
import select
import signal

# How long a guardian waits for a dead watchdog's files to be released.
EXIT_WAIT_S = 10


class Guardian:
    def __init__(self):
        # A pidfd of the watchdog, readable once all its threads have exited
        # (and so released its files, the probe's among them).
        pidfd = os.pidfd_open(os.getpid())
        rfd, self._wfd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._wfd)
            self._serve(rfd, pidfd)
        os.close(rfd)
        os.close(pidfd)

    @staticmethod
    def _serve(rfd, pidfd):
        # Ctrl-C reaches the whole process group; the guardian must outlive
        # the watchdog's own shutdown to do its job, so it ignores them.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped, pending, detached = set(), b"", False
        while True:
            data = os.read(rfd, 4096)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line == b"=":
                    detached = True
                else:
                    (stopped.add if line[:1] == b"+" else stopped.discard)(int(line[1:]))
        if not detached:
            select.select([pidfd], [], [], EXIT_WAIT_S)
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
        """Tell the guardian the probe is detached, close the pipe (it
        resumes what is left at once) and reap it."""
        if self._wfd is not None:
            os.write(self._wfd, b"=\n")
            os.close(self._wfd)
            self._wfd = None
            os.waitpid(self.pid, 0)
