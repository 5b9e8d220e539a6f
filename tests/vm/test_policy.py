"""Read classes, budget keys and exclusions with -EPERM, for each deny
backend the kernel has: the same scenarios as the host suite's kill runs
(tests/policy_cases.py), here with every over-limit read failing."""

import subprocess

import policy_cases as pc
import wdrun
from conftest import KERNELS, kernel


def _args(backend):
    return ["--backend", backend, "--window-ms", "2000"]


def test_sysinfo_counts_proc_reads_only(deny_backend):
    pc.sysinfo_class(_args(deny_backend), "deny")


def test_the_start_says_how_files_are_read(deny_backend):
    pc.file_lookup(_args(deny_backend), "deny", without_class=False)  # host checks that


def test_file_counts_through_hard_link_bind_mount_and_rename(deny_backend, tmp_path):
    pc.file_class(_args(deny_backend), "deny", tmp_path)


def test_tree_shares_one_budget_across_setsid_and_double_fork(deny_backend):
    for detach in (False, True):
        pc.tree_key(_args(deny_backend), "deny", detach)


def test_uid_key_one_budget_per_user(deny_backend):
    pc.uid_key(_args(deny_backend), "deny")


def test_cgroup_key_one_budget_per_cgroup(deny_backend, tmp_path):
    """On a kernel with cgroup v2: one budget per cgroup.  Without (the
    override kernel): --key cgroup is refused with the reason, exit 2."""
    if KERNELS[kernel()]["cgroup2"]:
        pc.cgroup_key(_args(deny_backend), "deny", tmp_path)
        return
    r = subprocess.run(wdrun.argv0() + ["--backend", deny_backend,
                                        "--key", "cgroup", "--", "true"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--key cgroup needs cgroup v2" in r.stderr and "CONFIG_CGROUPS" in r.stderr


def test_exclude_exe_is_not_fooled_by_names(deny_backend, tmp_path):
    pc.exclude_exe(_args(deny_backend), "deny", tmp_path)
