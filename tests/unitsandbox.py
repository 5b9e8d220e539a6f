"""Run a command under the sandbox packaging/ethoswd.service asks systemd
for, as far as it can be set up without systemd as PID 1 (these machines
do not run it): the tests start ethoswd through this to check that what
the unit takes away is not something the service needs.

    argv = unitsandbox.command(UNIT, ["build/ethoswd", "--action", ...])

What it applies, read from the unit file itself:
- CapabilityBoundingSet=: every other capability is dropped from the
  bounding set, so the root process that execs the command has only these;
- NoNewPrivileges=yes: prctl(PR_SET_NO_NEW_PRIVS);
- SystemCallFilter= (each line; "~" lines remove), SystemCallErrorNumber=,
  MemoryDenyWriteExecute=yes: a seccomp filter built with libseccomp from
  the sets `systemd-analyze syscall-filter` lists, as systemd builds it;
- ProtectKernelTunables=yes: /sys and every mount under it, and /proc/sys,
  read-only (in a mount namespace of its own, through unshare(1)).
Not applied (reasoned in the unit's comments): the other mount settings,
PrivateDevices=, PrivateNetwork=, RestrictNamespaces= and the like.

Run as `python3 tests/unitsandbox.py UNIT -- CMD...` it applies all that
and execs CMD (unshare has made the mount namespace already).
"""

import ctypes
import ctypes.util
import errno
import os
import subprocess
import sys

PYTHON = "/usr/bin/python3"
# linux/capability.h
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
SCMP_ACT_ALLOW, SCMP_ACT_ERRNO = 0x7FFF0000, 0x00050000
SCMP_CMP_MASKED_EQ = 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000


def settings(unit):
    """{key: [value, ...]} of the unit's [Service] lines (comments left out)."""
    out, section = {}, None
    with open(unit) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, val = line.split("=", 1)
                out.setdefault(key, []).append(val)
    return out


def command(unit, argv):
    """argv run in the unit's sandbox (see the module doc)."""
    return ["unshare", "--mount", "--propagation", "private", PYTHON,
            os.path.abspath(__file__), unit, "--"] + list(argv)


def _syscall_set(name):
    """The syscalls of a name or @set, as systemd-analyze lists them."""
    if not name.startswith("@"):
        return {name}
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if word and not word.startswith("#"):
            names |= _syscall_set(word)
    return names


def allowed_syscalls(conf):
    """The allow list the unit's SystemCallFilter= lines make."""
    allow = None
    for line in conf.get("SystemCallFilter", []):
        deny = line.startswith("~")
        names = set()
        for word in line.lstrip("~").split():
            names |= _syscall_set(word)
        if deny:
            allow = (allow or set()) - names
        else:
            allow = (allow or set()) | names
    return allow


class _Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _load_seccomp(conf):
    allow = allowed_syscalls(conf)
    if allow is None:
        return
    err = {"EPERM": errno.EPERM}[conf.get("SystemCallErrorNumber", ["EPERM"])[-1]]
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_Cmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ERRNO | err)
    # MemoryDenyWriteExecute: mmap never W+X, mprotect/pkey_mprotect never
    # +X, shmat never SHM_EXEC (each allowed only with a masked argument).
    mdwe = {}
    if conf.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        wx = PROT_WRITE | PROT_EXEC
        mdwe = {"mmap": [(2, wx, 0), (2, wx, PROT_WRITE), (2, wx, PROT_EXEC)],
                "mprotect": [(2, PROT_EXEC, 0)], "pkey_mprotect": [(2, PROT_EXEC, 0)],
                "shmat": [(2, SHM_EXEC, 0)]}
    for name in sorted(allow):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue   # not a syscall of this architecture
        for rule in mdwe.get(name) or [None]:
            cmp = None if rule is None else (_Cmp * 1)(_Cmp(rule[0], SCMP_CMP_MASKED_EQ,
                                                            rule[1], rule[2]))
            if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0 if rule is None else 1,
                                          cmp):
                raise OSError("seccomp_rule_add %s" % name)
    if lib.seccomp_load(ctx):
        raise OSError("seccomp_load")


def _protect_kernel_tunables():
    mounts = subprocess.run(["findmnt", "-R", "-n", "-l", "-o", "TARGET", "/sys"], check=True,
                            capture_output=True, text=True).stdout.split()
    subprocess.run(["mount", "--bind", "/proc/sys", "/proc/sys"], check=True)
    for m in ["/proc/sys"] + sorted(set(mounts)):
        subprocess.run(["mount", "-o", "remount,bind,ro", m], check=True)


def main(argv):
    unit, sep, cmd = argv[0], argv[1], argv[2:]
    assert sep == "--" and cmd, "usage: unitsandbox.py UNIT -- CMD..."
    conf = settings(unit)
    if conf.get("ProtectKernelTunables", ["no"])[-1] == "yes":
        _protect_kernel_tunables()
    keep = set(" ".join(conf.get("CapabilityBoundingSet", [" ".join(CAPS)])).split())
    unknown = keep - set(CAPS)
    assert not unknown, "unknown capabilities in the unit: %s" % unknown
    libc = ctypes.CDLL(None, use_errno=True)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        if cap >= len(CAPS) or CAPS[cap] not in keep:
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0):
                raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP %d" % cap)
    if conf.get("NoNewPrivileges", ["no"])[-1] == "yes":
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _load_seccomp(conf)
    # ethoswd-asan (the host-asan suite): LeakSanitizer stops the process's
    # threads with ptrace at exit, which the unit's system-call filter takes
    # away, and then fails the run (as under strace: test_parity.py).  The
    # address and UB checks stay on; only the leak check is off in here.
    opts = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "detect_leaks=0"
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
