"""Print test.sh's closing table: one row per suite (kernel, backends, counts, result).

Inputs: pytest JUnit XML files (unit and host suites) and the console logs
of the VM runs, whose tests/vm/conftest.py prints one `WDRESULT kernel=...
backend=... outcome=... test=...` line per test.

    summarize.py --junit 'unit|-|-|unit.xml' --junit 'host|6.18|tracepoint|host.xml' \
                 --vm 'debian|6.1.0-56-amd64|debian.log|0' ...
                 --status 'container|6.18|tracepoint|0'

--status is a suite judged by its exit status alone (one row, counted as
one test: PASS or FAIL).

Each suite gets exactly one row, whose RESULT is PASS, FAIL or DID NOT RUN
(no results at all: no JUnit file, or no WDRESULT line in the VM log).  A VM
suite whose tests all passed but whose runner exited non-zero is a FAIL that
names the exit status.  Exit status 0 only if every suite passed.
"""

import argparse
import collections
import re
import sys
import xml.etree.ElementTree as ET

Row = collections.namedtuple("Row", "suite kernel backend counts result")
HEADER = "%-12s %-24s %-16s %6s %6s %6s  %s"
LINE = "%-12s %-24s %-16s %6d %6d %6d  %s"


def junit_counts(path):
    """Counter(passed=, failed=, skipped=) from a JUnit XML file, or None."""
    counts = collections.Counter()
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    for case in root.iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            counts["failed"] += 1
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def vm_counts(path):
    """(backends seen, Counter) from the WDRESULT lines of a VM console log;
    (set(), None) if it has none or cannot be read."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return set(), None
    backends, counts = set(), collections.Counter()
    for m in re.finditer(r"WDRESULT kernel=\S+ backend=(\S+) outcome=(\S+)", text):
        # "kprobe-read" -> kprobe; "-" (not per backend: auto, refusals) -> (any)
        backends.add(m.group(1).split("-")[0] if m.group(1) != "-" else "(any)")
        outcome = m.group(2)
        counts[outcome if outcome in ("passed", "skipped") else "failed"] += 1
    return backends, (counts if backends else None)


FRONTENDS = ("watchdog.py", "ethoswd")


def frontend_counts(junit_paths, vm_paths):
    """{front end: Counter(passed=, failed=)} over the tests run against a
    front end: JUnit test names carry it as a parameter ("[ethoswd-read]"),
    VM console lines as frontend=NAME."""
    out = {f: collections.Counter() for f in FRONTENDS}
    for path in junit_paths:
        try:
            cases = ET.parse(path).getroot().iter("testcase")
        except (OSError, ET.ParseError):
            continue
        for case in cases:
            params = case.get("name", "").partition("[")[2].rstrip("]").split("-")
            for f in FRONTENDS:
                if f in params:
                    bad = {c.tag for c in case} & {"failure", "error", "skipped"}
                    out[f]["failed" if bad else "passed"] += 1
    for path in vm_paths:
        try:
            with open(path, errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        for m in re.finditer(r"WDRESULT .*outcome=(\S+) frontend=(\S+)", text):
            if m.group(2) in out:
                out[m.group(2)]["passed" if m.group(1) == "passed" else "failed"] += 1
    return out


def result(counts, status="0"):
    """PASS, FAIL, FAIL (exit N) or DID NOT RUN."""
    if counts is None:
        return "DID NOT RUN" + ("" if status in ("0", "") else " (exit %s)" % status)
    if counts["failed"] or counts["skipped"] or not counts["passed"]:
        return "FAIL"
    if status not in ("0", ""):
        return "FAIL (exit %s)" % status
    return "PASS"


def junit_row(spec):
    """The row of a --junit SUITE|KERNEL|BACKEND|FILE."""
    suite, kernel, backend, path = spec.split("|")
    counts = junit_counts(path)
    return Row(suite, kernel, backend, counts, result(counts))


def vm_row(spec):
    """The row of a --vm KERNEL|RELEASE|LOGFILE|EXIT_STATUS."""
    name, release, path, status = spec.split("|")
    backends, counts = vm_counts(path)
    return Row("vm " + name, release, ",".join(sorted(backends)) or "-", counts,
               result(counts, status))


def status_row(spec):
    """The row of a --status SUITE|KERNEL|BACKEND|EXIT_STATUS."""
    suite, kernel, backend, status = spec.split("|")
    counts = collections.Counter(passed=int(status == "0"), failed=int(status != "0"))
    return Row(suite, kernel, backend, counts, result(counts))


def table(rows):
    """The table's lines and whether every suite passed."""
    lines = ["", HEADER % ("SUITE", "KERNEL", "BACKEND", "PASS", "FAIL", "SKIP", "RESULT")]
    total = collections.Counter()
    for r in rows:
        if r.counts is None:
            lines.append(HEADER % (r.suite, r.kernel[:24], r.backend[:16], "-", "-", "-",
                                   r.result))
            continue
        total.update(r.counts)
        lines.append(LINE % (r.suite, r.kernel[:24], r.backend[:16], r.counts["passed"],
                             r.counts["failed"], r.counts["skipped"], r.result))
    passed = sum(r.result == "PASS" for r in rows)
    lines += ["", "total: %d passed, %d failed, %d skipped; %d of %d suites passed" % (
        total["passed"], total["failed"], total["skipped"], passed, len(rows))]
    return lines, passed == len(rows)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--junit", action="append", default=[],
                   help="SUITE|KERNEL|BACKEND|FILE")
    p.add_argument("--vm", action="append", default=[],
                   help="KERNEL|RELEASE|LOGFILE|EXIT_STATUS")
    p.add_argument("--status", action="append", default=[],
                   help="SUITE|KERNEL|BACKEND|EXIT_STATUS")
    a = p.parse_args(argv)
    lines, ok = table([junit_row(s) for s in a.junit] + [status_row(s) for s in a.status]
                      + [vm_row(s) for s in a.vm])
    per = frontend_counts([s.split("|")[3] for s in a.junit],
                          [s.split("|")[2] for s in a.vm])
    lines.insert(-1, "front ends: " + "; ".join(
        "%s %d passed, %d failed" % (f, c["passed"], c["failed"]) for f, c in per.items()))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
