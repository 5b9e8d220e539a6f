"""A sweep corpus: the programs `watchdog.py sweep` records (TOML), and
how one run of a program is started and ended.

    [[program]]
    name = "lscpu"               # unique; shown in tables and plots
    class = "fingerprint"        # fingerprint | everyday | sysinfo
    cmd = "lscpu"                # run by /bin/sh -c, in the repository root
    repeat = 3                   # runs (default: [settings] repeat, or 1)
    timeout = 60                 # seconds before the run is killed (default 120)
    needs = "lscpu"              # optional: skip (with a note) if not on PATH
    user = "nobody"              # optional: run as this user (name or UID;
                                 # default root), as watchdog.py -u USER

    [settings]
    repeat = 3

The whole corpus is checked when it is loaded, before anything is
started or attached: every field against PROGRAM_FIELDS (one line per
field), one SetupError line for the first problem.

Commands run with the repository root as working directory and the
environment variable WD_TMP set to a scratch directory (for outputs such
as archives; with `user`, one that user owns).  Each run has its own
session and process group, which is killed as a whole when the run times
out and once its shell exited (so a `sleep` it started cannot outlive it),
and may write files of at most OUTPUT_CAP bytes (`ulimit -f`: its stdout
under --verify, its scratch files): past that it gets SIGXFSZ (exit status
153) and the report says its output was capped.  Progress is the bar (or
line, or JSON record) per run that sweep and --verify show.  Pure Python:
unit-testable.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib

from ..errors import SetupError
from ..runas import lookup_user
from ..safetext import escape, one_line

CLASSES = ("fingerprint", "everyday", "sysinfo")
OUTPUT_CAP = 16 << 20
CAPPED_STATUS = 128 + signal.SIGXFSZ


def _text(v):
    return isinstance(v, str) and bool(v.strip())


def _whole(lo, hi):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _user(v):
    """A user name or UID (a string) the user database knows."""
    if not _text(v):
        return False
    try:
        lookup_user(v)
    except SetupError:
        return False
    return True


# Each field of a [[program]]: (name, required, test, what it must be,
# default).  repeat's default is [settings] repeat.
PROGRAM_FIELDS = (
    ("name", True, _text, "a non-empty string", None),
    ("class", True, lambda v: v in CLASSES, "one of " + ", ".join(CLASSES), None),
    ("cmd", True, _text, "a non-empty string", None),
    ("repeat", False, _whole(1, 100), "a whole number from 1 to 100", 1),
    ("timeout", False, _whole(1, 3600), "a whole number from 1 to 3600", 120),
    ("needs", False, _text, "a command name (a non-empty string)", None),
    ("user", False, _user,
     "the name or UID (a string) of a user of the user database", None),
)
SETTINGS_FIELDS = (
    ("repeat", False, _whole(1, 100), "a whole number from 1 to 100", 1),
)


class Program:
    """One [[program]]: every field of PROGRAM_FIELDS as an attribute
    (`class` as cls; `user` the user's name as the entry gave it, or None:
    root)."""

    def __init__(self, fields):
        for name, value in fields.items():
            setattr(self, "cls" if name == "class" else name, value)

    @property
    def runas(self):
        """The user to run as (ethoswd.runas.RunAs), or None: root."""
        return lookup_user(self.user) if self.user is not None else None

    @property
    def missing(self):
        """The `needs` executable if it is not installed, else None."""
        return self.needs if self.needs and not shutil.which(self.needs) else None


def _show(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _check(path, where, table, fields):
    """SetupError unless `table` is a table of known, well-typed fields."""
    if not isinstance(table, dict):
        raise SetupError("%s: %s must be a table, not %s" % (path, where, _show(table)))
    known = [f[0] for f in fields]
    extra = sorted(set(table) - set(known))
    if extra:
        raise SetupError("%s: %s: unknown field %s (known: %s)" % (
            path, where, extra[0], ", ".join(sorted(known))))
    for name, required, ok, what, _default in fields:
        if name not in table:
            if required:
                raise SetupError("%s: %s: needs %r (%s)" % (path, where, name, what))
        elif not ok(table[name]):
            raise SetupError("%s: %s: %r must be %s, not %s" % (
                path, where, name, what, _show(table[name])))


def load(path, text=None):
    """The corpus' Programs; SetupError (one line) on any problem."""
    try:
        if text is None:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        else:
            data = tomllib.loads(text)
    except OSError as e:
        raise SetupError("cannot read corpus %s: %s" % (path, e.strerror)) from None
    except tomllib.TOMLDecodeError as e:
        raise SetupError("corpus %s is not valid TOML: %s" % (path, e)) from None
    extra = sorted(set(data) - {"settings", "program"})
    if extra:
        raise SetupError("%s: unknown table %s (known: program, settings)" % (path, extra[0]))
    settings = data.get("settings", {})
    _check(path, "[settings]", settings, SETTINGS_FIELDS)
    defaults = {f[0]: f[4] for f in PROGRAM_FIELDS if not f[1]}
    defaults["repeat"] = settings.get("repeat", defaults["repeat"])
    entries = data.get("program")
    if not isinstance(entries, list) or not entries:
        raise SetupError("corpus %s has no [[program]] entries" % path)
    out, seen = [], set()
    for i, e in enumerate(entries, 1):
        where = "program %d" % i
        if isinstance(e, dict) and _text(e.get("name")):
            where += " (%s)" % e["name"]
        _check(path, where, e, PROGRAM_FIELDS)
        if e["name"] in seen:
            raise SetupError("%s: %s: duplicate name %r" % (path, where, e["name"]))
        seen.add(e["name"])
        out.append(Program(dict(defaults, **e)))
    return out


# -- one run ----------------------------------------------------------------
def quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def wrap(cmd, stdout="/dev/null"):
    """The argv of one run: a shell with no input, stdout to a file, and
    every file it writes capped at OUTPUT_CAP bytes (512-byte blocks)."""
    return ["/bin/sh", "-c", "ulimit -f %d\nexec </dev/null >%s 2>/dev/null\n%s"
            % (OUTPUT_CAP // 512, quote(stdout), cmd)]


def run_env(tmp):
    return dict(os.environ, WD_TMP=tmp)


def scratch(tmp, user):
    """The scratch directory of a run: tmp, or with a corpus `user` one
    that user owns inside it (the command writes its outputs there)."""
    if user is None:
        return tmp
    path = os.path.join(tmp, "user-%d" % user.uid)
    if not os.path.isdir(path):
        os.mkdir(path, 0o700)
        os.chown(path, user.uid, user.gid)
    return path


def as_user(user):
    """subprocess.Popen's arguments that run a child as user (None: as
    the caller)."""
    if user is None:
        return {}
    return dict(user=user.uid, group=user.gid, extra_groups=user.groups)


def exited(pid):
    """The child has exited (it is not reaped: its PID, the process
    group's ID, stays taken until it is)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_group(argv, timeout, out=None, err=None, **popen_kw):
    """Run argv in a new session and process group, stdout and stderr to
    the files out and err (default /dev/null); kill the whole group on
    timeout and once argv exited.  Its exit status, or "timeout"."""
    with open(out or os.devnull, "wb") as fo, open(err or os.devnull, "wb") as fe:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                             start_new_session=True, **popen_kw)
    deadline, timed_out = time.monotonic() + timeout, False
    try:
        while not exited(p.pid):
            if time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(0.02)
    finally:
        kill_group(p.pid)
        p.wait()
    return "timeout" if timed_out else p.returncode


def capped(path):
    """The file reached OUTPUT_CAP bytes."""
    try:
        return os.path.getsize(path) >= OUTPUT_CAP
    except OSError:
        return False


class Progress:
    """A bar on a terminal, a line per step otherwise, JSON with --json."""

    def __init__(self, rep, total):
        self.rep, self.total, self.done = rep, total, 0
        self.tty = not rep.as_json and sys.stderr.isatty()

    def step(self, name, run, runs, phase, **extra):
        if phase == "done":
            self.done += 1
        if self.rep.as_json:
            self.rep.emit(dict(event="progress", program=name, run=run,
                               runs=runs, phase=phase, done=self.done,
                               total=self.total, **extra), None)
            return
        text = "%3d/%d %s run %d/%d %s" % (self.done, self.total, escape(name),
                                           run, runs, phase)
        if self.tty:
            width = 30
            fill = width * self.done // max(1, self.total)
            sys.stderr.write("\r[%s%s] %s\x1b[K" % ("#" * fill, "." * (width - fill),
                                                    one_line(text)))
            if self.done == self.total and phase == "done":
                sys.stderr.write("\n")
        elif phase == "done":
            sys.stderr.write("watchdog: %s\n" % one_line(text))
        sys.stderr.flush()
