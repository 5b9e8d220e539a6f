"""SIGHUP with --config: read the file again, apply what can change while
attached, refuse the rest (src/reload.c is the C copy).

The command line is parsed again with the file as it is now (its flags
still override the file), then compared with the running policy:

- applied at once, in the probe's maps: max-calls and window-ms
  (wd_config), comm, exclude-comm and exclude-exe (their sets), and the
  profile's name;
- refused, nothing changed: whatever is built into the loaded probe
  (key, count, file, backend, action, map-size, and turning a comm or
  exclusion filter on or off: the switch is a load-time constant) or
  fixed for the run (pid, interval, duration, json).  Detaching and
  loading another probe would reset every budget and the target marks
  the fork hook has written, so a restart is the honest way to apply
  those.

A reload is all or nothing: one refused change, or a bad file, keeps the
whole running policy.  Either way one `reload` event says what changed,
what was refused and why.
"""

from . import cli, features
from .errors import SetupError
from .safetext import one_line

BUILT_IN = "built into the loaded probe: restart to apply"
SWITCH = ("turns a filter on or off, which is built into the loaded probe: "
          "restart to apply")
FIXED = "fixed for the run: restart to apply"


def _ids(files):
    return sorted((f.dev, f.ino) for f in files)


def _paths(files):
    return ",".join(f.path for f in files)


def _text(v):
    """A fixed setting as the reload event shows it (as reload.c)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(map(str, v))
    return "" if v is None else "%g" % v


def compare(old, new, running, chosen):
    """([(setting, old text, new text)], [(setting, reason)]).  old, new:
    cli.parse() namespaces; running: (backend, action) attached;
    chosen: what features.choose() makes of new, or a SetupError."""
    po, pn = old.policy, new.policy
    changes, refused = [], []

    def diff(setting, a, b, reason=None, same=None):
        if (a == b) if same is None else same:
            return
        changes.append((setting, a, b))
        if reason:
            refused.append((setting, reason))

    diff("profile", po.profile, pn.profile)
    diff("max-calls", str(po.max_calls), str(pn.max_calls))
    diff("window-ms", str(po.window_ms), str(pn.window_ms))
    for setting, a, b in (("comm", old.comm, new.comm),
                          ("exclude-comm", old.exclude_comm, new.exclude_comm)):
        diff(setting, ",".join(a), ",".join(b), None if bool(a) == bool(b) else SWITCH,
             same=sorted(a) == sorted(b))
    a, b = po.exclude_exe, pn.exclude_exe
    diff("exclude-exe", _paths(a), _paths(b), None if bool(a) == bool(b) else SWITCH,
         same=_ids(a) == _ids(b))
    diff("count", po.count, pn.count, BUILT_IN,
         same=sorted((po.magics or {}).values()) == sorted((pn.magics or {}).values()))
    diff("file", _paths(po.files), _paths(pn.files), BUILT_IN,
         same=_ids(po.files) == _ids(pn.files))
    diff("key", po.key, pn.key, BUILT_IN)
    if isinstance(chosen, SetupError):
        changes.append(("backend", running[0], new.backend))
        refused.append(("backend", str(chosen)))
    else:
        diff("backend", running[0], chosen[0], BUILT_IN)
        diff("action", running[1], chosen[1], BUILT_IN)
    diff("map-size", str(old.map_size), str(new.map_size), BUILT_IN)
    for setting, a, b in (("pid", old.pid, new.pid), ("interval", old.interval, new.interval),
                          ("duration", old.duration, new.duration),
                          ("json", old.json, new.json)):
        diff(setting, _text(a), _text(b), FIXED)
    for setting, a, b in (("user", *(o.user.name if o.user else "" for o in (old, new))),
                          ("state-file", old.state_file or "", new.state_file or ""),
                          ("metrics-file", old.metrics_file or "", new.metrics_file or ""),
                          ("metrics-listen", *("%s %d" % o.metrics_listen if o.metrics_listen
                                               else "" for o in (old, new))),
                          ("metrics-per-cgroup", str(old.metrics_per_cgroup or 0),
                           str(new.metrics_per_cgroup or 0)),
                          ("jitter", str(old.jitter or 0), str(new.jitter or 0)),
                          ("jitter-mode", old.jitter_mode, new.jitter_mode),
                          ("jitter-via", old.jitter_via, new.jitter_via)):
        diff(setting, a, b, FIXED)
    return changes, refused


def apply(session, argv, feats, backend):
    """Re-read the file and apply it to the running session; reports one
    `reload` event."""
    opts, probe = session.opts, session.probe
    try:
        new = cli.parse(argv)
    except SetupError as e:
        return _report(session, [], [], str(e))
    try:
        chosen = features.choose(feats, new.backend, new.action)[:2]
    except SetupError as e:
        chosen = e
    changes, refused = compare(opts, new, (backend, session.action), chosen)
    if not refused and changes:
        pn = new.policy
        probe.set_limits(pn.max_calls, pn.window_ms)
        if opts.comm:
            probe.set_names("wd_comm_in", opts.comm, new.comm)
        if opts.exclude_comm:
            probe.set_names("wd_comm_out", opts.exclude_comm, new.exclude_comm)
        if opts.policy.exclude_exe:
            probe.set_files("wd_exe_out", opts.policy.exclude_exe, new.policy.exclude_exe)
        opts.comm, opts.exclude_comm = new.comm, new.exclude_comm
        opts.policy.max_calls, opts.policy.window_ms = pn.max_calls, pn.window_ms
        opts.policy.exclude_exe, opts.policy.profile = new.policy.exclude_exe, new.policy.profile
        session.window_changed()
    return _report(session, changes, refused, None)


def _report(session, changes, refused, error):
    path = session.opts.config
    ok = error is None and not refused
    why = dict(refused)
    said = ["%s %s -> %s%s" % (s, a or "(none)", b or "(none)",
                               " (%s)" % why[s] if s in why else "")
            for s, a, b in changes]
    if error is not None:
        text = "reload of %s refused, the running policy stays: %s" % (path, error)
    elif refused:
        text = "reload of %s refused, the running policy stays: %s" % (path, "; ".join(said))
    elif changes:
        text = "reload of %s: applied %s" % (path, "; ".join(said))
    else:
        text = "reload of %s: no change" % path
    session.rep.info(one_line(text), event="reload", config=path, applied=ok,
                     changes=[{"setting": s, "old": a, "new": b} for s, a, b in changes],
                     refused=[{"setting": s, "reason": r} for s, r in refused],
                     error=error)
