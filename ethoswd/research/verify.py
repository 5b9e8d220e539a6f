"""`watchdog.py sweep CORPUS --verify`: each program of the corpus runs
twice, unrestricted and under the live watchdog (deny where the kernel
can, else throttle; only that command's tree is a target), and the report
compares exit status, wall time and stdout.

Each run has its own process group, killed as a whole on timeout and once
the run ended (ethoswd/research/corpus.py run_group), and may write at most
corpus.OUTPUT_CAP bytes of stdout: a capped output is said so.
"""

import json
import os
import sys
import time
from collections import Counter

from .. import REPO_ROOT
from . import corpus
from ..errors import SetupError
from ..safetext import escape


def compare_output(base, enforced):
    """'identical', 'N lines lost', or 'changed (-N +M lines)'."""
    if base == enforced:
        return "identical"
    b, e = Counter(base.splitlines()), Counter(enforced.splitlines())
    lost, added = sum((b - e).values()), sum((e - b).values())
    if not added:
        return "%d lines lost" % lost
    return "changed (-%d +%d lines)" % (lost, added)


def _action():
    from .. import features
    feats = features.Features()
    try:
        return features.choose(feats, "auto", "deny")[1]
    except SetupError:
        return "throttle"


def _read(path):
    with open(path, errors="replace") as f:
        return f.read()


def _one(prog, a, policy_flags, action, tmp, step):
    """Both runs of one program: its report row.  With a corpus `user`,
    both run as that user (the enforced one through -u USER), writing in
    a scratch directory it owns."""
    user = prog.runas
    scratch = corpus.scratch(tmp, user)
    base_out, enf_out = os.path.join(scratch, "base.out"), os.path.join(scratch, "enf.out")
    step("unrestricted")
    t = time.monotonic()
    base_rc = corpus.run_group(corpus.wrap(prog.cmd, base_out), prog.timeout,
                               cwd=REPO_ROOT, env=corpus.run_env(scratch),
                               **corpus.as_user(user))
    base_s = time.monotonic() - t
    step("enforced (%s)" % action)
    argv = ([sys.executable, os.path.join(REPO_ROOT, "watchdog.py"), "--json",
             "--action", action, "--max-calls", str(a.max_calls),
             "--window-ms", str(a.window_ms)] + policy_flags +
            (["-u", prog.user] if user else []) +
            ["--"] + corpus.wrap(prog.cmd, enf_out))
    wd_out, wd_err = os.path.join(tmp, "wd.out"), os.path.join(tmp, "wd.err")
    enf_rc = corpus.run_group(argv, prog.timeout + 60, wd_out, wd_err,
                              cwd=REPO_ROOT, env=corpus.run_env(scratch))
    recs = []
    for line in _read(wd_out).splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
    summ = [x for x in recs if isinstance(x, dict) and x.get("event") == "summary"]
    if enf_rc == 2 and not summ:
        raise SetupError("the watchdog refused to run: %s" % (
            _read(wd_err).strip().splitlines() or ["?"])[-1])
    s = summ[0] if summ else {}
    stdout = compare_output(_read(base_out), _read(enf_out))
    capped = [w for w, p in (("unrestricted", base_out), ("enforced", enf_out))
              if corpus.capped(p)]
    if capped:
        stdout += " (%s stdout capped at %d MiB)" % (" and ".join(capped),
                                                     corpus.OUTPUT_CAP >> 20)
    return {"program": prog.name, "class": prog.cls, "action": action,
            "status": base_rc, "status_enforced": enf_rc,
            "seconds": round(base_s, 3), "seconds_enforced": s.get("seconds"),
            "limited_calls": s.get("limited"),
            "limited_windows": s.get("limited_windows"),
            "stdout": stdout, "output_capped": capped}


def verify(progs, a, policy_flags, rep, tmp):
    """Run each program unrestricted and enforced; one report row each."""
    action = _action()
    results = []
    progress = corpus.Progress(rep, len(progs))
    for prog in progs:
        if prog.missing:
            progress.step(prog.name, 1, 1, "done", skipped=prog.missing)
            continue
        row = _one(prog, a, policy_flags, action, tmp,
                   lambda phase: progress.step(prog.name, 1, 1, phase))
        results.append(row)
        progress.step(prog.name, 1, 1, "done")
        rep.emit(dict(event="verify", **row), None)
    if not rep.as_json:
        lines = ["%-22s %-11s %9s %13s %9s %9s %s" % (
            "PROGRAM", "CLASS", "STATUS", "SECONDS", "LIMITED", "WINDOWS", "STDOUT")]
        for r in results:
            lines.append("%-22s %-11s %9s %13s %9s %9s %s" % (
                escape(r["program"])[:22], r["class"],
                "%s/%s" % (r["status"], r["status_enforced"]),
                "%.2f/%s" % (r["seconds"], "-" if r["seconds_enforced"] is None
                             else "%.2f" % r["seconds_enforced"]),
                r["limited_calls"], r["limited_windows"], r["stdout"]))
        rep.emit({}, ["verify: --max-calls %d --window-ms %d %s, action %s "
                      "(unrestricted/enforced)" % (a.max_calls, a.window_ms,
                                                   escape(" ".join(policy_flags)),
                                                   action)] + lines)
    return results
