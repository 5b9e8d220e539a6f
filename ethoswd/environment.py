"""Check and prepare the environment before anything is loaded.

The -p targets, the capabilities (the effective set, not the user id),
BCC, kernel headers for BCC's compiler, and the pseudo file systems
(tracefs, debugfs, securityfs) the probes and feature checks read.  Each
failure is a SetupError naming the problem and the fix.  src/sysenv.c
is the C copy: the same checks, in the same order, with the same words.
"""

import os
import platform
import resource
import subprocess

from .abi import PF_KTHREAD
from .errors import SetupError

INSTALL_HINT = "run ./install.sh (it installs and links what BCC needs)"
MOUNTS = (("tracefs", "/sys/kernel/tracing"),
          ("debugfs", "/sys/kernel/debug"),
          ("securityfs", "/sys/kernel/security"))


# Capability numbers (linux/capability.h) and what the watchdog uses each for.
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_KILL = 1, 2, 5
CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_PERFMON, CAP_BPF = 21, 24, 38, 39
CAP_NAMES = {CAP_DAC_READ_SEARCH: "CAP_DAC_READ_SEARCH", CAP_KILL: "CAP_KILL",
             CAP_SYS_ADMIN: "CAP_SYS_ADMIN", CAP_SYS_RESOURCE: "CAP_SYS_RESOURCE",
             CAP_PERFMON: "CAP_PERFMON", CAP_BPF: "CAP_BPF"}
TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


class Privileges:
    """What decides whether the watchdog may run: the effective capability
    set, the kernel's highest capability number, whether tracefs can be
    read, the kernel version and RLIMIT_MEMLOCK's hard limit."""

    def __init__(self, caps, last_cap, tracefs, kernel, memlock, uid):
        self.caps, self.last_cap, self.tracefs = caps, last_cap, tracefs
        self.kernel, self.memlock, self.uid = kernel, memlock, uid

    def has(self, cap):
        return bool(self.caps >> cap & 1)

    def missing(self, action=None):
        """[(capability, what it is needed for)] that the set lacks."""
        out = []
        if self.last_cap < CAP_BPF:
            if not self.has(CAP_SYS_ADMIN):
                out.append((CAP_SYS_ADMIN, "this kernel has no CAP_BPF (before 5.8): "
                            "BPF needs CAP_SYS_ADMIN"))
        else:
            for cap, why in ((CAP_BPF, "load BPF programs and maps"),
                             (CAP_PERFMON, "attach tracing programs")):
                if not self.has(cap) and not self.has(CAP_SYS_ADMIN):
                    out.append((cap, why))
        if self.tracefs and not (self.has(CAP_DAC_READ_SEARCH) or
                                 self.has(CAP_DAC_OVERRIDE)):
            out.append((CAP_DAC_READ_SEARCH, "read tracefs: %s is closed to "
                        "this user" % self.tracefs))
        if (self.kernel < (5, 11) and self.memlock != resource.RLIM_INFINITY
                and not self.has(CAP_SYS_RESOURCE)):
            out.append((CAP_SYS_RESOURCE, "this kernel charges BPF maps to "
                        "RLIMIT_MEMLOCK, whose hard limit is %d bytes; or run "
                        "ulimit -l unlimited first" % self.memlock))
        if action == "throttle" and not self.has(CAP_KILL):
            out.append((CAP_KILL, "--action throttle resumes stopped processes, "
                        "other users' too, with SIGCONT; or choose another --action"))
        return out


def _effective_caps():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    raise SetupError("cannot read the capability set (CapEff in /proc/self/status): "
                     "mount /proc")


def _unreadable_tracefs():
    """A mounted tracefs this process may not search, or None."""
    denied = None
    for root in TRACEFS_ROOTS:
        try:
            os.stat(os.path.join(root, "events"))
            return None
        except PermissionError:
            denied = denied or root
        except OSError:
            pass
    return denied


def privileges():
    """This process's Privileges."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last_cap = int(f.read())
    except (OSError, ValueError):
        last_cap = CAP_BPF          # unknown: assume a kernel with CAP_BPF
    rel = platform.release().split(".")
    try:
        kernel = (int(rel[0]), int(rel[1].split("-")[0]))
    except (IndexError, ValueError):
        kernel = (99, 0)
    return Privileges(_effective_caps(), last_cap, _unreadable_tracefs(), kernel,
                      resource.getrlimit(resource.RLIMIT_MEMLOCK)[1], os.geteuid())


def bpf_capable():
    """Can this process load and attach BPF programs (CAP_BPF and
    CAP_PERFMON, or CAP_SYS_ADMIN)?  Then an EPERM is the kernel's."""
    try:
        priv = privileges()
    except SetupError:
        return False
    return not [c for c, _ in priv.missing() if c != CAP_DAC_READ_SEARCH
                and c != CAP_SYS_RESOURCE]


def privilege_problem(priv, action=None):
    """The one-line refusal for what priv lacks, or None."""
    missing = priv.missing(action)
    if not missing:
        return None
    one = len(missing) == 1
    them = "it" if one else "them"
    if priv.uid == 0:
        fix = ("this process runs as root without %s (a container or a service "
               "that drops capabilities): grant %s" % (them, them))
    else:
        fix = "run it as root (a root shell, or sudo in front), or grant %s" % them
    return ("missing capabilit%s in the effective set (uid %d): %s; %s "
            "(docs/watchdog_guide.md, \"Privileges\")" % (
                "y" if one else "ies", priv.uid,
                "; ".join("%s (%s)" % (CAP_NAMES[c], why) for c, why in missing), fix))


def require_privileges(action=None):
    """SetupError unless the effective capabilities allow loading and
    attaching the probe (and, for throttle, resuming what it stops)."""
    problem = privilege_problem(privileges(), action)
    if problem:
        raise SetupError(problem)


require_root = require_privileges   # the old name (recorder.py, sweep.py)


def import_bcc():
    """Import BCC's Python module; SetupError if it is missing."""
    try:
        import bcc  # noqa: F401  (imported for the caller's side effect)
    except ImportError as e:
        raise SetupError("BCC's Python module is missing (%s): install "
                         "python3-bpfcc and use /usr/bin/python3, or %s"
                         % (e, INSTALL_HINT)) from None
    return bcc


def require_headers():
    """BCC compiles against /lib/modules/$(uname -r)/build or kheaders."""
    release = platform.release()
    build = "/lib/modules/%s/build" % release
    if os.path.isdir(os.path.join(build, "include")):
        return build
    kheaders = "/sys/kernel/kheaders.tar.xz"
    if not os.path.exists(kheaders):
        # CONFIG_IKHEADERS=m: the archive appears once the module is loaded.
        subprocess.run(["modprobe", "-q", "kheaders"], capture_output=True)
    if os.path.exists(kheaders):
        return kheaders
    raise SetupError("no kernel headers for %s: %s is missing and the kernel "
                     "has no /sys/kernel/kheaders.tar.xz; %s"
                     % (release, build, INSTALL_HINT))


def mount_pseudo_filesystems():
    """Mount tracefs/debugfs/securityfs where absent; return what was done."""
    done = []
    with open("/proc/mounts") as f:
        mounted = {line.split()[1] for line in f}
    for fstype, path in MOUNTS:
        if path in mounted or not os.path.isdir(path):
            continue
        r = subprocess.run(["mount", "-t", fstype, fstype, path],
                           capture_output=True, text=True)
        if r.returncode == 0:
            done.append("mounted %s on %s" % (fstype, path))
    return done


def check_target_pid(pid):
    """A -p PID must be a live process (not a zombie, not a thread of
    another), and never PID 1, a kernel thread or the watchdog itself."""
    if pid == 1:
        raise SetupError("--pid 1: pid 1 is never limited (init must keep running)")
    if pid == os.getpid():
        raise SetupError("--pid %d: that is the watchdog's own process; it never "
                         "limits itself" % pid)
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        with open("/proc/%d/status" % pid) as f:
            tgid = [int(line.split()[1]) for line in f if line.startswith("Tgid:")]
    except (OSError, ValueError):
        raise SetupError("--pid %d: no such process" % pid) from None
    # State (field 3) and flags (field 9) follow the parenthesised comm,
    # which may hold spaces or ')': count fields from the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if tgid and tgid[0] != pid:
        raise SetupError("--pid %d: %d is a thread of process %d; give the process "
                         "ID %d" % (pid, pid, tgid[0], tgid[0]))
    if fields[0] in ("Z", "X", "x"):
        raise SetupError("--pid %d: process %d has exited (a zombie its parent has "
                         "not reaped); give a running process" % (pid, pid))
    if int(fields[6]) & PF_KTHREAD:
        raise SetupError("--pid %d: pid %d is a kernel thread; kernel threads "
                         "are never limited" % (pid, pid))
