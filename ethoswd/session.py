"""The running watchdog: events, throttle timers, tables, clean shutdown.

Session.run() polls the ring buffer for LIMIT, STOPPED, ESCALATE and EXIT
events, resumes throttled processes when their window ends, prints a table every
interval, and stops on SIGINT/SIGTERM, the end of --duration, the exit
of the launched command, or the exit of every -p process (run_loop(),
which `record` runs too).  finish() resumes anything still stopped and
detaches the probe.

A row is one budget: a process with the process key; a tree, user or
cgroup with a shared key, whose row lists the processes charged to it.
Shared budgets are known by budgets.ident() (key, id, uid): a row's key
is the one its budget really has, "process" where the caller fell back to
a budget of its own (the root cgroup, UID 0).
Rows of exited processes are kept in ethoswd/exited.py (by the same
idents): the newest WD_EXITED_ROWS, older ones folded into the summary's
not_listed counts, so that memory and the cost of a table stay bounded
however long it runs.
"""

import os
import signal
import time

from . import cgnames
from .abi import DEFS
from .budgets import Names, group_shares, ident as budget_ident, share_row
from .exited import KEEP, Exited
from .safetext import name_fields

NS_PER_MS = 1000000
HEALTH_NAMES = {DEFS["WD_H_MAP_FULL"]: "map_full",
                DEFS["WD_H_CONTENDED"]: "contended",
                DEFS["WD_H_EVENTS_LOST"]: "events_lost",
                DEFS["WD_H_TARGETS_FULL"]: "targets_full",
                DEFS["WD_H_STOPS_FULL"]: "stops_full"}
HEALTH_HELP = {
    "map_full": "calls from processes the full PID map could not track "
                "were NOT limited; raise --map-size",
    "contended": "calls lost every race to open a window and were counted "
                 "as over the limit (failed with deny, never signalled)",
    "events_lost": "ring-buffer events were lost; limit/exit lines may be "
                   "missing",
    "targets_full": "children of target processes could not be recorded as "
                    "targets and are NOT limited",
    "stops_full": "stopped processes could not be recorded as stopped: a SIGCONT "
                  "from another process is NOT escalated for them; raise --map-size",
}


class Session:
    """State the front end keeps while the probe runs."""

    def __init__(self, probe, reporter, opts, action, child=None, guardian=None,
                 stopfile=None):
        self.probe, self.rep, self.opts, self.action = probe, reporter, opts, action
        self.child, self.guardian = child, guardian
        self.stopfile = stopfile   # --state-file (stopfile.StopFile) or None
        self.key = opts.policy.key
        self.shared = self.key != "process"
        self.cgroups = cgnames.CgroupNames()
        self.names = Names(self.key, self.cgroups)
        self.metrics = None  # ethoswd.metrics.Metrics: set_metrics()
        self.window_ns = opts.policy.window_ms * NS_PER_MS
        self.limited = {}    # budget id -> end of its last limited window (ns)
        self.stopped = {}    # tgid -> when to SIGCONT it (ns), throttle only
        self.exited = Exited(self.shared)  # rows of ended budgets, exited processes
        self.last_total = {}
        self.health = {name: 0 for name in HEALTH_NAMES.values()}
        self.stop_reason = None
        self.started = time.monotonic()
        # SIGHUP re-reads --config (reload.apply, set by main); without
        # one it stops the watchdog like SIGTERM (a closed terminal).
        self.reloader, self.reload_due = None, False
        # From here on SIGINT/SIGTERM end the loop and detach cleanly.
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_hup if opts.config else self._on_signal)

    def set_metrics(self, metrics):
        """Serve and write metrics (ethoswd/metrics.py) from this session."""
        self.metrics = metrics
        metrics.names = self.cgroups
        metrics.rep = self.rep

    # -- rows ---------------------------------------------------------
    def _where(self, pid, ident=None):
        """The cgroup members of a row: a cgroup budget's cgroup (ident
        ("cgroup", id, uid)), else process pid's own (a process-key row, or
        a share of a tree, uid or fallback budget)."""
        if isinstance(ident, tuple) and ident[0] == "cgroup":
            return cgnames.fields(self.cgroups.by_id(ident[1]))
        return cgnames.fields(self.cgroups.of_pid(pid))

    def _state(self, ident, pids=()):
        if ident in self.stopped or any(p in self.stopped for p in pids):
            return "STOPPED"
        return "LIMITED" if ident in self.limited else "ok"

    def _row(self, ident, raw_comm, window, allowed, limited, limited_windows,
             state=None, shares=None):
        now_ms = time.monotonic_ns() // NS_PER_MS
        in_window = (window & 0xFFFFFFFF
                     if (now_ms - (window >> 32)) & 0xFFFFFFFF < self.opts.policy.window_ms
                     else 0)
        total = allowed + limited
        row = {"window": in_window, "total": total,
               "allowed": allowed, "limited": limited,
               "limited_windows": limited_windows,
               "activity": total - self.last_total.get(ident, 0)}
        row.update(name_fields(raw_comm))    # comm, and comm_hex if unclean
        if not self.shared:
            row.update(self._where(ident))
            row.update(pid=ident, state=state or self._state(ident))
            return row
        shares = shares or []
        pids = [s["pid"] for s in shares]
        key, bid, uid = ident
        if key == "cgroup":
            row.update(self._where(None, ident))
        row.update(key=key, id=bid, uid=uid, user=self.names.user(uid),
                   name=self.names.name(key, bid), pids=pids, processes=shares,
                   state=state or self._state(ident, pids))
        return row

    def _live_shares(self):
        return [share_row(tgid, v, "STOPPED" if tgid in self.stopped else "ok",
                          self._where(tgid, budget_ident(v.key_kind, v.key, v.key_uid)))
                for tgid, v in self.probe.shares().items()]

    def _shares(self, live=None):
        """Every process share: the live ones, then the kept shares of
        exited processes whose PID is not live again."""
        live = self._live_shares() if live is None else live
        return live + self.exited.shares_besides({r["pid"] for r in live})

    def live_rows(self):
        """Rows of the budgets in the map now."""
        grouped = group_shares(self._shares()) if self.shared else {}
        return [self._row(ident, v.comm, v.window, v.allowed,
                          v.limited, v.limited_windows,
                          shares=grouped.get(ident))
                for ident, v in self.probe.entries().items()]

    def process_rows(self):
        """Per-process rows: the budgets themselves with the process key,
        each process's share with a shared key (exited ones included)."""
        return self._shares() if self.shared else None

    # -- events -------------------------------------------------------
    def _window_end_ns(self, start_ms32):
        now_ms = time.monotonic_ns() // NS_PER_MS
        start_ms = now_ms - ((now_ms - start_ms32) & 0xFFFFFFFF)
        return (start_ms + self.opts.policy.window_ms) * NS_PER_MS

    def on_event(self, _ctx, data, _size):
        e = self.probe.event(data)
        tgid = e.tgid
        ident = budget_ident(e.key_kind, e.key, e.key_uid) if self.shared else e.key
        window = (e.window_start_ms << 32) | e.calls
        if e.kind in (DEFS["WD_EV_LIMIT"], DEFS["WD_EV_STOPPED"]):
            end = self._window_end_ns(e.window_start_ms)
            first = ident not in self.limited
            self.limited[ident] = end
            if self.action == "throttle":
                if tgid not in self.stopped and self.guardian:
                    self.guardian.stopped(tgid)
                if tgid not in self.stopped and self.stopfile:
                    self.stopfile.add(tgid)
                self.stopped[tgid] = end
            if first and e.kind == DEFS["WD_EV_LIMIT"]:
                shares = group_shares(self._shares()).get(ident) if self.shared else None
                row = self._row(ident, e.comm, window, e.allowed, e.limited,
                                e.limited_windows, shares=shares)
                # The probe's clock (ms mod 2^32): what a replay computes.
                row["window_start_ms"] = e.window_start_ms
                # The limit the probe holds now (a reload may change it).
                self.rep.limit(row, *self.probe.limits(), self.action)
        elif e.kind == DEFS["WD_EV_ESCALATE"]:
            # Killed by the probe: nothing left to resume.
            self._forget_stopped(tgid)
            # The row of its budget (the whole key), as for LIMIT.
            shares = group_shares(self._shares()).get(ident) if self.shared else None
            row = self._row(ident, e.comm, window, e.allowed, e.limited,
                            e.limited_windows, state="killed", shares=shares)
            self.rep.escalate(row, tgid, e.why == DEFS["WD_STOP_RESUMED"],
                              e.by_pid, e.by_code, e.by_comm)
        elif e.kind == DEFS["WD_EV_PROC_EXIT"]:
            self._forget_stopped(tgid)
            self.exited.exited(tgid, dict(
                pid=tgid, budget=ident[1], budget_key=ident[0], budget_uid=ident[2],
                allowed=e.allowed, limited=e.limited,
                total=e.allowed + e.limited, state="exited", **name_fields(e.comm),
                **self._where(tgid, ident)))
            self.cgroups.forget_pid(tgid)
        elif e.kind == DEFS["WD_EV_EXIT"]:
            was_limited = e.limited_windows > 0
            self.limited.pop(ident, None)
            self._forget_stopped(tgid)
            shares = group_shares(self._shares()).get(ident) if self.shared else None
            row = self._row(ident, e.comm, window, e.allowed, e.limited,
                            e.limited_windows, state="exited", shares=shares)
            self.exited.ended(ident, row)
            if self.metrics:
                self.metrics.retire(ident, e.allowed, e.limited, e.limited_windows)
            if not self.shared or ident[0] == "process":
                self.cgroups.forget_pid(tgid)
            if was_limited:
                self.rep.exited(row)

    def _forget_stopped(self, tgid):
        if self.stopped.pop(tgid, None) is not None:
            self._unlist(tgid)

    def _unlist(self, tgid):
        """A stopped process was resumed or is gone: off the guardian's
        list and the state file."""
        if self.guardian:
            self.guardian.resumed(tgid)
        if self.stopfile:
            self.stopfile.remove(tgid)

    def _flush_stopfile(self):
        problem = self.stopfile.flush() if self.stopfile else None
        if problem:
            self.rep.warn(problem)

    # -- timers -------------------------------------------------------
    def _resume_due(self, now_ns):
        for tgid, when in list(self.stopped.items()):
            if now_ns >= when:
                del self.stopped[tgid]
                try:
                    os.kill(tgid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                self._unlist(tgid)

    def _clear_due(self, now_ns):
        rows = None
        for tgid, end in list(self.limited.items()):
            # A whole window after the last limited one without a new LIMIT.
            if now_ns >= end + self.window_ns:
                del self.limited[tgid]
                if rows is None:    # one snapshot of the map for this pass
                    rows = {self._ident(r): r for r in self.live_rows()}
                if tgid in rows:
                    self.rep.clear(rows[tgid])

    def _check_health(self):
        for slot, count in self.probe.health().items():
            name = HEALTH_NAMES[slot]
            if count > self.health[name]:
                self.rep.warn("%s: %d more (%d in all): %s" % (
                    name, count - self.health[name], count, HEALTH_HELP[name]),
                    counter=name, count=count)
                self.health[name] = count

    def _next_wake(self, *deadlines):
        soonest = min([d for d in deadlines if d is not None] +
                      list(self.stopped.values()) or [0])
        return max(0, min(100, (soonest - time.monotonic_ns()) // NS_PER_MS))

    # -- main loop ----------------------------------------------------
    def _on_signal(self, signum, _frame):
        self.stop_reason = signal.Signals(signum).name

    def _on_hup(self, _signum, _frame):
        self.reload_due = True

    def window_changed(self):
        """A reload changed the policy's window: the timers follow it."""
        self.window_ns = self.opts.policy.window_ms * NS_PER_MS

    def run(self):
        """Run until a stop condition; returns the reason."""
        self.probe.open_events(self.on_event)
        self.stop_reason = run_loop(self.opts, self.child, self._wait, self._table,
                                    lambda: self.stop_reason, wake=self._due)
        return self.stop_reason

    def _wait(self, next_table, end):
        """Poll the ring until an event or the next deadline; SIGHUP's reload."""
        self.probe.poll(int(self._next_wake(next_table, end)))
        if self.metrics:
            self.metrics.beat()
        if self.reload_due and self.reloader:
            self.reload_due = False
            self.reloader(self)

    def _due(self, now):
        """What is due after each wake: resumes, the state file, CLEAR lines."""
        self._resume_due(now)
        self._flush_stopfile()
        self._clear_due(now)

    def _table(self, _now):
        """Every --interval: health, the table, the metrics file."""
        self._check_health()
        rows = self.live_rows()
        self.rep.table(rows, dict(self.health), self.process_rows())
        self.last_total = {self._ident(r): r["total"] for r in rows}
        self.names.trim(2 * KEEP + len(rows))
        if self.metrics:
            self.metrics.write_file()

    def _ident(self, row):
        return (row["key"], row["id"], row["uid"]) if self.shared else row["pid"]

    def finish(self):
        """Drain events, detach and close the probe, resume what was
        throttled, print the summary."""
        self.probe.poll(0)
        self._check_health()
        live = self._live_shares() if self.shared else []
        procs = self._shares(live) if self.shared else None
        rows, folded = self.exited.summary_rows(
            self.live_rows(), self._ident, group_shares(procs) if self.shared else {})
        # Kept shares of exited processes whose PID is live again.
        hidden = len({r["pid"] for r in live} & set(self.exited.shares))
        if self.metrics:
            self.metrics.close()    # the last file; the maps close next
        # Detach (and release the module) first: a process resumed while
        # attached could be stopped again by an event this loop would
        # never see.
        self.probe.close()
        if self.action == "throttle":
            pids = set(self.stopped)
            for r in rows:
                if r["limited_windows"]:
                    pids.update(r.get("pids") or [r.get("pid")])
            for tgid in pids:
                try:
                    os.kill(tgid, signal.SIGCONT)
                except (ProcessLookupError, TypeError):
                    pass
        self.stopped.clear()
        if self.stopfile:
            self.stopfile.clear()
            self._flush_stopfile()
        self.cgroups.close()
        self.rep.summary(rows, dict(self.health), time.monotonic() - self.started,
                         procs, self.exited.not_listed(folded, hidden))


def run_loop(opts, child, wait, tick, stopped, wake=None):
    """The stop loop of a run, shared by Session.run() and `record`
    (ethoswd/research/recorder.py).  wait(next_tick_ns, end_ns) blocks
    until an event or at most the next deadline; wake(now_ns), if given,
    runs after every wait; tick(now_ns) once per opts.interval.  The loop
    ends when stopped() names a reason (a signal), at the end of
    --duration, when the launched command exits, or when every -p process
    has; returns that reason."""
    interval_ns = int(opts.interval * 1e9)
    next_tick = time.monotonic_ns() + interval_ns
    end = (time.monotonic_ns() + int(opts.duration * 1e9)
           if opts.duration else None)
    while stopped() is None:
        wait(next_tick, end)
        now = time.monotonic_ns()
        if wake:
            wake(now)
        if now >= next_tick:
            tick(now)
            next_tick += interval_ns * max(1, (now - next_tick) // interval_ns + 1)
        if end is not None and now >= end:
            return "duration"
        if child is not None and child.poll() is not None:
            return "command exited (status %d)" % child.status
        if opts.pid and not any(os.path.isdir("/proc/%d" % p) for p in opts.pid):
            return "all target processes exited"
    return stopped()
