"""Read classes, budget keys and exclusions on the host kernel (tracepoint
backend, kill: the process dies at its first call over the limit).  The
same scenarios run with deny in the VMs (tests/vm/test_policy.py)."""

import pytest

import policy_cases as pc

ARGS = ["--backend", "tracepoint", "--window-ms", "2000"]


def test_sysinfo_counts_proc_reads_only():
    pc.sysinfo_class(ARGS, "kill")


def test_file_counts_through_hard_link_bind_mount_and_rename(tmp_path):
    pc.file_class(ARGS, "kill", tmp_path)


@pytest.mark.parametrize("detach", [False, True], ids=["fork", "setsid-double-fork"])
def test_tree_shares_one_budget(detach):
    pc.tree_key(ARGS, "kill", detach)


def test_uid_key_one_budget_per_user():
    pc.uid_key(ARGS, "kill")


def test_cgroup_key_one_budget_per_cgroup(tmp_path):
    pc.cgroup_key(ARGS, "kill", tmp_path)


def test_exclude_exe_is_not_fooled_by_names(tmp_path):
    pc.exclude_exe(ARGS, "kill", tmp_path)
