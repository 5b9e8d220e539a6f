"""Who runs `-- CMD` and which file it is: -u USER, the PATH search, and
the launched child's last steps before exec (src/runas.c is the C copy).

lookup_user(text) turns -u USER (a name or a numeric UID of the user
database) into a RunAs: the user's UID, primary GID and supplementary
groups, as initgroups() would set them.  resolve(file, user) finds the file
execvp() would run, searching PATH as the user who will run it (so a file
that user may not execute, or a directory on the way it may not search, is
refused as the exec would refuse it), and refuses a file the kernel cannot
run: execvp() would hand such a file to /bin/sh, the watchdog never does.
It runs in the launched child before the gate (ethoswd/launcher.py), so a
bad command is one line and exit 2 before anything attaches.
pre_exec(user) is everything the child does between the gate and exec.
"""

import ctypes
import errno
import os
import pwd
import signal
import stat

from .errors import SetupError

# glibc's search path when PATH is unset (confstr(_CS_PATH)).
DEFAULT_PATH = "/bin:/usr/bin"
# What the kernel runs without help: ELF binaries and #! scripts.
MAGICS = (b"\x7fELF", b"#!")
BINFMT_MISC = "/proc/sys/fs/binfmt_misc"


class RunAs:
    """A user to run the command as."""

    def __init__(self, name, uid, gid, groups):
        self.name, self.uid, self.gid, self.groups = name, uid, gid, groups

    def __repr__(self):
        return "RunAs(%r, uid=%d, gid=%d, groups=%r)" % (
            self.name, self.uid, self.gid, self.groups)

    def as_dict(self):
        return {"name": self.name, "uid": self.uid, "gid": self.gid,
                "groups": list(self.groups)}


def lookup_user(text):
    """-u USER -> RunAs; SetupError if the user database has no such user."""
    try:
        if text.isascii() and text.isdigit():
            pw = pwd.getpwuid(int(text))
        else:
            pw = pwd.getpwnam(text)
    except (KeyError, OverflowError, ValueError):
        raise SetupError("-u/--user %r: no such user (give a user name or UID "
                         "from the user database)" % text) from None
    groups = os.getgrouplist(pw.pw_name, pw.pw_gid)
    return RunAs(pw.pw_name, pw.pw_uid, pw.pw_gid, groups)


def _candidates(file):
    """The paths execvp() tries for `file`, in order."""
    if "/" in file:
        return [file]
    path = os.environ.get("PATH")
    if path is None:
        path = DEFAULT_PATH
    # An empty element is the current directory, as for execvp().
    return [os.path.join(d, file) if d else file for d in path.split(":")]


def _problem(path, user):
    """Why `path` cannot be executed by the current effective ids, or None."""
    try:
        st = os.stat(path)
    except OSError as e:
        return e.errno, "%s" % e.strerror
    if stat.S_ISDIR(st.st_mode):
        return errno.EACCES, "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return errno.EACCES, "is not a regular file"
    if not os.access(path, os.X_OK, effective_ids=True):
        return errno.EACCES, "is not executable" + (
            " by user %s" % user.name if user else "")
    return None


def _search(file, user):
    """The file to run, or the refusal's text (the first candidate that
    exists but cannot be run, as execvp reports EACCES, else not found)."""
    if not file:
        return None, "-- '': an empty command name"
    denied = None
    for path in _candidates(file):
        problem = _problem(path, user)
        if problem is None:
            return path, None
        code, why = problem
        if code == errno.EACCES and denied is None:
            denied = "-- %s %s" % (path, why) if why.startswith("is ") else \
                "-- %s: %s" % (path, why)
        elif "/" in file:
            return None, "-- %s: %s" % (file, why)
    if denied:
        return None, denied
    return None, "-- %s: command not found in PATH" % file


def _with_ids(user, file, fn):
    """fn() with the user's effective ids (only the effective ones: the real
    and saved ids stay root, so the caller gets its own back)."""
    if user is None:
        return fn()
    groups = os.getgroups()
    try:
        os.setgroups(user.groups)
        os.setresgid(-1, user.gid, -1)
        os.setresuid(-1, user.uid, -1)
    except OSError as e:
        raise SetupError("cannot take the ids of user %s to check -- %s: %s"
                         % (user.name, file, e.strerror)) from None
    try:
        return fn()
    finally:
        os.setresuid(-1, 0, -1)
        os.setresgid(-1, 0, -1)
        os.setgroups(groups)


def _handlers_registered():
    """binfmt_misc formats the kernel may run besides ELF and #!."""
    try:
        return any(n not in ("register", "status") for n in os.listdir(BINFMT_MISC))
    except OSError:
        return False


def _runnable_format(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True     # cannot tell: let exec decide
    return head.startswith(MAGICS) or _handlers_registered()


def resolve(file, user=None):
    """The path of the file `-- file` runs; SetupError (one line) if it
    cannot be run: not found, a directory, not executable (by the user),
    or neither ELF nor #! (execvp would run that through /bin/sh)."""
    path, why = _with_ids(user, file, lambda: _search(file, user))
    if path is None:
        raise SetupError(why)
    if not _runnable_format(path):
        raise SetupError("-- %s is neither an ELF executable nor a #! script: "
                         "the kernel cannot run it, and the watchdog does not "
                         "run it through /bin/sh" % path)
    return path


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


def pre_exec(user):
    """The child's steps between the gate and exec: default signal
    dispositions (Python ignores SIGPIPE and SIGXFSZ; the gate ignored
    SIGINT and SIGTERM), then, with -u, the user's groups, GID and UID
    (the GID first: it cannot change once the UID has).  Raises OSError."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    _drop_inheritable_caps()
    if user is None:
        return
    os.setgroups(user.groups)
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
