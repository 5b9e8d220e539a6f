"""The gated child of `-- CMD` (ethoswd.launcher): it runs the command only
once released, and never returns into the caller's code."""

import os
import shutil
import signal
import time

import pytest

from ethoswd.errors import SetupError
from ethoswd.launcher import GatedChild


def test_released_child_runs_the_command_and_reports_its_status():
    c = GatedChild(["/bin/sh", "-c", "exit 7"])
    c.release()
    while c.poll() is None:
        time.sleep(0.01)
    assert c.status == 7


def test_aborted_child_exits_127_without_running(tmp_path):
    marker = tmp_path / "ran"
    c = GatedChild(["/bin/sh", "-c", "touch %s" % marker])
    c.abort()
    assert c.status == 127 and not marker.exists()


def test_missing_command_is_refused_before_the_gate():
    with pytest.raises(SetupError) as e:
        GatedChild(["/no/such/program"])
    assert str(e.value) == "-- /no/such/program: No such file or directory"


def test_command_removed_after_the_check_exits_127(tmp_path):
    exe = tmp_path / "gone"
    shutil.copy("/bin/true", exe)
    c = GatedChild([str(exe)])
    exe.unlink()
    c.release()
    while c.poll() is None:
        time.sleep(0.01)
    assert c.status == 127


def test_no_sh_fallback_for_a_file_without_shebang(tmp_path):
    """execvp() would run it through /bin/sh; the watchdog refuses it."""
    exe = tmp_path / "noshebang"
    marker = tmp_path / "ran"
    exe.write_text("touch %s\n" % marker)
    exe.chmod(0o755)
    with pytest.raises(SetupError) as e:
        GatedChild([str(exe)])
    assert "neither an ELF executable nor a #! script" in str(e.value)
    assert not marker.exists()


def test_ctrl_c_while_waiting_does_not_reach_the_callers_code(tmp_path):
    """SIGINT to the waiting child is ignored; it still runs when released
    (before, a KeyboardInterrupt fell back into the caller: main())."""
    marker = tmp_path / "ran"
    c = GatedChild(["/bin/sh", "-c", "touch %s" % marker])
    time.sleep(0.1)
    os.kill(c.pid, signal.SIGINT)
    time.sleep(0.1)
    assert c.poll() is None
    c.release()
    while c.poll() is None:
        time.sleep(0.01)
    assert c.status == 0 and marker.exists()
