"""A sweep corpus: the programs `watchdog.py sweep` records (TOML).

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

Commands run with the repository root as working directory and the
environment variable WD_TMP set to a scratch directory (for outputs such
as archives; with `user`, one that user owns).  Pure Python: unit-testable.
"""

import shutil
import tomllib

from .errors import SetupError
from .runas import lookup_user

CLASSES = ("fingerprint", "everyday", "sysinfo")
KNOWN = {"name", "class", "cmd", "repeat", "timeout", "needs", "user"}


class Program:
    def __init__(self, name, cls, cmd, repeat, timeout, needs, user=None):
        self.name, self.cls, self.cmd = name, cls, cmd
        self.repeat, self.timeout, self.needs = repeat, timeout, needs
        self.user = user    # the user's name as the entry gave it, or None

    @property
    def runas(self):
        """The user to run as (ethoswd.runas.RunAs), or None: root."""
        return lookup_user(self.user) if self.user is not None else None

    @property
    def missing(self):
        """The `needs` executable if it is not installed, else None."""
        return self.needs if self.needs and not shutil.which(self.needs) else None


def _int(path, where, name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise SetupError("%s: %s: %s must be a whole number from %d to %d"
                         % (path, where, name, lo, hi))
    return value


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
    settings = data.get("settings", {})
    default_repeat = _int(path, "[settings]", "repeat", settings.get("repeat", 1), 1, 100)
    entries = data.get("program")
    if not isinstance(entries, list) or not entries:
        raise SetupError("corpus %s has no [[program]] entries" % path)
    out, seen = [], set()
    for i, e in enumerate(entries, 1):
        where = "program %d" % i
        if not isinstance(e, dict):
            raise SetupError("%s: %s is not a table" % (path, where))
        extra = set(e) - KNOWN
        if extra:
            raise SetupError("%s: %s: unknown field %s (known: %s)" % (
                path, where, sorted(extra)[0], ", ".join(sorted(KNOWN))))
        for field in ("name", "class", "cmd"):
            if not isinstance(e.get(field), str) or not e[field].strip():
                raise SetupError("%s: %s: needs a non-empty string %r"
                                 % (path, where, field))
        if e["name"] in seen:
            raise SetupError("%s: %s: duplicate name %r" % (path, where, e["name"]))
        seen.add(e["name"])
        if e["class"] not in CLASSES:
            raise SetupError("%s: %s (%s): class %r: expected %s" % (
                path, where, e["name"], e["class"], ", ".join(CLASSES)))
        user = e.get("user")
        if user is not None:
            if not isinstance(user, str) or not user.strip():
                raise SetupError("%s: %s (%s): user must be a user name or UID "
                                 "(a string)" % (path, where, e["name"]))
            try:
                lookup_user(user)
            except SetupError:
                raise SetupError("%s: %s (%s): user %r: no such user (give a user "
                                 "name or UID from the user database)"
                                 % (path, where, e["name"], user)) from None
        out.append(Program(e["name"], e["class"], e["cmd"],
                           _int(path, where, "repeat", e.get("repeat", default_repeat), 1, 100),
                           _int(path, where, "timeout", e.get("timeout", 120), 1, 3600),
                           e.get("needs"), user))
    return out
