"""Cgroups by name: a cgroup v2 ID or a process's cgroup as its path and,
for a container's cgroup, the runtime, the container ID and the pod UID.

The probe keys a cgroup budget by the cgroup v2 ID, which is the inode
number of the cgroup's directory.  CgroupNames resolves an ID once and
caches the answer: open_by_handle_at() on the cgroup2 mount with the ID as
a kernfs file handle (FILEID_KERNFS: the 8-byte ID) opens the directory
without a walk (7 us here, path included, against 16-20 ms for one nftw
walk of this machine's 305 cgroups), and /proc/self/fd gives its path.
Where the handle is refused (no CAP_DAC_READ_SEARCH), a walk of the
cgroup2 tree fills the cache with every directory, at most once a second.
A process's cgroup is the "0::" line of /proc/PID/cgroup, read once per
process (src/cgname.c does the same).  The ID cache is the only cache of
cgroup names (budgets.Names reads it): trim() forgets its oldest entries
after each table, so that a host whose cgroups come and go for months
keeps it bounded; a process's entry goes when the process exits.  The
metrics thread (ethoswd/metrics.py) resolves IDs while the session loop
does, so every method takes the object's lock.

container_of(path) reads the runtime from the path alone: podman
(libpod-ID, libpod-ID.scope), docker (docker-ID.scope, /docker/ID),
containerd (cri-containerd-ID.scope), CRI-O (crio-ID.scope) and the
kubelet's cgroupfs layout (/kubepods/.../podUID/ID, runtime "cri": the
path does not say which CRI runtime), searching from the deepest
component up so a container's own sub-cgroups name it too.  A path is
untrusted text: rows carry it through safetext.name_fields().
"""

import ctypes
import os
import re
import threading
import time
from collections import OrderedDict, namedtuple

from .safetext import name_fields

FILEID_KERNFS = 0xFE
WALK_EVERY_S = 1.0

Cgroup = namedtuple("Cgroup", "path runtime container_id pod_uid")

_ID = "[0-9a-f]{64}"
_SCOPES = (("podman", re.compile(r"libpod-(%s)(?:\.scope)?" % _ID)),
           ("docker", re.compile(r"docker-(%s)(?:\.scope)?" % _ID)),
           ("containerd", re.compile(r"cri-containerd-(%s)(?:\.scope)?" % _ID)),
           ("crio", re.compile(r"crio-(%s)(?:\.scope)?" % _ID)))
_BARE = re.compile(_ID)
_UID = "[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
_POD = re.compile(r"(?:kubepods(?:-[a-z]+)?-)?pod(%s)(?:\.slice)?" % _UID)


def container_of(path):
    """(runtime, container ID, pod UID or None) of a cgroup path, or None."""
    parts = path.split("/")
    pod = None
    for part in parts:
        m = _POD.fullmatch(part)
        if m:
            pod = m.group(1).replace("_", "-")
    for i in range(len(parts) - 1, 0, -1):
        for runtime, rx in _SCOPES:
            m = rx.fullmatch(parts[i])
            if m:
                return runtime, m.group(1), pod
        if _BARE.fullmatch(parts[i]):
            if parts[i - 1] == "docker":
                return "docker", parts[i], pod
            if pod and any(p.startswith("kubepods") for p in parts[:i]):
                return "cri", parts[i], pod
    return None


def cgroup2_root():
    """Mount point of the cgroup v2 hierarchy, or None."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return parts[1]
    except OSError:
        pass
    return None


def make(path):
    """The Cgroup of a path (str, surrogate-escaped bytes)."""
    found = container_of(path)
    return Cgroup(path, *(found or (None, None, None)))


def fields(cg):
    """A row's members for a cgroup: cgroup (+ cgroup_hex when the path
    is not clean UTF-8), and for a container container_runtime,
    container_id and pod_uid (kubepods only).  cg None: cgroup null."""
    if cg is None:
        return {"cgroup": None}
    out = name_fields(cg.path.encode("utf-8", "surrogateescape"), key="cgroup")
    if cg.runtime:
        out.update(container_runtime=cg.runtime, container_id=cg.container_id)
        if cg.pod_uid:
            out["pod_uid"] = cg.pod_uid
    return out


class _Handle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("cgroup_id", ctypes.c_uint64)]


class CgroupNames:
    """Cgroup IDs and processes to Cgroup records, each looked up once
    while in use.  Safe to call from two threads (the lock)."""

    def __init__(self, root=None):
        self.root = root or cgroup2_root()
        self._lock = threading.Lock()
        self._by_id = OrderedDict()  # cgroup ID -> Cgroup or None, oldest first
        self._pids = {}          # tgid -> Cgroup, while the process is listed
        self._walked = None      # monotonic time of the last walk
        self._mount_fd = None
        self._open = None
        if self.root:
            try:
                self._mount_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
                libc = ctypes.CDLL(None, use_errno=True)
                self._open = libc.open_by_handle_at
            except (OSError, AttributeError):
                self._open = None

    def close(self):
        with self._lock:
            if self._mount_fd is not None:
                os.close(self._mount_fd)
                self._mount_fd = None
            self._open = None

    def _rel(self, path):
        rel = os.path.relpath(path, self.root)
        return "/" if rel == "." else "/" + rel

    def _by_handle(self, cgid):
        """The path of cgroup cgid through its file handle; None if it is
        gone; False if handles are refused here."""
        if self._open is None or self._mount_fd is None:
            return False
        h = _Handle(8, FILEID_KERNFS, cgid)
        fd = self._open(self._mount_fd, ctypes.byref(h),
                        os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_PATH", 0))
        if fd < 0:
            err = ctypes.get_errno()
            if err in (2, 20, 116):      # ENOENT, ENOTDIR, ESTALE: no such cgroup
                return None
            self._open = None            # EPERM, EOPNOTSUPP...: walk instead
            return False
        try:
            return self._rel(os.readlink("/proc/self/fd/%d" % fd))
        finally:
            os.close(fd)

    def _walk(self):
        """Fill the ID cache with every cgroup directory (one walk)."""
        self._walked = time.monotonic()
        stack = [self.root]
        while stack:
            top = stack.pop()
            try:
                entries = list(os.scandir(top))
            except OSError:
                continue
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    if e.inode() not in self._by_id:
                        self._by_id[e.inode()] = make(self._rel(e.path))
                    stack.append(e.path)
        try:
            self._by_id.setdefault(os.stat(self.root).st_ino, make("/"))
        except OSError:
            pass

    def by_id(self, cgid):
        """The Cgroup of a cgroup v2 ID, or None if it does not resolve."""
        with self._lock:
            if cgid in self._by_id:
                return self._by_id[cgid]
            if not self.root:
                return None
            path = self._by_handle(cgid)
            if path is False:
                if self._walked is None or time.monotonic() - self._walked >= WALK_EVERY_S:
                    self._walk()
                return self._by_id.get(cgid)
            self._by_id[cgid] = None if path is None else make(path)
            return self._by_id[cgid]

    def of_pid(self, pid):
        """The Cgroup of a process (its cgroup v2 line, read once while
        the process is listed), or None if it is gone unread."""
        with self._lock:
            if pid in self._pids:
                return self._pids[pid]
            cg = None
            try:
                with open("/proc/%d/cgroup" % pid, "rb") as f:
                    for line in f:
                        if line.startswith(b"0::"):
                            cg = make(os.fsdecode(line[3:].rstrip(b"\n")))
            except OSError:
                return None
            self._pids[pid] = cg
            return cg

    def forget_pid(self, pid):
        """The process exited: a new process may get its PID."""
        with self._lock:
            self._pids.pop(pid, None)

    def trim(self, limit):
        """Forget the oldest IDs beyond `limit` (a later lookup of one
        resolves it again)."""
        with self._lock:
            while len(self._by_id) > limit:
                self._by_id.popitem(last=False)
