"""Top-down flow: parse, check, probe features, build, attach, run, detach.

main() returns the process exit status: 0; in `-- CMD` mode the launched
command's own status, or 0 if the watchdog stopped first (--duration, a
signal) and left the command running, unlimited; 2 for any SetupError
(nothing left attached); 130 if interrupted during start-up.
"""

import functools
import os
import sys
import time

from . import cli, environment, features, jitter, jitter_cover, reload
from . import routes as read_routes
from .errors import SetupError
from .report import Reporter
from .safetext import escape, one_line


def print_features(feats, rep, pol):
    """--probe-features: every feature, then every backend and action, and
    the policy the other flags given would run."""
    rows = [(f.name, "yes" if f else "no", f.detail) for f in feats.all()]
    backends = {}
    for b in features.BACKENDS:
        problem = feats.backend_problem(b)
        acts = [a for a in features.ACTIONS
                if not problem and not feats.action_problem(b, a)]
        backends[b] = {"available": problem is None, "actions": acts,
                       "missing": problem}
    try:
        choice = features.choose(feats, "auto", "auto")
    except SetupError as e:
        choice = (None, None, str(e))
    # What each available backend does with each read route, at the
    # strongest action it has (deny where it can).
    routes = {b: [{"route": r, "status": st, "how": how} for r, st, how in
                  read_routes.routes(feats, b, info["actions"][0])]
              for b, info in backends.items() if info["actions"]}
    clocks = jitter.coverage()
    from .jitter_bpf import probe_write
    bpf = probe_write()
    if rep.as_json:
        rep.emit({"event": "features", "kernel": feats.kernel,
                  "features": {n: {"ok": ok == "yes", "detail": d}
                               for n, ok, d in rows},
                  "backends": backends, "routes": routes,
                  "jitter": jitter.features_json(clocks, bpf),
                  "auto": {"backend": choice[0], "action": choice[1],
                           "reason": choice[2]},
                  "policy": pol.as_dict()}, None)
        return
    out = ["Kernel %s" % feats.kernel, "", "%-34s %-4s %s" % ("FEATURE", "OK", "DETAIL")]
    out += ["%-34s %-4s %s" % r for r in rows]
    out += ["", "%-11s %-24s %s" % ("BACKEND", "ACTIONS", "STATUS")]
    for b, info in backends.items():
        out.append("%-11s %-24s %s" % (
            b, ",".join(info["actions"]) or "-",
            "available" if info["available"] else "missing " + info["missing"]))
    for b, rows in routes.items():
        out += ["", "ROUTES with %s, %s:" % (b, backends[b]["actions"][0])]
        out += ["  %-38s %-20s %s" % (r["route"], r["status"], r["how"]) for r in rows]
    out += jitter.features_lines(clocks, bpf)
    out += ["", "auto: %s" % ("backend %s, action %s (%s)" % choice
                              if choice[0] else choice[2]),
            "policy %s: %d calls / %d ms %s; counting %s" % (
                pol.profile, pol.max_calls, pol.window_ms, pol.describe_key(),
                pol.describe_count())]
    rep.emit({}, out)


# What throttle does to a process it cannot keep stopped (probe/limiter.h).
ESCALATION = ("throttle escalates to kill: a process that another one resumes "
              "(SIGCONT) during its throttled window is killed at its next counted call")


def _summary_line(feats):
    parts = []
    for b in features.BACKENDS:
        problem = feats.backend_problem(b)
        parts.append("%s %s" % (b, "yes" if not problem else "no (%s)" % problem))
    return "kernel %s; backends: %s" % (feats.kernel, "; ".join(parts))


def _describe_targets(opts, child):
    what = []
    if child:
        what.append("command '%s' (pid %d)%s and its children" % (
            escape(" ".join(opts.command)), child.pid,
            " as user %s (uid %d)" % (escape(opts.user.name), opts.user.uid)
            if opts.user else ""))
    if opts.pid:
        what.append("pid %s and their children" % ",".join(map(str, opts.pid)))
    if opts.comm:
        what.append("comm %s" % ",".join(map(escape, opts.comm)))
    if not what:
        what.append("every process")
    if opts.exclude_comm:
        what.append("except comm %s (spoofable)" % ",".join(
            map(escape, opts.exclude_comm)))
    if opts.exclude_exe:
        what.append("except executables %s" % ",".join(
            escape(f.path) for f in opts.policy.exclude_exe))
    return "; ".join(what) + " (never pid 1 or the watchdog)"


def _choose(opts, rep):
    """Check the targets, the privileges and the kernel; (features,
    backend, action, why)."""
    for pid in opts.pid:
        environment.check_target_pid(pid)
    environment.require_privileges()
    for note in environment.mount_pseudo_filesystems():
        rep.info(note)
    feats = features.Features()
    if opts.probe_features:
        return feats, None, None, None
    backend, action, why = features.choose(feats, opts.backend, opts.action)
    environment.require_privileges(action)
    problem = features.key_problem(feats, opts.policy.key)
    if problem:
        raise SetupError(problem)
    if opts.jitter:
        from .jitter_bpf import probe_write
        # The launcher needs no probe (-- CMD with auto, or asked for).
        launcher = opts.jitter_via == "launcher" or (opts.jitter_via == "auto" and opts.command)
        ok, detail = (True, "") if launcher else probe_write()
        # opts.jitter_via stays as asked (a reload compares it); jitter_run
        # is the mode this run got.
        opts.jitter_run, opts.jitter_why = jitter_cover.choose_via(
            opts.jitter, opts.jitter_mode, opts.jitter_via, opts.command, ok, detail)
    return feats, backend, action, why


def _start_bpf_jitter(bcc, opts, feats, child):
    """--jitter in a BPF mode: its own program, next to the limiter's."""
    from .jitter_bpf import BpfJitter
    jb = BpfJitter(bcc, opts.jitter, opts.jitter_mode, opts.jitter_run,
                   opts.jitter_why, feats.btf)
    jb.start(os.getpid(), opts.pid + ([child.pid] if child else []), opts.comm,
             opts.exclude_comm)
    return jb


def _build_and_attach(bcc, flags, opts, backend, action, uring_tp, targets, uids):
    """Compile, fill the maps, attach: the Probe, or SetupError."""
    from .probe import Probe
    try:
        probe = Probe(bcc, flags)
        probe.configure(opts.policy.max_calls, opts.policy.window_ms, targets,
                        opts.comm, opts.exclude_comm, opts.policy, uids)
        probe.attach(backend, uring_tp)
        probe.drop_exited(targets)
        return probe
    except Exception as e:  # BCC raises bare Exceptions
        last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise SetupError("could not build or attach the %s probe: %s"
                         % (backend, last)) from None


def _report_start(rep, opts, feats, backend, action, why, probe, child,
                  timings, metrics=None, sup=None, jb=None):
    rep.info(_summary_line(feats))
    rep.info("backend %s, action %s: %s" % (backend, action, why))
    if action == "throttle":
        rep.info(ESCALATION)
    pol = opts.policy
    rep.info("policy %s: limit %d calls / %d ms %s; counting %s"
             % (pol.profile, pol.max_calls, pol.window_ms, pol.describe_key(),
                pol.describe_count()))
    for note in pol.notes:
        rep.warn(note)
    how = read_routes.file_reads(feats, probe.flags)
    if how:
        rep.info("file lookup: " + how)
    routes = read_routes.routes(feats, backend, action)
    rep.info("routes counted: %s" % "; ".join(
        r for r, st, _ in routes if st == "counted"))
    for route, status, how in routes:
        # A row the same on every backend (mmap, tee, URING_CMD: guide,
        # section 2) is said, not warned.
        if route in read_routes.GENERAL_ROUTES:
            rep.info("%s: %s (%s)" % (route, status, how))
        elif status != "counted":
            rep.warn("%s: %s (%s)" % (route, status, how))
    rep.info("targets: %s" % _describe_targets(opts, child))
    jit = None
    if sup or jb:
        info, warn, jit = (sup.start_lines(jitter.coverage() or []) if sup else
                           jb.start_lines(child.pid if child else None))
        for line in info:
            rep.info(line)
        for line in warn:
            rep.warn(line)
    rep.info("attached %d programs: %s" % (len(probe.attached),
                                           ", ".join(probe.attached)))
    if metrics:
        rep.info(metrics.start_line())
    rep.info("start-up %.3f s (features %.3f, import %.3f, compile %.3f, "
             "load+attach %.3f); enforcing, Ctrl-C to stop"
             % tuple(timings[k] for k in ("total", "features", "import",
                                          "compile", "load_attach")),
             event="start", frontend="watchdog.py", backend=backend, action=action,
             reason=why, escalation=ESCALATION if action == "throttle" else None,
             kernel=feats.kernel,
             backends={b: feats.backend_problem(b) for b in features.BACKENDS},
             max_calls=pol.max_calls, window_ms=pol.window_ms,
             policy=pol.as_dict(), jitter=jit, attached=probe.attached,
             routes=[{"route": r, "status": st, "how": how} for r, st, how in routes],
             targets=sorted(
                 opts.pid + ([child.pid] if child else [])),
             user=opts.user.name if opts.user else None,
             startup={k: round(v, 4) for k, v in timings.items()})


# Research subcommands: `watchdog.py NAME ...` runs ethoswd.research.run(),
# imported only then (the runtime needs no research module).  Only an
# exact first word selects one, so `watchdog.py -- CMD` and every option
# keep their meaning.
SUBCOMMANDS = ("record", "replay", "export", "sweep")


def subcommand(argv, launched):
    """Run a research subcommand; its exit status."""
    try:
        from .research import run
    except ModuleNotFoundError as e:
        if e.name != __package__ + ".research":
            raise
        sys.stderr.write("watchdog: error: '%s' needs the research package "
                         "ethoswd/research, which is not installed: install the "
                         "whole tree\n" % argv[0])
        return 2
    return run(argv, launched)


def resume_stopped(path, rep):
    """--resume-stopped: resume what a killed watchdog's state file lists."""
    from .stopfile import resume
    resumed, skipped = resume(path)
    listed = len(resumed) + len(skipped)
    rep.info("resumed %d of %d processes listed in %s; %d skipped (gone, or the PID "
             "is another process's now)" % (len(resumed), listed, path, len(skipped)),
             event="resume", file=path, resumed=resumed, skipped=skipped)
    return 0


def main(argv=None, launched=None):
    """parse -> check and choose -> compile and attach -> run -> detach."""
    launched = launched or time.monotonic()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return subcommand(argv, launched)
    child = probe = guardian = metrics = sup = jb = None
    try:
        opts = cli.parse(argv)
        rep = Reporter(as_json=opts.json)
        if opts.resume_stopped is not None:
            return resume_stopped(opts.resume_stopped, rep)
        t = time.monotonic()
        feats, backend, action, why = _choose(opts, rep)
        timings = {"features": time.monotonic() - t}
        if opts.probe_features:
            print_features(feats, rep, opts.policy)
            return 0
        t = time.monotonic()
        bcc = environment.import_bcc()
        from .guardian import Guardian
        from .launcher import GatedChild
        from .probe import cflags, source_text
        from .session import Session
        timings["import"] = time.monotonic() - t
        environment.require_headers()
        offsets = feats.defines(backend, opts.policy, action)
        uring_tp = feats.uring.detail if feats.uring else None
        flags = cflags(backend, action, os.getpid(), opts.pid or opts.command,
                       opts.comm, opts.exclude_comm, opts.map_size, offsets,
                       opts.policy, uring_tp)
        if opts.ebpf:
            print("// cflags: " + " ".join(flags) + " -DWD_GUARD_TGID=...")
            print(source_text())
            return 0
        stopfile = None
        if opts.state_file:
            from .stopfile import StopFile
            stopfile = StopFile(opts.state_file)
        if opts.metrics_file or opts.metrics_listen:
            from .metrics import Metrics
            metrics = Metrics(opts, {
                "version": cli.VERSION, "frontend": "watchdog.py", "backend": backend,
                "action": action, "profile": opts.policy.profile, "key": opts.policy.key,
                "count": opts.policy.count})
        if action == "throttle":
            guardian = Guardian()
            flags.append("-DWD_GUARD_TGID=%d" % guardian.pid)
        if opts.command:
            if opts.jitter and opts.jitter_run == "launcher":
                sup = jitter.Supervisor(opts.jitter, opts.jitter_mode)
            child = GatedChild(opts.command, opts.user, jitter=sup)
            if sup:
                sup.start(child.pid)
        # The child runs CMD as -u USER, or as root.
        uids = {child.pid: opts.user.uid if opts.user else 0} if child else {}
        probe = _build_and_attach(bcc, flags, opts, backend, action, uring_tp,
                                  opts.pid + ([child.pid] if child else []), uids)
        if opts.jitter and opts.jitter_run != "launcher":
            jb = _start_bpf_jitter(bcc, opts, feats, child)
        session = Session(probe, rep, opts, action, child, guardian, stopfile)
        session.reloader = functools.partial(reload.apply, argv=argv, feats=feats,
                                             backend=backend)
        if metrics:
            session.set_metrics(metrics)
            metrics.start(probe, len(probe.attached),
                          lambda: (len(session.limited), len(session.stopped)))
        timings.update(compile=probe.compile_s, load_attach=probe.attach_s,
                       total=time.monotonic() - launched)
        _report_start(rep, opts, feats, backend, action, why, probe, child, timings,
                      metrics, sup, jb)
        if child:
            child.release()
        reason = session.run()
        session.finish()
        probe = None
        if jb:
            text, counts = jb.stop_line()
            rep.info(text, event="jitter", **counts)
            jb.close()  # detached before the stop line says so
            jb = None
        if child is not None and child.poll() is None:
            # --duration or a signal ended the watchdog first: the command
            # goes on, unlimited (as -p targets do), and is said to.
            rep.info("stopped: %s; all programs detached; the command (pid %d) is "
                     "still running, no longer limited" % (reason, child.pid),
                     event="stop", reason=reason, command_running=child.pid)
            return 0
        rep.info("stopped: %s; all programs detached" % reason,
                 event="stop", reason=reason)
        return child.status if child else 0
    except SetupError as e:
        sys.stderr.write("watchdog: error: %s\n" % one_line(str(e)))
        return e.exit_status
    except KeyboardInterrupt:
        sys.stderr.write("watchdog: interrupted during start-up; nothing left "
                         "attached\n")
        return 130
    finally:
        if jb is not None:
            jb.close()
        if metrics is not None:
            metrics.close()
        if probe is not None:
            probe.close()
        if child is not None:
            child.abort()
        if guardian is not None:
            guardian.close()
        if sup is not None:
            # "=": it serves the tree until the tree exits; if the command
            # has, the supervisor ends too: reap it.
            sup.close()
            if child is not None and child.status is not None:
                sup.wait(2)
