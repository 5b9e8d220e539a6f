"""What counts and whose budget it is: read classes, budget keys,
executable exclusions and profiles (pure logic, no BPF: unit-testable).

resolve(opts) turns the parsed command line into a Policy: the limit, the
filesystems and files whose reads count (or None: every read counts), the
budget key, and the executables never limited.  Files are identified as
the kernel sees them, by device and inode, so a hard link, a bind mount
or a rename of a listed file still counts and a renamed process still
runs its excluded (or not excluded) executable.
"""

import ctypes
import ctypes.util
import os
import re

from .abi import DEFS
from .errors import SetupError

# Filesystem magic numbers (include/uapi/linux/magic.h).
FS_MAGIC = {
    "proc": 0x9FA0, "sysfs": 0x62656572, "debugfs": 0x64626720,
    "securityfs": 0x73636673, "tracefs": 0x74726163, "cgroup": 0x27E0EB,
    "cgroup2": 0x63677270, "configfs": 0x62656570, "efivarfs": 0xDE5E81E4,
    "bpf": 0xCAFE4A11, "pstore": 0x6165676C, "devpts": 0x1CD1,
    "tmpfs": 0x01021994, "ramfs": 0x858458F6, "ext4": 0xEF53, "xfs": 0x58465342,
    "btrfs": 0x9123683E, "overlay": 0x794C7630, "9p": 0x01021997,
    "nfs": 0x6969, "fuse": 0x65735546, "squashfs": 0x73717368,
    "vfat": 0x4D44, "iso9660": 0x9660, "pipefs": 0x50495045,
    "sockfs": 0x534F434B, "anon_inode": 0x09041934,
}
# Kernel information filesystems: what `--count sysinfo` counts.
SYSINFO = ("proc", "sysfs", "debugfs", "securityfs", "tracefs", "cgroup",
           "cgroup2", "configfs", "efivarfs")
# Files that name the machine or its OS, read by fingerprinting tools;
# the fingerprint profile adds those that exist.
# /etc/hostname is left out: shell scripts read it in loops (one cat per
# call), and the host name is one uname() away anyway.
IDENTITY_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id",
                  "/etc/os-release", "/usr/lib/os-release",
                  "/etc/lsb-release", "/etc/debian_version", "/etc/issue",
                  "/etc/product_uuid")
KEYS = ("process", "tree", "uid", "cgroup")
# What both front ends strip around a number or a --count word: ASCII white
# space as Python's str.strip() sees it (no other script's spaces).
SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
# Entries of a repeatable option (-p, --comm, --exclude-comm, --exclude-exe,
# the filesystems of --count) and of --file: the sizes of the probe's maps
# (WD_LIST_MAX, WD_FILES_MAX of probe/watchdog_map.h).
LIST_MAX, FILES_MAX = DEFS["WD_LIST_MAX"], DEFS["WD_FILES_MAX"]
# A filesystem magic number: 0x and 1 to 8 hex digits (32 bits, as every
# magic of include/uapi/linux/magic.h).
MAGIC_RE = re.compile(r"0[xX][0-9a-fA-F]{1,8}")
KEY_IDS = {k: DEFS["WD_KEY_" + k.upper()] for k in KEYS}
KEY_NAMES = {v: k for k, v in KEY_IDS.items()}
# Whose budget a call is charged to.  A shared budget never spans users
# (tree and cgroup budgets are split by real UID), and where it would group
# unrelated processes the caller gets a budget of its own (probe/limiter.h
# wd_budget_key): so one process can never get another user's processes
# stopped, and no budget is the whole host.
KEY_TEXT = {
    "process": "per process",
    "tree": "per process tree and user (each target and all its descendants; "
            "a member running as another user is charged to that user's "
            "budget of the tree)",
    "uid": "per user (UID 0, the system's daemons: per process)",
    "cgroup": "per cgroup v2 and user (the root cgroup: per process)",
}
# Which callers fall back to a budget of their own, per key.
FALLBACK = {"uid": "the caller's real UID is 0",
            "cgroup": "the caller is in the root cgroup (cgroup ID %d)"
                      % DEFS["WD_ROOT_CGROUP_ID"]}
# Filesystems whose stat() device is not the superblock's s_dev for every
# file: a --file there might not match what the probe reads.
UNSURE_DEV = {FS_MAGIC["btrfs"]: "btrfs", FS_MAGIC["overlay"]: "overlayfs"}

# Profiles: settings a flag may override.  The fingerprint limit comes
# from docs/watchdog_guide.md "Choosing what counts".
PROFILES = {
    "seed": {"count": "all", "key": "process", "identity": False,
             "max_calls": DEFS["WD_DEFAULT_MAX_CALLS"],
             "window_ms": DEFS["WD_DEFAULT_WINDOW_MS"]},
    "fingerprint": {"count": "sysinfo", "key": None, "identity": True,
                    "max_calls": DEFS["WD_FINGERPRINT_MAX_CALLS"],
                    "window_ms": DEFS["WD_FINGERPRINT_WINDOW_MS"]},
}


def kernel_dev(st_dev):
    """The kernel's dev_t (MAJOR << 20 | MINOR) of a stat() st_dev."""
    return (os.major(st_dev) << 20) | os.minor(st_dev)


class FileId:
    """A file as the probe matches it: kernel device and inode number."""

    def __init__(self, path, dev, ino):
        self.path, self.dev, self.ino = path, dev, ino

    def __repr__(self):
        return "FileId(%r, dev=%#x, ino=%d)" % (self.path, self.dev, self.ino)

    def as_dict(self):
        return {"path": self.path, "dev": self.dev, "ino": self.ino}


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 112)]


def fs_magic_of(path):
    """statfs(path).f_type, or None if it cannot be read."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    buf = _Statfs()
    if libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        return None
    return buf.f_type & 0xFFFFFFFF


def file_id(flag, path, executable=False):
    """Stat a --file / --exclude-exe path; SetupError if unusable."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise SetupError("%s %s: %s" % (flag, path, e.strerror)) from None
    if not os.path.isfile(path):
        raise SetupError("%s %s is not a regular file" % (flag, path))
    if executable and not os.access(path, os.X_OK):
        raise SetupError("%s %s is not executable" % (flag, path))
    return FileId(os.path.realpath(path), kernel_dev(st.st_dev), st.st_ino)


def parse_count(text):
    """--count value -> (label, {fs name: magic}) or ("all", None).

    all | sysinfo | files | fs:NAME[,NAME...], and sysinfo may be joined
    with an fs list: sysinfo,fs:tmpfs.  A name may be a 0x magic number."""
    text = text.strip(SPACE)
    if text == "all":
        return "all", None
    magics, in_fs = {}, False
    for tok in text.split(","):
        tok = tok.strip(SPACE)
        if tok in ("sysinfo", "files") and not in_fs:
            if tok == "sysinfo":
                magics.update((n, FS_MAGIC[n]) for n in SYSINFO)
            continue
        if tok.startswith("fs:"):
            in_fs, tok = True, tok[3:]
        if not in_fs or not tok:
            raise SetupError("--count %r: expected all, sysinfo, files or "
                             "fs:NAME[,NAME...]" % text)
        if tok in FS_MAGIC:
            magics[tok] = FS_MAGIC[tok]
        elif tok.lower().startswith("0x"):
            if not MAGIC_RE.fullmatch(tok):
                raise SetupError("--count: bad magic number %r: expected 0x and 1 "
                                 "to 8 hex digits (a 32-bit magic)" % tok)
            magics[tok.lower()] = int(tok, 16)
        else:
            raise SetupError("--count: unknown filesystem %r (known: %s, or a "
                             "0x magic number)" % (tok, ", ".join(sorted(FS_MAGIC))))
        if len(magics) > LIST_MAX:
            raise SetupError("--count: too many filesystems (at most %d)" % LIST_MAX)
    return text, magics


class Policy:
    """The resolved rule: limit, read class, budget key, exclusions."""

    def __init__(self, profile, max_calls, window_ms, count, magics, files,
                 key, exclude_exe, notes):
        self.profile, self.max_calls, self.window_ms = profile, max_calls, window_ms
        self.count, self.magics, self.files = count, magics, files
        self.key, self.exclude_exe, self.notes = key, exclude_exe, notes

    @property
    def counts_all(self):
        return self.magics is None and not self.files

    @property
    def needs_btf(self):
        """Read classes and exe exclusions read kernel structs by BTF offsets."""
        return not self.counts_all or bool(self.exclude_exe)

    def describe_count(self):
        if self.counts_all:
            return "every read-family call"
        parts = []
        if self.magics:
            parts.append("reads of files on " + ",".join(sorted(self.magics)))
        if self.files:
            parts.append("reads of %d listed file%s" % (
                len(self.files), "" if len(self.files) == 1 else "s"))
        return " or ".join(parts)

    def describe_key(self):
        return KEY_TEXT[self.key]

    def as_dict(self):
        fallback = FALLBACK.get(self.key)
        return {"profile": self.profile, "count": self.count,
                "filesystems": {n: m for n, m in sorted((self.magics or {}).items())},
                "files": [f.as_dict() for f in self.files], "key": self.key,
                "per_user": self.key != "process",
                "fallback": {"key": "process", "when": fallback} if fallback else None,
                "exclude_exe": [f.as_dict() for f in self.exclude_exe],
                "max_calls": self.max_calls, "window_ms": self.window_ms}


def resolve(opts):
    """The Policy of parsed options (cli.parse); SetupError on a bad mix."""
    prof = PROFILES[opts.profile]
    has_targets = bool(opts.pid or opts.command)
    count = opts.count or prof["count"]
    label, magics = parse_count(count)
    files, notes = [], []
    paths = list(opts.file)
    if prof["identity"] and opts.count is None:
        paths += [p for p in IDENTITY_FILES if os.path.isfile(p)]
    paths = list(dict.fromkeys(paths))
    if len(paths) > FILES_MAX:
        raise SetupError("--file: at most %d files" % FILES_MAX)
    for path in paths:
        files.append(file_id("--file", path))
        fs = UNSURE_DEV.get(fs_magic_of(path))
        if fs:
            notes.append("--file %s is on %s, where stat() may show another "
                         "device than the probe reads: check that its reads "
                         "count (--action monitor)" % (path, fs))
    if label == "all" and opts.file:
        raise SetupError("--file adds files to a read class, but --count all "
                         "counts every read already: use --count files (only "
                         "the listed files) or --count sysinfo")
    if label == "files" and not files:
        raise SetupError("--count files needs at least one --file PATH")
    key = opts.key or prof["key"] or ("tree" if has_targets else "cgroup")
    if key == "tree" and not has_targets:
        raise SetupError("--key tree needs target roots: give -- CMD or -p PID "
                         "(a tree is a target and all its descendants)")
    exes = list(dict.fromkeys(opts.exclude_exe))
    if len(exes) > LIST_MAX:
        raise SetupError("--exclude-exe: at most %d executables" % LIST_MAX)
    exclude = [file_id("--exclude-exe", p, executable=True) for p in exes]
    return Policy(opts.profile,
                  opts.max_calls if opts.max_calls is not None else prof["max_calls"],
                  opts.window_ms if opts.window_ms is not None else prof["window_ms"],
                  label, magics, files, key, exclude, notes)
