"""`make install` and the systemd unit: the files land where an operator
expects them, an existing /etc/default/ethoswd is kept,
`systemd-analyze verify` accepts the unit and `systemd-analyze security`
rates it 2.5 or lower (these machines do not run systemd as PID 1, so the
unit is checked, not started; tests/host/test_unit_sandbox.py runs ethoswd
under the parts of its sandbox that can be set up without systemd)."""

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _install(dest):
    r = subprocess.run(["make", "-s", "-C", str(REPO), "install", "DESTDIR=%s" % dest],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_puts_binary_unit_and_defaults(tmp_path):
    _install(tmp_path)
    exe = tmp_path / "usr/local/sbin/ethoswd"
    unit = tmp_path / "etc/systemd/system/ethoswd.service"
    default = tmp_path / "etc/default/ethoswd"
    assert os.access(exe, os.X_OK)
    text = unit.read_text()
    assert ("ExecStart=/usr/local/sbin/ethoswd --state-file /run/ethoswd/stopped "
            "--config /etc/default/ethoswd") in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert "RestartPreventExitStatus=2" in text
    assert 'profile = "fingerprint"\ninterval = 60\n' in default.read_text()


def test_the_default_policy_file_is_read_by_both_front_ends(tmp_path):
    """What `make install` puts in /etc/default/ethoswd is a --config file
    both front ends take: the fingerprint profile, a table every 60 s."""
    from ethoswd import cli
    a = cli.parse(["--config", str(REPO / "packaging/ethoswd.default")])
    assert (a.policy.profile, a.interval, a.policy.max_calls) == ("fingerprint", 60.0, 16)
    front = subprocess.run(["setpriv", "--bounding-set", "-all", "--inh-caps", "-all",
                            str(REPO / "build/ethoswd"), "--config",
                            str(REPO / "packaging/ethoswd.default")],
                           capture_output=True, text=True, timeout=60)
    assert front.returncode == 2 and "CAP_BPF" in front.stderr, front    # read, then no caps


def test_install_keeps_an_operators_defaults(tmp_path):
    default = tmp_path / "etc/default/ethoswd"
    default.parent.mkdir(parents=True)
    default.write_text('max-calls = 7\n')
    _install(tmp_path)
    assert default.read_text() == 'max-calls = 7\n'


def test_install_replaces_an_old_options_file(tmp_path):
    """The ETHOSWD_OPTS file of earlier versions is not TOML: kept aside."""
    default = tmp_path / "etc/default/ethoswd"
    default.parent.mkdir(parents=True)
    default.write_text('ETHOSWD_OPTS="--max-calls 7"\n')
    _install(tmp_path)
    assert (tmp_path / "etc/default/ethoswd.old").read_text() == 'ETHOSWD_OPTS="--max-calls 7"\n'
    assert default.read_text() == (REPO / "packaging/ethoswd.default").read_text()


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    assert shutil.which("systemd-analyze"), "no systemd-analyze: ./install.sh --tests"
    _install(tmp_path / "root")
    unit = (tmp_path / "root/etc/systemd/system/ethoswd.service").read_text()
    # verify checks that ExecStart exists: point it at the installed copy.
    unit = unit.replace("/usr/local/sbin/ethoswd", str(tmp_path / "root/usr/local/sbin/ethoswd"))
    (tmp_path / "ethoswd.service").write_text(unit)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "ethoswd.service")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        r.stdout + r.stderr


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a misspelt directive is reported."""
    bad = tmp_path / "ethoswd.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nRestartPreventExitStatuss=2\n")
    r = subprocess.run(["systemd-analyze", "verify", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert "RestartPreventExitStatuss" in r.stdout + r.stderr


# `systemd-analyze security` rates exposure 0.0-10.0; --threshold takes it
# in tenths.  The unit was rated 5.7 MEDIUM before it was hardened.
EXPOSURE_MAX = 25


def _installed_unit(tmp_path):
    _install(tmp_path / "root")
    return tmp_path / "root/etc/systemd/system/ethoswd.service"


def test_unit_exposure_is_at_most_2_5(tmp_path):
    assert shutil.which("systemd-analyze"), "no systemd-analyze: ./install.sh --tests"
    unit = _installed_unit(tmp_path)
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--threshold=%d" % EXPOSURE_MAX, str(unit)],
                       capture_output=True, text=True, timeout=120)
    level = [line for line in r.stdout.splitlines() if "Overall exposure level" in line]
    print(level)
    assert r.returncode == 0, r.stdout + r.stderr
    assert level and float(level[0].split(":")[1].split()[0]) <= EXPOSURE_MAX / 10, level


def test_exposure_check_can_fail(tmp_path):
    """The same check rejects the unsandboxed unit: the threshold bites."""
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nExecStart=/bin/true\n")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--threshold=%d" % EXPOSURE_MAX, str(bare)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, r.stdout


def test_stop_post_resumes_the_file_the_service_keeps(tmp_path):
    """ExecStopPost resumes from the very file ExecStart keeps, in the
    runtime directory systemd keeps until ExecStopPost has run."""
    text = _installed_unit(tmp_path).read_text()
    conf = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, val = line.split("=", 1)
            conf.setdefault(key, []).append(val)
    start, = conf["ExecStart"]
    stop_post, = conf["ExecStopPost"]
    assert start.startswith("/usr/local/sbin/ethoswd --state-file /run/ethoswd/stopped ")
    assert stop_post == "/usr/local/sbin/ethoswd --resume-stopped /run/ethoswd/stopped"
    assert conf["RuntimeDirectory"] == ["ethoswd"]
