"""What environment.privilege_problem() asks for (made-up processes and
kernels; tests/host/test_privileges.py runs the real thing, and
test_cfront_text.py holds src/sysenv.c to the same answers)."""

import resource

from ethoswd import environment as env

INF = resource.RLIM_INFINITY


def caps(*numbers):
    return sum(1 << n for n in numbers)


def problem(capset, uid=0, last_cap=40, tracefs=None, kernel=(6, 1), memlock=INF,
            action=None):
    return env.privilege_problem(env.Privileges(capset, last_cap, tracefs, kernel, memlock,
                                                uid), action)


def test_cap_bpf_and_cap_perfmon_are_enough_for_root():
    assert problem(caps(env.CAP_BPF, env.CAP_PERFMON)) is None
    assert problem(caps(env.CAP_SYS_ADMIN)) is None          # stands in for both


def test_root_without_cap_bpf_is_told_which_capability_and_why():
    line = problem(caps(env.CAP_PERFMON, env.CAP_KILL))
    assert line.startswith("missing capability in the effective set (uid 0): CAP_BPF "
                           "(load BPF programs and maps); this process runs as root "
                           "without it")
    assert "Privileges" in line


def test_a_user_is_told_to_use_root_or_grant_them():
    line = problem(0, uid=1000, tracefs="/sys/kernel/tracing")
    assert "CAP_BPF" in line and "CAP_PERFMON" in line and "CAP_DAC_READ_SEARCH" in line
    assert "run it as root (a root shell, or sudo in front), or grant them" in line


def test_kernels_before_cap_bpf_need_cap_sys_admin():
    line = problem(caps(env.CAP_BPF, env.CAP_PERFMON), last_cap=37)
    assert "CAP_SYS_ADMIN (this kernel has no CAP_BPF" in line
    assert problem(caps(env.CAP_SYS_ADMIN), last_cap=37) is None


def test_memlock_matters_only_before_5_11_and_below_infinity():
    bpf = caps(env.CAP_BPF, env.CAP_PERFMON)
    assert "CAP_SYS_RESOURCE" in problem(bpf, kernel=(5, 10), memlock=65536)
    assert problem(bpf, kernel=(5, 10), memlock=INF) is None
    assert problem(bpf, kernel=(5, 11), memlock=65536) is None
    assert problem(bpf | caps(env.CAP_SYS_RESOURCE), kernel=(4, 19), memlock=65536) is None


def test_throttle_needs_cap_kill_and_only_throttle():
    bpf = caps(env.CAP_BPF, env.CAP_PERFMON)
    assert "CAP_KILL (--action throttle" in problem(bpf, action="throttle")
    for action in (None, "deny", "kill", "monitor"):
        assert problem(bpf, action=action) is None
    assert problem(bpf | caps(env.CAP_KILL), action="throttle") is None


def test_closed_tracefs_needs_a_dac_capability():
    bpf = caps(env.CAP_BPF, env.CAP_PERFMON)
    assert "CAP_DAC_READ_SEARCH" in problem(bpf, uid=1000, tracefs="/sys/kernel/tracing")
    for dac in (env.CAP_DAC_READ_SEARCH, env.CAP_DAC_OVERRIDE):
        assert problem(bpf | caps(dac), uid=1000, tracefs="/sys/kernel/tracing") is None


def test_this_process_reads_its_own_set():
    priv = env.privileges()
    with open("/proc/self/status") as f:
        eff = [int(line.split()[1], 16) for line in f if line.startswith("CapEff:")]
    assert priv.caps == eff[0]
