"""Markdown tables of one jitter-suite result (run.py), and of the noise
between several results taken the same way."""

import statistics

W_ORDER = (10, 30, 50)


def fmt(v, unit="ns"):
    """A duration in ns, scaled to ns / us / ms / s; '-' when missing."""
    if v is None:
        return "-"
    a = abs(v)
    for div, name in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
        if a >= div:
            return "%.3g %s" % (v / div, name)
    return "%.3g %s" % (v, unit)


def lines(res, prog, build, attack, clock=None, key="runs"):
    """Every JSON line of that program, build and attack (all its runs)."""
    out = []
    for r in res.get(key, []):
        if r["prog"] == prog and r["build"] == build:
            out += [x for x in r["lines"] if x.get("attack") == attack and
                    (clock is None or x.get("clock") == clock)]
    return out


def clocks_of(res):
    names = []
    for r in res["runs"]:
        for x in r["lines"]:
            c = x.get("clock")
            if c and c not in names:
                names.append(c)
    return names


def status(x):
    if x is None:
        return "no output"
    if x.get("status") == "ok":
        return "ok"
    return "%s %s" % (x.get("status"), x.get("error", ""))


def one(res, prog, build, attack, clock, key="runs"):
    xs = lines(res, prog, build, attack, clock, key)
    return xs[0] if xs else None


def _ok(x, field):
    return x.get(field) if x and x.get("status") == "ok" else None


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def programs_table(res):
    rows = [(r["build"], r["prog"], r["run"], r["exit"], r["wall_s"], len(r["lines"]),
             r["malformed"]) for r in res["runs"] + res.get("reference", [])]
    return table(["build", "program", "run", "exit", "wall s", "lines", "malformed"], rows)


def survey_table(res):
    rows = []
    for c in clocks_of(res):
        d, s = (one(res, "clocks", b, "survey", c) for b in ("dynamic", "static"))
        route = (d or s or {}).get("route", "")
        rows.append((c, route, status(d), status(s), fmt(_ok(d, "read_ns")),
                     fmt(_ok(s, "read_ns")), fmt(_ok(d, "tick_ns")),
                     fmt(_ok(d, "multiple_of_ns")), _ok(d, "backwards")))
    return table(["clock", "route", "dynamic", "static", "read (dyn)", "read (static)",
                  "smallest step", "readings multiple of", "backwards"], rows)


def _order_flags(res, build, clock):
    flags = []
    for x in lines(res, "avg", build, "order", clock):
        if x.get("status") == "ok":
            flags.append("%d:%s" % (x["n"], "y" if x["any"] else "n"))
    return " ".join(flags) or "-"


def _est(res, build, clock, n, field):
    out = {}
    for x in lines(res, "avg", build, "avg", clock):
        if x.get("status") == "ok" and x["n"] == n:
            out[int(x["w_us"])] = x
    return " / ".join(fmt(out[w][field]) if w in out else "-" for w in W_ORDER)


def _res_cell(x):
    if not x or x.get("status") != "ok":
        return status(x)
    return fmt(x["resolution_ns"]) if x["resolved"] else "> %s" % fmt(x["d_max_ns"])


def averaging_table(res, build="dynamic"):
    rows = []
    for c in clocks_of(res):
        rd = one(res, "avg", "dynamic", "resolution", c)
        rs = one(res, "avg", "static", "resolution", c)
        n3k = [x for x in lines(res, "avg", build, "order", c) if x.get("status") == "ok"]
        last = n3k[-1] if n3k else None
        best = ",".join(k for k in ("mean", "cmean", "tmean", "median", "min")
                        if last and last.get(k))
        nmax = last["n"] if last else 0
        rows.append((c, _res_cell(rd), _res_cell(rs),
                     "yes" if _ok(rd, "control_false_alarm") else "no" if rd else "-",
                     _order_flags(res, build, c), best or "none",
                     _est(res, build, c, nmax, "net_cmean_ns"),
                     _est(res, build, c, nmax, "net_tmean_ns")))
    return table(["clock", "resolution (dyn)", "resolution (static)", "control false alarm",
                  "ordered 10<30<50 by N", "estimators ordering at N max",
                  "net censored mean W=10/30/50", "net trimmed mean W=10/30/50"], rows)


def edge_table(res, build="dynamic"):
    rows = []
    for c in clocks_of(res):
        e = one(res, "edge", build, "edge", c)
        if not e or e.get("status") != "ok" or not e.get("applicable"):
            continue
        ws = {int(x["w_us"]): x for x in lines(res, "edge", build, "edge_w", c)}
        o = one(res, "edge", build, "edge_order", c)
        rows.append((c, e["intervals"], fmt(e["step_median_ns"]),
                     "%.0f (cv %.2f)" % (e["reads_median"], e["reads_cv"] or 0),
                     " / ".join(fmt(ws[w]["est_median_ns"]) if w in ws else "-"
                                for w in W_ORDER),
                     "yes" if o and o.get("median") else "no"))
    return table(["clock", "intervals", "step (median)", "reads an interval",
                  "est. W=10/30/50 (median)", "ordered (median)"], rows)


def _range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-", "-"
    med = statistics.median(vals)
    spread = "%.1f %%" % (100 * (max(vals) - min(vals)) / med) if med else "-"
    return "%s [%s, %s]" % (fmt(med), fmt(min(vals)), fmt(max(vals))), spread


def speed_table(res, build="dynamic"):
    rows = []
    for c in clocks_of(res):
        xs = lines(res, "speed", build, "speed", c)
        ok = [x for x in xs if x.get("status") == "ok"]
        if not ok:
            rows.append((c, len(xs), status(xs[0] if xs else None), "", "", "", "", ""))
            continue
        loop, lsp = _range([x["loop_min_ns"] for x in ok])
        lmed = fmt(statistics.median(x["loop_median_ns"] for x in ok))
        cpu, csp = _range([x["cpuid_min_ns"] for x in ok])
        guesses = ",".join(sorted({x["vm_guess"] for x in ok}))
        rows.append((c, len(ok), loop, lsp, lmed, cpu, csp, guesses))
    return table(["clock", "runs", "loop min: median [min, max]", "spread",
                  "loop median (median of runs)", "cpuid min: median [min, max]", "spread",
                  "VM guess"], rows)


def cost_table(res):
    rows = []
    for c in clocks_of(res):
        for b in ("dynamic", "static"):
            ref = _ok(one(res, "clocks", b, "survey", c, key="reference"), "read_ns")
            wrapped = one(res, "clocks", b, "survey", c)
            got = _ok(wrapped, "read_ns")
            added = got - ref if got is not None and ref is not None else None
            rows.append((c, b, fmt(ref), fmt(got) if got is not None else status(wrapped),
                         fmt(added)))
    return table(["clock", "build", "unmediated read", "wrapped read", "added"], rows)


def everyday_table(ev):
    rows = []
    for r in ev["rows"]:
        if "skipped" in r:
            rows.append((r["name"], r["skipped"], "", "", ""))
            continue
        rows.append((r["name"], "%.3f" % r["bare_s"]["median"], "%.3f" % r["wrapped_s"]["median"],
                     _ratio(r["ratio"]), _ratio(r["cpu_ratio"]), r["exit_codes"]))
    return table(["program", "bare wall s (median)", "wrapped wall s (median)",
                  "wall ratio wrapped/bare: median [min, max]", "CPU-time ratio",
                  "exit codes"], rows)


def _ratio(r):
    return "%.3f [%.3f, %.3f]" % (r["median"], r["min"], r["max"])


def markdown(res):
    out = ["# Jitter attacker suite: %s\n" % res["label"],
           "Wrapper: `%s`; kernel %s; work unit %.1f iterations/us; %s to %s.\n" %
           (res["wrap"] or "none", res["host"], res["ipu"], res["started"],
            res.get("finished", "?")),
           "Load average (1, 5, 15 min) at start %s, at end %s (2 CPUs, shared).\n" %
           (" ".join(res.get("loadavg_start", [])), " ".join(res.get("loadavg_end", []))),
           "Field and metric definitions: research/jitter/README.md.\n",
           "## Programs\n", programs_table(res),
           "## Clock survey (jitter_clocks)\n", survey_table(res),
           "## Averaging attack and effective resolution (jitter_avg, dynamic)\n",
           "Resolution: smallest W difference told apart at 95 %% in one %s ms burst "
           "(ladder 1 ns to 100 us). Estimates are net of the W=0 overhead.\n" %
           _budget(res), averaging_table(res),
           "## Edge attack (jitter_edge, dynamic; clocks with at least 8 reads a step)\n",
           edge_table(res),
           "## CPU-speed probe (jitter_speed, dynamic, %d runs)\n" % _speed_runs(res),
           speed_table(res)]
    if res.get("reference"):
        out += ["## Added cost per clock read (same invocation)\n", cost_table(res)]
    if res.get("everyday"):
        out += ["## Everyday programs (%d pairs; wrapper `%s`)\n" %
                (res["everyday"]["reps"], res["everyday"]["wrap"] or "none: A/A noise"),
                everyday_table(res["everyday"])]
    return "\n".join(out)


def _budget(res):
    for r in res["runs"]:
        for x in r["lines"]:
            if x.get("attack") == "setup":
                return x.get("budget_ms")
    return "?"


def _speed_runs(res):
    return sum(1 for r in res["runs"] if r["prog"] == "speed" and r["build"] == "dynamic")


def noise(results, build="dynamic"):
    """Per clock, how the headline numbers moved between result files."""
    rows = []
    for c in clocks_of(results[0]):
        reads = [_ok(one(r, "clocks", build, "survey", c), "read_ns") for r in results]
        res = [_ok(one(r, "avg", build, "resolution", c), "resolution_ns") for r in results]
        orders = []
        ests = []
        for r in results:
            o = [x for x in lines(r, "avg", build, "order", c) if x.get("status") == "ok"]
            orders.append("y" if o and o[-1]["any"] else "n" if o else "-")
            n = o[-1]["n"] if o else 0
            ests.append(_est(r, build, c, n, "net_cmean_ns"))
        loops = [statistics.median(v) if v else None for v in
                 ([x["loop_min_ns"] for x in lines(r, "speed", build, "speed", c)
                   if x.get("status") == "ok"] for r in results)]
        rows.append((c, " / ".join(fmt(v) for v in reads), " / ".join(fmt(v) for v in res),
                     " ".join(orders), " ; ".join(ests), " / ".join(fmt(v) for v in loops)))
    head = ["clock", "read cost per run", "resolution per run", "ordered at N max",
            "net censored mean W=10/30/50 per run", "speed loop min per run"]
    return ("# Noise between %d runs (%s build)\n\n" % (len(results), build) +
            "Runs: " + ", ".join("%s (%s)" % (r["label"], r["started"]) for r in results) +
            "\n\n" + table(head, rows))
