"""Read classes, budget keys and exclusions on the host kernel (tracepoint
backend, kill: the process dies at its first call over the limit).  The
same scenarios run with deny in the VMs (tests/vm/test_policy.py)."""

import pytest

import policy_cases as pc

ARGS = ["--backend", "tracepoint", "--window-ms", "2000"]


def test_sysinfo_counts_proc_reads_only():
    pc.sysinfo_class(ARGS, "kill")


def test_the_start_says_how_files_are_read():
    pc.file_lookup(ARGS, "kill")


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


def test_tree_throttle_stops_and_resumes_every_member():
    """Throttle with a shared budget: every member that calls over the limit
    is stopped, and all are resumed when the window ends, so the whole tree
    finishes; no window allowed more than the limit."""
    res = pc.run(["--backend", "tracepoint", "--window-ms", "300"],
                 pc.tree_cmd("tree", 100, children=20, detach=True), "throttle",
                 "--key", "tree")
    got = pc.outcomes(res)["tree"]
    assert got == {"procs": 20, "ok": 2000, "eperm": 0, "other": 0}, got
    b = pc.budget(res, res.start["targets"][0], "tree", 0)
    assert b["limited_windows"] >= 2, b
    # Each limited window allowed exactly the limit; the last one may be short.
    assert pc.LIMIT * b["limited_windows"] <= b["allowed"] <= pc.LIMIT * (
        b["limited_windows"] + 1), b
    assert b["allowed"] + b["limited"] == 2000, b
