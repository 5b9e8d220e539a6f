"""Print test.sh's closing table: kernel x backend x result.

Inputs: pytest JUnit XML files (unit and host suites) and the console logs
of the VM runs, whose tests/vm/conftest.py prints one `WDRESULT kernel=...
backend=... outcome=... test=...` line per test.

    summarize.py --junit 'unit|-|-|unit.xml' --junit 'host|6.18|tracepoint|host.xml' \
                 --vm 'debian|6.1.0-56-amd64|debian.log|0' ...
                 --status 'container|6.18|tracepoint|0'

--status is a suite judged by its exit status alone (one row, PASS or FAIL).
"""

import argparse
import collections
import re
import sys
import xml.etree.ElementTree as ET


def junit_counts(path):
    """{'passed': n, 'failed': n, 'skipped': n} from a JUnit XML file."""
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
    """{backend: Counter} from the WDRESULT lines of a VM console log."""
    out = collections.defaultdict(collections.Counter)
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return out
    for m in re.finditer(r"WDRESULT kernel=\S+ backend=(\S+) outcome=(\S+)", text):
        # "kprobe-read" -> kprobe; "-" (not per backend: auto, refusals) -> (any)
        backend = m.group(1).split("-")[0] if m.group(1) != "-" else "(any)"
        out[backend]["passed" if m.group(2) == "passed" else
                     "skipped" if m.group(2) == "skipped" else "failed"] += 1
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--junit", action="append", default=[],
                   help="SUITE|KERNEL|BACKEND|FILE")
    p.add_argument("--vm", action="append", default=[],
                   help="KERNEL|RELEASE|LOGFILE|EXIT_STATUS")
    p.add_argument("--status", action="append", default=[],
                   help="SUITE|KERNEL|BACKEND|EXIT_STATUS")
    a = p.parse_args()
    rows = []
    for spec in a.junit:
        suite, kernel, backend, path = spec.split("|")
        c = junit_counts(path)
        rows.append((suite, kernel, backend, c))
    for spec in a.vm:
        name, release, path, status = spec.split("|")
        per_backend = vm_counts(path)
        if not per_backend:
            rows.append(("vm " + name, release, "-", None))
        for backend, c in sorted(per_backend.items()):
            rows.append(("vm " + name, release, backend, c))
        if status not in ("0", "") and all(not c["failed"] for c in per_backend.values()):
            rows.append(("vm " + name, release, "-", collections.Counter(failed=1)))
    for spec in a.status:
        suite, kernel, backend, status = spec.split("|")
        rows.append((suite, kernel, backend, collections.Counter(
            passed=int(status == "0"), failed=int(status != "0"))))
    total = collections.Counter()
    print("\n%-12s %-24s %-11s %6s %6s %6s  %s" % (
        "SUITE", "KERNEL", "BACKEND", "PASS", "FAIL", "SKIP", "RESULT"))
    for suite, kernel, backend, c in rows:
        if c is None:
            print("%-12s %-24s %-11s %6s %6s %6s  %s" % (suite, kernel, backend,
                                                        "-", "-", "-", "DID NOT RUN"))
            total["failed"] += 1
            continue
        total.update(c)
        result = "PASS" if c["passed"] and not c["failed"] and not c["skipped"] else "FAIL"
        print("%-12s %-24s %-11s %6d %6d %6d  %s" % (suite, kernel[:24], backend,
                                                     c["passed"], c["failed"],
                                                     c["skipped"], result))
    print("\ntotal: %d passed, %d failed" % (total["passed"],
                                              total["failed"] + total["skipped"]))
    return 0 if not total["failed"] and not total["skipped"] else 1


if __name__ == "__main__":
    sys.exit(main())
