"""Check and prepare the environment before anything is loaded.

Root, BCC, kernel headers for BCC's compiler, and the pseudo file
systems (tracefs, debugfs, securityfs) the probes and feature checks
read.  Each failure is a SetupError naming the problem and the fix.
"""

import os
import platform
import subprocess

from .abi import PF_KTHREAD
from .errors import SetupError

INSTALL_HINT = "run ./install.sh (it installs and links what BCC needs)"
MOUNTS = (("tracefs", "/sys/kernel/tracing"),
          ("debugfs", "/sys/kernel/debug"),
          ("securityfs", "/sys/kernel/security"))


def require_root():
    if os.geteuid() != 0:
        raise SetupError("must run as root: loading BPF programs needs "
                         "CAP_BPF and CAP_PERFMON; run it in a root shell, "
                         "or with sudo in front")


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
    """A -p PID must exist, and never be PID 1 or a kernel thread."""
    if pid == 1:
        raise SetupError("--pid 1: pid 1 is never limited (init must keep running)")
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        raise SetupError("--pid %d: no such process" % pid) from None
    # Field 9 (flags) follows the parenthesised comm, which may hold spaces.
    flags = int(stat.rsplit(")", 1)[1].split()[6])
    if flags & PF_KTHREAD:
        raise SetupError("--pid %d: pid %d is a kernel thread; kernel threads "
                         "are never limited" % (pid, pid))
