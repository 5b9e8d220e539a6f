"""What counts and whose budget it is (ethoswd.policy), and the refusals
that go with it: pure logic, no BPF."""

import os

import pytest

from ethoswd import cli, features, policy
from ethoswd.errors import SetupError
from ethoswd.features import Feature


def test_seed_profile_is_the_default_rule():
    p = cli.parse([]).policy
    assert (p.profile, p.count, p.key, p.max_calls, p.window_ms) == (
        "seed", "all", "process", 100, 500)
    assert p.counts_all and not p.needs_btf


def test_sysinfo_has_the_kernel_information_filesystems():
    label, magics = policy.parse_count("sysinfo")
    assert label == "sysinfo"
    for name in ("proc", "sysfs", "debugfs", "securityfs", "tracefs", "cgroup",
                 "cgroup2", "configfs", "efivarfs"):
        assert magics[name] == policy.FS_MAGIC[name]
    assert magics["proc"] == 0x9FA0 and "tmpfs" not in magics


@pytest.mark.parametrize("text,names", [
    ("fs:proc", {"proc"}),
    ("fs:proc,sysfs", {"proc", "sysfs"}),
    ("sysinfo,fs:tmpfs", set(policy.SYSINFO) | {"tmpfs"}),
    ("fs:0x9fa0", {"0x9fa0"}),
    ("files", set()),
])
def test_count_classes(text, names):
    assert set(policy.parse_count(text)[1]) == names


@pytest.mark.parametrize("text,fragment", [
    ("proc", "expected all, sysinfo"),
    ("fs:", "expected all"),
    ("fs:nosuchfs", "unknown filesystem 'nosuchfs'"),
    ("fs:0xzz", "bad magic"),
])
def test_bad_count_is_one_line(text, fragment):
    with pytest.raises(SetupError, match=fragment) as e:
        cli.parse(["--count", text])
    assert "\n" not in str(e.value)


def test_file_is_matched_by_kernel_device_and_inode(tmp_path):
    f = tmp_path / "id"
    f.write_text("x")
    st = os.stat(f)
    p = cli.parse(["--count", "files", "--file", str(f)]).policy
    (fid,) = p.files
    assert (fid.dev, fid.ino) == ((os.major(st.st_dev) << 20) | os.minor(st.st_dev),
                                  st.st_ino)
    assert p.needs_btf and p.describe_count() == "reads of 1 listed file"


@pytest.mark.parametrize("argv,fragment", [
    # An existing regular file (made below), so that only the option mix is wrong.
    (["--file", "{file}"], "--count all counts every read already"),
    (["--count", "files"], "needs at least one --file"),
    (["--count", "files", "--file", "/no/such/file"], "No such file"),
    (["--count", "files", "--file", "/etc"], "not a regular file"),
    (["--key", "tree"], "--key tree needs target roots"),
    (["--key", "tree", "--comm", "x"], "--key tree needs target roots"),
    (["--key", "bogus"], "invalid choice"),
    (["--profile", "bogus"], "invalid choice"),
])
def test_policy_refusals(argv, fragment, tmp_path):
    (tmp_path / "f").write_text("x")
    argv = [a.replace("{file}", str(tmp_path / "f")) for a in argv]
    with pytest.raises(SetupError, match=fragment):
        cli.parse(argv)


def test_exclude_exe_must_be_executable(tmp_path):
    f = tmp_path / "data"
    f.write_text("x")
    f.chmod(0o644)
    with pytest.raises(SetupError, match="not executable"):
        cli.parse(["--exclude-exe", str(f)])


def test_tree_key_with_targets():
    assert cli.parse(["--key", "tree", "-p", "5"]).policy.key == "tree"
    assert cli.parse(["--key", "tree", "--", "ls"]).policy.key == "tree"


def test_fingerprint_profile_tree_for_targets_cgroup_system_wide():
    t = cli.parse(["--profile", "fingerprint", "--", "ls"]).policy
    s = cli.parse(["--profile", "fingerprint"]).policy
    assert (t.key, s.key) == ("tree", "cgroup")
    assert t.count == "sysinfo" and set(t.magics) == set(policy.SYSINFO)
    assert {f.path for f in t.files} == {
        os.path.realpath(p) for p in policy.IDENTITY_FILES if os.path.isfile(p)}
    assert (t.max_calls, t.window_ms) == (cli.DEFS["WD_FINGERPRINT_MAX_CALLS"],
                                          cli.DEFS["WD_FINGERPRINT_WINDOW_MS"])


def test_explicit_flags_override_the_profile():
    p = cli.parse(["--profile", "fingerprint", "--key", "uid", "--count", "fs:proc",
                   "--max-calls", "7", "--window-ms", "9"]).policy
    assert (p.key, p.count, p.max_calls, p.window_ms) == ("uid", "fs:proc", 7, 9)
    assert not p.files   # an explicit --count drops the profile's identity files


def test_exclude_exe_is_resolved(tmp_path):
    p = cli.parse(["--exclude-exe", "/bin/sh"]).policy
    assert p.exclude_exe[0].path == os.path.realpath("/bin/sh")
    assert p.needs_btf and p.counts_all


class _NoBtf(features.Features):
    def __init__(self):
        self.btf = None
        self.btf_feature = Feature("kernel BTF", False, "no /sys/kernel/btf/vmlinux")


def test_classes_on_a_kernel_without_btf_are_refused_with_the_reason():
    pol = cli.parse(["--count", "sysinfo"]).policy
    with pytest.raises(SetupError, match="read classes need the kernel's BTF.*"
                       "no /sys/kernel/btf/vmlinux"):
        _NoBtf().offsets("tracepoint", pol)
    assert _NoBtf().offsets("tracepoint", cli.parse([]).policy) == {}


def test_cgroup_key_is_refused_without_cgroup2():
    class NoCgroups:
        cgroup2 = Feature("cgroup v2 (--key cgroup)", False,
                          "no cgroup2 filesystem (kernel built without CONFIG_CGROUPS)")
    assert "CONFIG_CGROUPS" in features.key_problem(NoCgroups(), "cgroup")
    assert features.key_problem(NoCgroups(), "uid") is None
