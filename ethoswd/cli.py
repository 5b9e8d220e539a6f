"""Command-line parsing and validation (no BPF, no root: unit-testable).

parse(argv) returns an argparse.Namespace with checked values, or raises
SetupError with one line naming the bad value and the accepted range.
Everything after `--` is the command to launch and limit.
"""

import argparse
import os
import re

from . import config, options
from .abi import COMM_MAX, DEFS, MAP_H  # noqa: F401  (MAP_H: for the tests)
from .errors import SetupError
from .jitter_cover import check_via
from .options import INTERVAL_MIN
from .policy import LIST_MAX, SPACE, resolve
from .runas import lookup_user

# --jitter GRAIN: units, and the bounds of probe/jitter_clamp.h (ns).
GRAIN_UNITS = {"ns": 1, "us": 1000, "ms": 1000000, "s": 1000000000}
GRAIN_MIN_NS, GRAIN_MAX_NS = 1000, 1000000000


VERSION = "1.0"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: SetupError, exit status 2."""

    def error(self, message):
        # argparse prints usage plus the error; we want one line, status 2.
        raise SetupError("%s (see --help)" % message)


def _whole(name, text, lo, hi, what):
    """A whole number: ASCII digits (no '_', no other script's digits),
    an optional '+', ASCII white space around; as opts.c whole()."""
    digits = text.strip(SPACE)
    if not re.fullmatch(r"\+?[0-9]+", digits):
        raise SetupError("%s %r is not a whole number" % (name, text))
    val = int(digits)
    if val < lo:
        raise SetupError("%s %d is too small: it must be at least %d"
                         % (name, val, lo))
    if val > hi:
        raise SetupError("%s %d is too large: %s, at most %d"
                         % (name, val, what, hi))
    return val


# float()'s syntax in ASCII, without '_': [sign] digits [. digits]
# [e [sign] digits], or inf/infinity; NaN is not a number of seconds.
_SECONDS = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                      r"|inf|infinity)", re.I | re.A)


def _seconds(name, text, lo, hi):
    """Seconds in lo..hi (lo 0: more than 0); as opts.c seconds()."""
    if not _SECONDS.fullmatch(text.strip(SPACE)):
        raise SetupError("%s %r is not a number of seconds" % (name, text))
    val = float(text.strip(SPACE))
    if lo and not lo <= val <= hi:
        raise SetupError("%s %s must be at least %g and at most %g seconds"
                         % (name, text, lo, hi))
    if not 0 < val <= hi:
        raise SetupError("%s %s must be more than 0 and at most %g seconds"
                         % (name, text, hi))
    return val


def _comm(name, text):
    if not text or len(os.fsencode(text)) > COMM_MAX:
        raise SetupError("%s %r must be 1 to %d bytes long, the kernel's "
                         "command-name limit" % (name, text, COMM_MAX))
    return text


def _at_most(values, what, noun):
    """A repeatable option's values, at most LIST_MAX (the probe's maps)."""
    if len(values) > LIST_MAX:
        raise SetupError("%s: at most %d %s" % (what, LIST_MAX, noun))
    return values


# --metrics-listen: a numeric address (no name lookup) and a port.
_LISTEN = re.compile(r"([0-9.]+|\[[0-9A-Fa-f:.]+\]):([0-9]+)", re.A)
METRICS_SERIES_MAX = 1000


def metrics_listen(text):
    """(address, port) of --metrics-listen ADDR:PORT; as opts.c."""
    import ipaddress
    m = _LISTEN.fullmatch(text)
    ok = m is not None
    if ok:
        addr, port = m.group(1).strip("[]"), int(m.group(2))
        try:
            ip = ipaddress.ip_address(addr)
            ok = (ip.version == 6) == m.group(1).startswith("[") and 0 < port < 65536
        except ValueError:
            ok = False
    if not ok:
        raise SetupError("--metrics-listen %r is not ADDR:PORT: an IPv4 address or "
                         "[IPv6] address, a colon and a port 1-65535" % text)
    return addr, port


def _metrics(a):
    """Checks of the metrics options, after the policy (the key) is known."""
    if a.metrics_listen is not None:
        a.metrics_listen = metrics_listen(a.metrics_listen)
    if a.metrics_file is not None and not a.metrics_file:
        raise SetupError("--metrics-file needs a file name")
    if a.metrics_per_cgroup is None:
        return
    a.metrics_per_cgroup = _whole("--metrics-per-cgroup", a.metrics_per_cgroup, 1,
                                  METRICS_SERIES_MAX, "label sets")
    if not (a.metrics_file or a.metrics_listen):
        raise SetupError("--metrics-per-cgroup needs --metrics-file or --metrics-listen")
    if a.policy.key != "cgroup":
        raise SetupError("--metrics-per-cgroup labels cgroup budgets: it needs --key "
                         "cgroup (the key here is %s)" % a.policy.key)


def _grain(text):
    """--jitter GRAIN: a whole number and a unit (ns, us, ms, s), in ns."""
    m = re.fullmatch(r"([0-9]+)(ns|us|ms|s)", text)
    if not m:
        raise SetupError("--jitter %r is not a duration: give a whole number "
                         "and a unit, e.g. 100us or 1ms" % text)
    ns = int(m.group(1)) * GRAIN_UNITS[m.group(2)]
    if ns < GRAIN_MIN_NS:
        raise SetupError("--jitter %s is too small: it must be at least 1us, so "
                         "that microsecond clocks carry whole grains" % text)
    if ns > GRAIN_MAX_NS:
        raise SetupError("--jitter %s is too large: pause holds a reader up to "
                         "two grains, at most 1s" % text)
    if ns % 1000:
        raise SetupError("--jitter %s is not a whole number of microseconds" % text)
    return ns


def build_parser():
    """watchdog.py's parser: every option of probe/options.def."""
    p = Parser(prog="watchdog.py",
               description="Rate-limit read() bursts per process with eBPF.",
               epilog=options.examples("./watchdog.py"),
               formatter_class=argparse.RawDescriptionHelpFormatter,
               usage="%(prog)s [options] [-- CMD [ARGS...]]")
    options.add_to(p, VERSION)
    return p


def _given(parser, argv):
    """The dests the command line itself gave (parsed again, no defaults)."""
    saved = [(act, act.default) for act in parser._actions]
    for act, _ in saved:
        act.default = argparse.SUPPRESS
    try:
        return set(vars(parser.parse_args(argv)))
    finally:
        for act, default in saved:
            act.default = default


def _merge_config(parser, argv, a):
    """--config FILE: its settings where the command line gave none."""
    actions = {o[2:]: act for act in parser._actions for o in act.option_strings
               if o.startswith("--")}
    given = _given(parser, argv)
    for dest, value in config.settings(a.config, actions).items():
        if dest not in given:
            setattr(a, dest, value)


def parse(argv, extra=None):
    """Parse and validate argv (without the program name); extra(parser)
    may add a subcommand's own options first (ethoswd/research/recorder.py)."""
    argv = list(argv)
    command = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
        if not command:
            raise SetupError("nothing after '--': give the command to launch")
    parser = build_parser()
    if extra:
        extra(parser)
    a = parser.parse_args(argv)
    a.command = command
    if a.config is not None:
        _merge_config(parser, argv, a)
    if a.resume_stopped is not None and (command or _given(parser, argv) - {
            "resume_stopped", "json"}):
        raise SetupError("--resume-stopped takes no other options than --json")
    for name, val in (("--state-file", a.state_file), ("--resume-stopped", a.resume_stopped)):
        if val is not None and not val:
            raise SetupError("%s needs a path" % name)
    if a.max_calls is not None:
        a.max_calls = _whole("--max-calls", a.max_calls, 1,
                             DEFS["WD_MAX_CALLS_LIMIT"],
                             "the 32-bit window count needs headroom")
    if a.window_ms is not None:
        a.window_ms = _whole("--window-ms", a.window_ms, 1,
                             DEFS["WD_WINDOW_MS_LIMIT"], "one day")
    a.map_size = _whole("--map-size", a.map_size, 1, 1 << 22,
                        "4194304 entries")
    a.interval = _seconds("--interval", a.interval, INTERVAL_MIN, 3600)
    if a.duration is not None:
        a.duration = _seconds("--duration", a.duration, 0, 10 ** 7)
    a.pid = [_whole("--pid", p, 1, 4194304, "PID_MAX_LIMIT")
             for p in _at_most(a.pid, "-p/--pid", "processes")]
    a.comm = [_comm("--comm", c) for c in _at_most(a.comm, "--comm", "names")]
    a.exclude_comm = [_comm("--exclude-comm", c) for c in
                      _at_most(a.exclude_comm, "--exclude-comm", "names")]
    if a.pid and command:
        raise SetupError("use either -p/--pid or -- CMD, not both")
    if a.user is not None:
        if not command:
            raise SetupError("-u/--user runs the launched command as that user: "
                             "give -- CMD")
        a.user = lookup_user(a.user)
    if a.jitter is not None:
        a.jitter = _grain(a.jitter)
    elif a.jitter_mode is not None:
        raise SetupError("--jitter-mode needs --jitter GRAIN")
    elif a.jitter_via is not None:
        raise SetupError("--jitter-via needs --jitter GRAIN")
    a.jitter_mode = a.jitter_mode or "clamp"
    a.jitter_via = a.jitter_via or "auto"
    if a.jitter is not None:
        check_via(a.jitter, a.jitter_mode, a.jitter_via, command)
    a.exclude_exe = list(a.exclude_exe)
    a.policy = resolve(a)
    # The limit's one copy is the policy (a reload changes it there).
    del a.max_calls, a.window_ms
    if a.action == "deny" and a.backend == "tracepoint":
        raise SetupError("--action deny needs a backend that can fail a call "
                         "(kprobe or lsm); tracepoint can only count and signal")
    _metrics(a)
    return a
