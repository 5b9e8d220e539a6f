"""test.sh's closing table (tests/summarize.py): one row per suite, whether
it did not run, failed or passed."""

import summarize

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">%s</testsuite></testsuites>
"""
CASES = {"pass": '<testcase name="a"/>',
         "fail": '<testcase name="b"><failure message="x"/></testcase>',
         "error": '<testcase name="c"><error message="x"/></testcase>',
         "skip": '<testcase name="d"><skipped message="x"/></testcase>'}


def junit(tmp_path, *kinds):
    path = tmp_path / "suite.xml"
    path.write_text(JUNIT % "".join(CASES[k] for k in kinds))
    return str(path)


def vm_log(tmp_path, *results):
    """A console log with one WDRESULT line per (backend, outcome)."""
    path = tmp_path / "vm.log"
    path.write_text("boot noise\n" + "".join(
        "\nWDRESULT kernel=debian backend=%s outcome=%s test=t%d\n" % (b, o, i)
        for i, (b, o) in enumerate(results)) + "1 passed in 9s\n")
    return str(path)


def run(capsys, *args):
    rc = summarize.main(list(args))
    lines = capsys.readouterr().out.splitlines()
    skip = ("SUITE", "total", "front ends")
    return rc, [line for line in lines if line and not line.startswith(skip)], lines[-1]


def test_junit_pass(tmp_path):
    row = summarize.junit_row("host|6.18|tracepoint|%s" % junit(tmp_path, "pass", "pass"))
    assert row.result == "PASS" and row.counts["passed"] == 2


def test_junit_failure_error_and_skip_all_fail(tmp_path):
    for kind in ("fail", "error", "skip"):
        row = summarize.junit_row("host|6.18|tracepoint|%s" % junit(tmp_path, "pass", kind))
        assert row.result == "FAIL", kind


def test_junit_missing_or_broken_did_not_run(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<testsuites>")
    for path in (tmp_path / "absent.xml", broken):
        row = summarize.junit_row("unit|-|-|%s" % path)
        assert (row.counts, row.result) == (None, "DID NOT RUN")


def test_vm_pass_is_one_row_with_its_backends(tmp_path):
    log = vm_log(tmp_path, ("-", "passed"), ("lsm", "passed"), ("lsm-read", "passed"))
    row = summarize.vm_row("debian|6.1.0-56-amd64|%s|0" % log)
    assert row == summarize.Row("vm debian", "6.1.0-56-amd64", "(any),lsm",
                                {"passed": 3}, "PASS")


def test_vm_failed_test_fails(tmp_path):
    log = vm_log(tmp_path, ("lsm", "passed"), ("lsm", "failed"))
    assert summarize.vm_row("debian|6.1|%s|1" % log).result == "FAIL"


def test_vm_nonzero_exit_without_failed_test_fails_with_the_status(tmp_path):
    log = vm_log(tmp_path, ("lsm", "passed"))
    assert summarize.vm_row("debian|6.1|%s|125" % log).result == "FAIL (exit 125)"


def test_vm_without_results_did_not_run(tmp_path):
    log = tmp_path / "vm.log"
    log.write_text("vm/run.py: ERROR: working directory /tmp/x is hidden in the guest\n")
    row = summarize.vm_row("debian|?|%s|125" % log)
    assert (row.counts, row.result) == (None, "DID NOT RUN (exit 125)")
    assert summarize.vm_row("override|?|%s|125" % (tmp_path / "absent.log")).counts is None


def test_one_row_per_suite_in_every_case(tmp_path, capsys):
    """Passed, failed, did not run (both VM suites failing at once, the case
    that used to print two rows each): one row each, exit status 1."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    empty = tmp_path / "empty.log"
    empty.write_text("vm/run.py: ERROR: qemu-system-x86_64 not found\n")
    rc, rows, total = run(
        capsys,
        "--junit", "unit|-|-|%s" % junit(tmp_path / "a", "pass"),
        "--junit", "host|6.18|tracepoint|%s" % junit(tmp_path / "b", "pass", "fail"),
        "--vm", "debian|?|%s|125" % empty,
        "--vm", "override|6.1.192|%s|0" % vm_log(tmp_path, ("kprobe", "passed")))
    assert rc == 1
    assert [r.split()[0:2] for r in rows] == [["unit", "-"], ["host", "6.18"],
                                              ["vm", "debian"], ["vm", "override"]]
    assert rows[0].endswith("PASS") and rows[1].endswith("FAIL")
    assert rows[2].endswith("DID NOT RUN (exit 125)") and rows[3].endswith("PASS")
    assert total == "total: 3 passed, 1 failed, 0 skipped; 2 of 4 suites passed"


def test_all_passed_exits_0(tmp_path, capsys):
    rc, rows, total = run(capsys, "--junit", "unit|-|-|%s" % junit(tmp_path, "pass"),
                          "--vm", "debian|6.1|%s|0" % vm_log(tmp_path, ("lsm", "passed")))
    assert rc == 0 and len(rows) == 2 and total.endswith("2 of 2 suites passed")


def test_tests_are_counted_per_front_end(tmp_path):
    xml = tmp_path / "host.xml"
    xml.write_text('<testsuite><testcase name="test_a[ethoswd-read]"/>'
                   '<testcase name="test_a[watchdog.py-read]"/>'
                   '<testcase name="test_b[ethoswd]"><failure/></testcase>'
                   '<testcase name="test_c"/></testsuite>')
    log = tmp_path / "vm.log"
    log.write_text("WDRESULT kernel=debian backend=lsm outcome=passed frontend=ethoswd "
                   "test=t[ethoswd-lsm]\n")
    per = summarize.frontend_counts([str(xml)], [str(log)])
    assert per["ethoswd"] == {"passed": 2, "failed": 1}
    assert per["watchdog.py"] == {"passed": 1}
