"""The C front end's `-- CMD` gate and guardian (src/launch.c), through the
driver src/test_launch.c, built with gcc as is and under ASan+UBSan: the
same behaviour as ethoswd/launcher.py and ethoswd/guardian.py."""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")
FLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
         "-I" + SRC]
BUILDS = {"plain": [], "sanitized": ["-fsanitize=address,undefined",
                                     "-fno-sanitize-recover=undefined"]}
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


@pytest.fixture(scope="module", params=sorted(BUILDS))
def driver(request, tmp_path_factory):
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build the C front end's tests"
    exe = str(tmp_path_factory.mktemp("launch") / ("test_launch_" + request.param))
    build = subprocess.run([gcc] + FLAGS + BUILDS[request.param]
                           + [os.path.join(SRC, f) for f in
                              ("launch.c", "runas.c", "text.c", "errors.c", "test_launch.c")]
                           + ["-o", exe],
                           capture_output=True, text=True)
    assert build.returncode == 0, "gcc failed:\n" + build.stderr
    return exe


def run(driver, *args, clean_stderr=True):
    """Run one case; its "key value" lines as a dict, and the raw output."""
    p = subprocess.run([driver] + list(args), capture_output=True, text=True,
                       timeout=60, env=ENV)
    assert p.returncode == 0, "driver failed (%d):\n%s\n%s" % (
        p.returncode, p.stdout, p.stderr)
    assert "FAIL" not in p.stdout, p.stdout
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    if clean_stderr:
        assert p.stderr == "", p.stderr
    out = {}
    for line in p.stdout.splitlines():
        key, value = (line.split(None, 1) + [""])[:2]
        out.setdefault(key, value)
    return out, p


def test_released_child_runs_the_command_and_reports_its_status(driver):
    out, p = run(driver, "release")
    assert out["before_release"] == "-1"       # held at the gate: running
    assert "ran" in p.stdout.splitlines()
    assert out["status"] == "7"
    assert out["after_abort"] == "7"            # abort leaves a released child be


def test_aborted_child_exits_127_without_running(driver, tmp_path):
    marker = tmp_path / "ran"
    out, _ = run(driver, "abort", str(marker))
    assert out["status"] == "127" and out["poll"] == "127"
    assert out["ran"] == "0" and not marker.exists()
    assert out["never"] == "-1"                 # abort of a child never started


def test_command_killed_by_a_signal_is_128_plus_n(driver):
    out, p = run(driver, "kill")
    assert "ran" in p.stdout.splitlines()
    assert out["status"] == "137"


def test_missing_command_is_refused_before_the_gate(driver, tmp_path):
    """A command that cannot run is refused by wd_child_start() (the line
    main() prints, exit 2, before anything attaches); one removed between
    the check and the release fails at exec: 127 and one line."""
    out, p = run(driver, "missing", str(tmp_path), clean_stderr=False)
    lines = p.stdout.splitlines()
    assert out["refused"] == "-1" and out["pid_reaped"] == "1"
    assert "error -- /no/such/program: No such file or directory" in lines
    assert out["status"] == "127"
    assert p.stderr == ("ethoswd: cannot run %s/gone: No such file or directory\n"
                        % tmp_path)
    assert out["empty"] == "-1" and "error no command to run" in lines


def test_ctrl_c_while_waiting_is_ignored_and_the_command_still_runs(driver):
    out, _ = run(driver, "sigint")
    assert out["waiting"] == "1"
    assert out["status"] == "3"


def test_command_starts_clean_without_the_gate_or_guardian_pipes(driver):
    out, p = run(driver, "clean")
    # Default dispositions and an empty mask, though the driver blocked
    # SIGINT/SIGUSR1 and ignored SIGPIPE/SIGTERM.
    assert out["SigBlk:"].strip() == "0000000000000000"
    assert out["SigIgn:"].strip() == "0000000000000000"
    assert out["waiting_child_holds_guardian_pipe"] == "0"
    fds = dict(re.findall(r" (\d+) -> (.*)$", p.stdout, re.M))
    assert fds.get("9") == "/dev/null"          # inherited, not close-on-exec
    for pipe in (out["guardian"], out["gate"]):
        assert pipe.startswith("pipe:[") and pipe not in fds.values(), (pipe, fds)
    assert p.stdout.count("status 0") == 2
    assert out["guardian_closed"] == "-1 1"


def test_guardian_forked_after_the_child_lets_go_of_the_gate(driver):
    out, _ = run(driver, "order")
    assert out["guardian_holds_gate"] == "0"
    assert out["status"] == "127"


def test_guardian_close_resumes_at_once_and_survives_ctrl_c(driver):
    out, _ = run(driver, "guardian-close")
    assert out["guardian_alive"] == "1"
    assert out["close_fast"] == "1"
    assert out["resumed"] == "1"
    assert out["status"] == "137"


def test_guardian_resumes_stopped_process_once_the_watchdog_is_gone(driver):
    """The watchdog closes the pipe without "=" and exits 500 ms later: the
    guardian waits while it lives, then resumes S1 (registered in pieces
    among malformed lines), and leaves S2 (resumed before) stopped."""
    out, _ = run(driver, "guardian-dead")
    assert out["stopped_while_alive"] == "1"
    assert out["s1_resumed"] == "1"
    assert out["resume_fast"] == "1"            # the pidfd, not the 10 s cap
    assert out["guardian_exited"] == "1"
    assert out["s2_state"] == "T"
    assert out["reaped"] == "1 1"


def _commands(tmp):
    """Commands that cannot run (and two that can), made under tmp."""
    (tmp / "plain").write_text("x\n")
    (tmp / "plain").chmod(0o644)
    (tmp / "noshebang").write_text("echo ran\n")
    (tmp / "noshebang").chmod(0o755)
    (tmp / "script").write_text("#!/bin/sh\necho ran\n")
    (tmp / "script").chmod(0o755)
    (tmp / "dir").mkdir()
    return [["/nonexistent"], [str(tmp / "plain")], [str(tmp / "dir")],
            [str(tmp / "noshebang")], ["no-such-command-h4"], [""],
            [str(tmp / "script")], ["true"], [str(tmp / "plain") + "/x"]]


def test_command_checks_match_watchdog_py(driver, tmp_path):
    """Both front ends refuse the same commands with the same line before
    anything attaches (ethoswd.launcher / launch.c), and run the others."""
    from ethoswd.errors import SetupError
    from ethoswd.launcher import GatedChild
    verdicts = []
    for argv in _commands(tmp_path):
        try:
            GatedChild(argv).abort()
            want = "ok"
        except SetupError as e:
            want = str(e)
        out, _ = run(driver, "check", "-", *argv)
        assert out["verdict"] == want, argv
        verdicts.append(want)
    assert verdicts == [
        "-- /nonexistent: No such file or directory",
        "-- %s/plain is not executable" % tmp_path,
        "-- %s/dir is a directory" % tmp_path,
        "-- %s/noshebang is neither an ELF executable nor a #! script: the kernel "
        "cannot run it, and the watchdog does not run it through /bin/sh" % tmp_path,
        "-- no-such-command-h4: command not found in PATH",
        "-- '': an empty command name", "ok", "ok",
        "-- %s/plain/x: Not a directory" % tmp_path]
