"""Run both front ends on the same command line and compare their answers
(exit status, the error line word for word, stdout), for the parity tests
(tests/unit/test_frontend_parity.py, tests/host/test_parity.py).

    a = answers(["--max-calls", "0"])        # {front end: Answer}
    same_refusal(a)                          # the one error line both print

unprivileged() wraps a command so that, even as root, it runs without any
capability: what both front ends accept then stops at their privilege
check, before anything is loaded (safe to run in the unit suite).
"""

import os
import subprocess

import wdrun

PREFIX = {"watchdog.py": "watchdog: ", "ethoswd": "ethoswd: "}


def argv0(name):
    """The command that starts front end `name` (wdrun.FRONTENDS)."""
    if name == "ethoswd":
        return [str(wdrun.ETHOSWD)]
    return [wdrun.PYTHON, str(wdrun.WATCHDOG)]


def unprivileged():
    """A prefix that runs a command with no capabilities at all."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all"]


class Answer:
    """What one front end made of a command line."""

    def __init__(self, name, proc):
        self.name, self.rc = name, proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.lines = self.stderr.splitlines()

    @property
    def error(self):
        """The error line without the program's prefix, or None."""
        head = PREFIX[self.name] + "error: "
        if len(self.lines) == 1 and self.lines[0].startswith(head):
            return self.lines[0][len(head):]
        return None

    def __repr__(self):
        return "%s: rc %s, stderr %r, stdout %r" % (
            self.name, self.rc, self.stderr[-2000:], self.stdout[:300])


def answers(args, *, wrap=(), self_pid=False, timeout=60, env=None):
    """{front end: Answer} for `args`.  self_pid: append "-p <the front
    end's own pid>" (through sh's exec, which keeps the pid)."""
    out = {}
    for name in wdrun.FRONTENDS:
        argv = argv0(name) + [os.fsencode(a) if isinstance(a, str) else a
                              for a in args]
        if self_pid:
            argv = ["sh", "-c", 'exec "$@" -p $$', "sh"] + argv
        proc = subprocess.run(list(wrap) + argv, capture_output=True,
                              timeout=timeout, env=env)
        out[name] = Answer(name, proc)
    return out


def same_refusal(ans):
    """Both refused with exit status 2, one error line, the same words and
    nothing on stdout; that line (without the prefix)."""
    lines = set()
    for a in ans.values():
        assert a.rc == 2 and a.error is not None and a.stdout == "", a
        lines.add(a.error)
    assert len(lines) == 1, "the front ends differ:\n%s" % "\n".join(
        repr(a) for a in ans.values())
    return lines.pop()
