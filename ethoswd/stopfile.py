"""The state file of the processes throttle keeps stopped (--state-file),
and --resume-stopped, which resumes them after the watchdog is gone.

The guardian resumes stopped processes if the watchdog dies, but a
service manager that kills the whole unit (`systemctl kill -s KILL`, the
stop timeout's SIGKILL) kills the guardian with it.  So the watchdog also
keeps the set in a file, replaced atomically (written aside, then
renamed) at each change, and the unit's ExecStopPost runs
`ethoswd --resume-stopped FILE`.

Format (text): a first line "ethoswd-stopped 1", then "PID STARTTIME"
per process, STARTTIME being field 22 of /proc/PID/stat (clock ticks
since boot) when it was stopped.  A PID whose start time differs now was
reused by another process, which is never signalled: each entry is
checked through a pidfd, so the check and the signal concern the same
process.
"""

import os
import signal

from .errors import SetupError

HEADER = "ethoswd-stopped 1"
PID_MAX = 4194304   # the kernel's PID_MAX_LIMIT


def start_time(pid):
    """Field 22 of /proc/PID/stat (after the command name, which may hold
    spaces and parentheses), or None if there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return int(fields[19]) if len(fields) > 19 else None


class StopFile:
    """The file kept while the watchdog runs; add() and remove() mark it
    dirty, flush() writes it if so."""

    def __init__(self, path):
        self.path, self.entries, self.dirty, self.failed = path, {}, True, None
        # Never overwrite another file, or a list an earlier run left.
        if _entries(path, "--state-file"):
            raise SetupError("--state-file %s lists processes an earlier run left "
                             "stopped: run --resume-stopped %s first" % (path, path))
        try:
            self._write()
        except OSError as e:
            raise SetupError("--state-file %s: cannot write it: %s" % (
                path, e.strerror)) from None
        self.dirty = False

    def add(self, pid):
        when = start_time(pid)
        if when is not None and self.entries.get(pid) != when:
            self.entries[pid] = when
            self.dirty = True

    def remove(self, pid):
        if self.entries.pop(pid, None) is not None:
            self.dirty = True

    def clear(self):
        self.dirty = self.dirty or bool(self.entries)
        self.entries = {}

    def _write(self):
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(HEADER + "\n" + "".join("%d %d\n" % e for e in sorted(self.entries.items())))
        os.rename(tmp, self.path)

    def flush(self):
        """Write the file if it changed; the error text of a failed write
        (the first of a run of failures), else None."""
        if not self.dirty:
            return None
        try:
            self._write()
        except OSError as e:
            first = self.failed is None
            self.failed = e.strerror
            return "cannot write the state file %s: %s; processes stopped now are not " \
                   "resumed by --resume-stopped if the watchdog is killed" % (
                       self.path, e.strerror) if first else None
        self.dirty, self.failed = False, None
        return None


def _entries(path, option="--resume-stopped"):
    """The (PID, start time) pairs of a state file; [] if there is none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise SetupError("%s %s: cannot read it: %s" % (option, path, e.strerror)) from None
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if not lines or lines[0] != HEADER.encode():
        raise SetupError("%s %s: not a state file of this watchdog (its first "
                         "line is not '%s')" % (option, path, HEADER))
    out = []
    for n, line in enumerate(lines[1:], 2):
        parts = line.split(b" ")
        if len(parts) != 2 or not all(p.isdigit() and len(p) <= 20 for p in parts) \
                or not 0 < int(parts[0]) <= PID_MAX or int(parts[1]) >= 1 << 64:
            raise SetupError("%s %s: line %d is not 'PID STARTTIME'" % (option, path, n))
        out.append((int(parts[0]), int(parts[1])))
    return out


def resume(path):
    """Resume every process of the file that still has its start time, then
    remove the file: ([resumed PIDs], [skipped PIDs: gone or reused])."""
    resumed, skipped = [], []
    for pid, when in _entries(path):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            skipped.append(pid)
            continue
        try:
            # Through the pidfd: if the PID was reused after pidfd_open, the
            # start time read now is the new process's and does not match.
            if start_time(pid) == when:
                signal.pidfd_send_signal(pidfd, signal.SIGCONT)
                resumed.append(pid)
            else:
                skipped.append(pid)
        except OSError:
            skipped.append(pid)
        finally:
            os.close(pidfd)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return resumed, skipped
