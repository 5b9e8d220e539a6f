#!/usr/bin/python3
"""vm/run.py - run a command (or a shell) as root inside a QEMU guest of the watchdog bed.

Boots a cached kernel under QEMU TCG -- "debian" (Debian 12 stock: BPF-LSM, kprobes) or
"override" (built from vm/kernel/override.config: kprobes + bpf_override_return) -- with
the host root and this checkout shared read-only over 9p, each with a tmpfs overlay for
writes (vm/initramfs/init); the checkout appears at its host path even under /tmp or /run,
which the guest mounts fresh.  Runs the command as root in the current directory and exits
with the command's status.
The console is streamed to stdout; the guest sees WATCHDOG_VM_KERNEL=<kernel>.
A runner failure (kernel not cached, QEMU error, guest panic or hang, no status written)
exits 125 with a one-line reason on stderr, after the last console lines.

    vm/run.py --kernel debian -- /usr/bin/python3 -m pytest -q tests/vm
    vm/run.py --kernel override --shell        # exit or ^D powers off; ^A x kills QEMU

Python 3 stdlib only; run it with /usr/bin/python3 (the one with bcc, also used in the guest).
"""
import argparse
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

VM_DIR = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.realpath(VM_DIR))   # shared at this path in the guest
KERNEL_SCRIPTS = {"debian": "fetch-debian-kernel.sh", "override": "build-kernel.sh"}
RUNNER_FAILURE = 125
TAIL_LINES = 25
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FRESH_IN_GUEST = ("/tmp", "/run", "/dev", "/proc", "/sys")   # the guest mounts these anew
UNSHAREABLE = ("/dev", "/proc", "/sys")   # no checkout there: the guest's own files live there


class RunnerError(Exception):
    """A failure of the bed itself, not of the guest command."""


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors are runner failures too (exit 125, not 2: pytest itself uses 2)."""
    def error(self, message):
        self.print_usage(sys.stderr)
        raise RunnerError(message)


def parse_args():
    p = ArgumentParser(
        description="Run CMD as root in a QEMU guest (see vm/README.md).",
        usage="%(prog)s --kernel {debian,override} [options] [--shell | -- CMD ARGS...]")
    p.add_argument("--kernel", required=True, choices=sorted(KERNEL_SCRIPTS))
    p.add_argument("--timeout", type=float, metavar="SEC",
                   help="kill the guest after SEC seconds (default 900; none with --shell)")
    p.add_argument("--mem", type=int, default=2048, metavar="MB",
                   help="guest memory in MB (default 2048)")
    p.add_argument("--smp", type=int, default=2, metavar="N", help="guest CPUs (default 2)")
    p.add_argument("--shell", action="store_true", help="interactive shell on the serial console")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment variable for the guest command (repeatable)")
    p.add_argument("--append", default="", metavar="ARGS",
                   help="extra kernel command-line arguments")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command to run in the guest")
    args = p.parse_args()
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if args.shell == bool(args.command):
        p.error("give either --shell or a command (after --)")
    if args.shell and not sys.stdin.isatty():
        p.error("--shell needs a terminal on stdin")
    for kv in args.env:
        if not re.match(r"[A-Za-z_][A-Za-z0-9_]*=", kv):
            p.error(f"--env wants NAME=VALUE, got {kv!r}")
    if args.timeout is None and not args.shell:
        args.timeout = 900
    return args


def kernel_dir(kernel):
    """The cache directory of a kernel (its script prints it; fails with how-to-build if absent)."""
    r = subprocess.run([os.path.join(VM_DIR, KERNEL_SCRIPTS[kernel]), "--path"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RunnerError((r.stderr.strip().splitlines() or ["?"])[-1])
    return r.stdout.strip()


def guest_script(args, cwd):
    """cmd.sh for the guest: environment, working directory, then the command or a shell."""
    env = {"PATH": GUEST_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
           "LANG": "C.UTF-8", "TERM": os.environ.get("TERM", "vt100") if args.shell else "dumb",
           "WATCHDOG_VM_KERNEL": args.kernel}
    env.update(kv.split("=", 1) for kv in args.env)
    lines = ["# written by vm/run.py; run by vm/initramfs/init in the guest chroot"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    cd_fail = shlex.quote(f"vm: cannot cd to {cwd}")
    lines.append(f"cd {shlex.quote(cwd)} || {{ echo {cd_fail} >&2; exit 125; }}")
    if args.shell:
        cols, rows = shutil.get_terminal_size()
        lines.append(f"stty rows {rows} cols {cols} 2>/dev/null")
        lines.append("echo \"vm: $WATCHDOG_VM_KERNEL kernel $(uname -r); "
                     "exit or ^D powers off, ^A x kills QEMU\"")
        # --norc: the host's ~/.bashrc may reorder PATH (pyenv) and is slow under TCG.
        lines.append(f"export PS1='vm-{args.kernel}:\\w# '")
        lines.append("if [ -x /bin/bash ]; then exec /bin/bash --norc -i; else exec /bin/sh -i; fi")
    else:
        lines.append("exec " + shlex.join(args.command))
    return "\n".join(lines) + "\n"


def is_under(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def check_paths(cwd, checkout):
    """The checkout must be shareable, and the working directory visible in the guest:
    inside the checkout, or on the host root outside the directories the guest mounts anew."""
    for d in UNSHAREABLE:
        if is_under(checkout, d):
            raise RunnerError(f"checkout {checkout} is under {d}, which the guest mounts anew")
    if is_under(cwd, checkout):
        return
    for d in FRESH_IN_GUEST:
        if is_under(cwd, d):
            raise RunnerError(f"working directory {cwd} is hidden in the guest (it mounts a "
                              f"fresh {d} there and shares only the checkout {checkout})")


def share(tag, path, writable=False):
    """QEMU arguments for a virtio-9p share (QEMU option values escape ',' as ',,')."""
    opts = f"local,id={tag},path={path.replace(',', ',,')},security_model=none"
    if not writable:
        opts += ",readonly=on,multidevs=remap"
    return ["-fsdev", opts, "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]


def qemu_command(args, kdir, initrd, results):
    """QEMU under TCG booting the uncompressed vmlinux (PVH entry, about 2x faster than the
    bzImage); qboot instead of SeaBIOS, whose terminal-reset escapes (ESC c, no line wrap)
    would reach the user's terminal. -no-reboot + panic=-1: a guest reboot or panic ends QEMU."""
    append = " ".join(["console=ttyS0", "panic=-1", "quiet", args.append]).strip()
    return ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max",
            "-smp", str(args.smp), "-m", str(args.mem), "-bios", "qboot.rom",
            "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", os.path.join(kdir, "vmlinux"), "-initrd", initrd, "-append", append,
            *share("hostroot", "/"), *share("checkout", CHECKOUT),
            *share("results", results, writable=True)]


def run_batch(cmd, timeout):
    """Run QEMU, stream its console to stdout; return (qemu status or None on timeout,
    the last 16 KiB of console lines)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    tail = bytearray()

    def pump():
        pending_cr, out = b"", sys.stdout.buffer
        while chunk := os.read(proc.stdout.fileno(), 65536):
            data = (pending_cr + chunk).replace(b"\r\n", b"\n")   # serial line endings
            pending_cr = b"\r" if data.endswith(b"\r") else b""
            data = data[:len(data) - len(pending_cr)]
            try:
                if out:
                    out.write(data)
                    out.flush()
            except BrokenPipeError:   # e.g. `| head`: keep draining QEMU, stop echoing
                out = None
            tail.extend(data)
            del tail[:-16384]

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    return status, tail.decode(errors="replace").splitlines()


def run_shell(cmd, timeout):
    """Run QEMU on this terminal; return (qemu status or None on timeout, [])."""
    try:
        return subprocess.run(cmd, timeout=timeout).returncode, []
    except subprocess.TimeoutExpired:
        return None, []


def read_file(path, default):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return default


def read_status(results):
    """The key=value lines init wrote to the results share, or {} if it wrote none."""
    lines = read_file(os.path.join(results, "status"), "").splitlines()
    if lines[:1] != ["vm-init: done"]:
        return {}
    return dict(line.split("=", 1) for line in lines[1:] if "=" in line)


def failure_reason(qemu_status, console, timeout):
    if qemu_status is None:
        return f"guest timed out after {timeout:g} s (QEMU killed)"
    for line in console:
        if "Kernel panic" in line:
            return "guest kernel panicked: " + line.strip()
        if "vm-init: FAILED" in line:
            return "guest init failed: " + line.split("vm-init: FAILED:", 1)[-1].strip()
    if qemu_status != 0:
        return f"QEMU exited with status {qemu_status}"
    return "guest stopped without writing a status file"


def main():
    args = parse_args()
    cwd = os.getcwd()
    check_paths(cwd, CHECKOUT)
    if not shutil.which("qemu-system-x86_64"):
        raise RunnerError("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    kdir = kernel_dir(args.kernel)

    with tempfile.TemporaryDirectory(prefix="ewd-vm-") as work:
        results, initrd = os.path.join(work, "results"), os.path.join(work, "initramfs.cpio")
        os.mkdir(results)
        r = subprocess.run([os.path.join(VM_DIR, "make-initramfs.sh"), kdir, initrd],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RunnerError((r.stderr.strip().splitlines() or ["make-initramfs.sh failed"])[-1])
        with open(os.path.join(results, "vm.conf"), "w") as f:
            f.write(f"VM_INTERACTIVE={int(args.shell)}\nVM_CHECKOUT={shlex.quote(CHECKOUT)}\n")
        with open(os.path.join(results, "cmd.sh"), "w") as f:
            f.write(guest_script(args, cwd))

        cmd = qemu_command(args, kdir, initrd, results)
        t0 = time.monotonic()
        qemu_status, console = (run_shell if args.shell else run_batch)(cmd, args.timeout)
        wall = time.monotonic() - t0
        status = read_status(results)
        started = read_file(os.path.join(results, "started"), "?").strip()

    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    if "rc" not in status:
        for line in console[-TAIL_LINES:]:
            print("  | " + line, file=sys.stderr)
        raise RunnerError(failure_reason(qemu_status, console, args.timeout))
    print(f"vm: {args.kernel} kernel {status.get('kernel', '?')}: exit {status['rc']}, "
          f"command started {started} s after boot, {wall:.1f} s wall, QEMU peak RSS {rss_mb} MB",
          file=sys.stderr)
    return int(status["rc"])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RunnerError as e:
        print(f"vm/run.py: ERROR: {e}", file=sys.stderr)
        sys.exit(RUNNER_FAILURE)
    except KeyboardInterrupt:
        print("vm/run.py: ERROR: interrupted", file=sys.stderr)
        sys.exit(RUNNER_FAILURE)
