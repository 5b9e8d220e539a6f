"""The sweep's pure parts: corpus validation, the analysis of a recording
(shares by class), output comparison, and subcommand dispatch; how a run
is started and ended (its process group, the output cap); and that sweep
checks everything before it creates anything and removes its scratch
directory on every way out."""

import glob
import os
import tempfile
import time

import pytest

from ethoswd import main as wd_main
from ethoswd.errors import SetupError
from ethoswd.policy import FS_MAGIC
from ethoswd.research import corpus
from ethoswd.research.recording import RECORD, Recording, Writer
from ethoswd.research.sweep import analyse, headline
from ethoswd.research.verify import compare_output

GOOD = """
[settings]
repeat = 2
[[program]]
name = "a"
class = "fingerprint"
cmd = "lscpu"
[[program]]
name = "b"
class = "everyday"
cmd = "true"
repeat = 1
"""


def test_corpus_loads_with_defaults():
    progs = corpus.load("c.toml", GOOD)
    assert [(p.name, p.cls, p.repeat, p.timeout, p.user) for p in progs] == \
        [("a", "fingerprint", 2, 120, None), ("b", "everyday", 1, 120, None)]
    assert progs[0].runas is None


def test_corpus_user_is_checked_and_kept_by_name():
    progs = corpus.load("c.toml", GOOD.replace('cmd = "lscpu"',
                                               'cmd = "lscpu"\nuser = "nobody"'))
    assert progs[0].user == "nobody" and progs[0].runas.uid == 65534
    assert progs[0].runas.groups == [65534]
    assert "user" in vars(progs[0])          # what the recording's trailer keeps


@pytest.mark.parametrize("text,msg", [
    ("x = ", "not valid TOML"),
    ("[settings]\nrepeat = 1\n", "no \\[\\[program\\]\\]"),
    ('[[program]]\nname="a"\nclass="evil"\ncmd="x"\n', "'class' must be one of .*, not 'evil'"),
    ("settings = 5\n[[program]]\nname='a'\nclass='everyday'\ncmd='x'\n",
     "\\[settings\\] must be a table, not 5"),
    ("[settings]\nrepeat = 'x'\n", "'repeat' must be a whole number"),
    ("[settings]\nfoo = 1\n[[program]]\nname='a'\nclass='everyday'\ncmd='x'\n",
     "unknown field foo"),
    ("[[program]]\nname='a'\nclass='everyday'\ncmd='x'\nneeds = 5\n",
     "'needs' must be a command name .*, not 5"),
    ("[[program]]\nname=5\nclass='everyday'\ncmd='x'\n", "'name' must be a non-empty"),
    ("[[program]]\nname='a'\nclass='everyday'\ncmd=['x']\n", "'cmd' must be"),
    ("[[program]]\nname='a'\nclass='everyday'\ncmd='x'\ntimeout=true\n", "'timeout'"),
    ("program = 5\n", "no \\[\\[program\\]\\]"),
    ("program = [5]\n", "program 1 must be a table, not 5"),
    ("[[programs]]\nname='a'\n", "unknown table programs"),
    ('[[program]]\nname="a"\nclass="everyday"\n', "'cmd'"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nrepeat=0\n', "repeat"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nfoo=1\n', "unknown field"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\n'
     '[[program]]\nname="a"\nclass="everyday"\ncmd="y"\n', "duplicate"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nuser=5\n',
     "'user' must be the name or UID .*, not 5"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nuser=""\n',
     "'user' must be the name or UID"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nuser="no-such-user-h4"\n',
     "'user' must be the name or UID .* of a user of the user database, "
     "not 'no-such-user-h4'"),
])
def test_corpus_errors_are_one_line(text, msg):
    with pytest.raises(SetupError, match=msg) as e:
        corpus.load("c.toml", text)
    assert "\n" not in str(e.value)


def _recording(tmp_path):
    """fp: 30 proc reads in both runs; ev: 5 reads, then 40 in run 2."""
    path = str(tmp_path / "s.wdrec")
    w = Writer(path)
    segs, t = [], 10 ** 12
    plan = [("fp", "fingerprint", 1, 30), ("fp", "fingerprint", 2, 30),
            ("ev", "everyday", 1, 5), ("ev", "everyday", 2, 40)]
    for root, (name, cls, run, n) in enumerate(plan, 100):
        start = t
        for i in range(n):
            w.write_raw(RECORD.pack(t + i * 1000, root, root, root, 0, 1,
                                    FS_MAGIC["proc"], 0, 0, 0))
        t += 10 ** 10
        segs.append({"name": name, "class": cls, "run": run, "root": root,
                     "start_ns": start, "end_ns": t - 1, "status": 0,
                     "seconds": 0.1})
    w.close({"segments": segs})
    return Recording(path)


def test_analyse_shares_take_the_worst_run(tmp_path):
    rec = _recording(tmp_path)
    rows, progs, shares = analyse(rec, ["tree"], ["sysinfo"], [500], [10, 35])
    assert len(rows) == 8
    at = {s["max_calls"]: s for s in shares}
    # 10: fp caught in every run; ev limited in run 2 (any run counts).
    assert (at[10]["fingerprint"], at[10]["everyday"]) == (1.0, 1.0)
    # 35: fp (30) never caught; ev's run 2 (40) still limited.
    assert (at[35]["fingerprint"], at[35]["everyday"]) == (0.0, 1.0)
    assert at[35]["everyday_limited"] == ["ev"] and at[35]["sysinfo"] is None
    peaks = {p["name"]: p["peaks"]["sysinfo|tree|500"] for p in progs}
    assert peaks == {"fp": 30, "ev": 40}
    assert "| sysinfo | 100% / 100% / - | 0% / 100% / - |" in headline(shares)


def test_compare_output():
    assert compare_output("a\nb\n", "a\nb\n") == "identical"
    assert compare_output("a\nb\nc\n", "a\n") == "2 lines lost"
    assert compare_output("a\nb\n", "a\nx\n") == "changed (-1 +1 lines)"


def test_subcommands_reject_bad_input_with_status_2(tmp_path, capsys):
    assert wd_main.main(["replay", str(tmp_path / "none")]) == 2
    assert wd_main.main(["export", str(tmp_path / "none")]) == 2   # no --csv
    bad = tmp_path / "c.toml"
    bad.write_text("nope")
    assert wd_main.main(["sweep", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("watchdog: error:") == 3 and len(err.strip().splitlines()) == 3


# -- a run: its process group, the output cap -----------------------------
def _gone(pid, timeout=5.0):
    """The process has left /proc (or is a zombie)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_a_timeout_kills_the_whole_group(tmp_path):
    pids = tmp_path / "pids"
    t = time.monotonic()
    rc = corpus.run_group(corpus.wrap("sleep 300 & echo $! >%s; sleep 300 & wait" % pids),
                          timeout=1)
    assert rc == "timeout" and time.monotonic() - t < 10
    assert _gone(int(pids.read_text()))


def test_what_a_run_leaves_behind_is_killed(tmp_path):
    pids = tmp_path / "pids"
    rc = corpus.run_group(corpus.wrap("sleep 300 & echo $! >%s" % pids), timeout=30)
    assert rc == 0 and _gone(int(pids.read_text()))


def test_output_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "OUTPUT_CAP", 64 << 10)
    out = tmp_path / "out"
    rc = corpus.run_group(corpus.wrap("head -c 1000000 /dev/zero", str(out)), timeout=30)
    assert rc == corpus.CAPPED_STATUS and out.stat().st_size == 64 << 10
    assert corpus.capped(str(out))


# -- sweep checks first and cleans up ---------------------------------------
def _scratch():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "wd-sweep-*")))


def test_sweep_checks_root_before_creating_anything(tmp_path, monkeypatch, capsys):
    from ethoswd import environment
    good = tmp_path / "c.toml"
    good.write_text(GOOD)
    # No capabilities (uid 1000): what environment.privileges() reads.
    monkeypatch.setattr(environment, "privileges", lambda: environment.Privileges(
        0, 40, None, (6, 1), environment.resource.RLIM_INFINITY, 1000))
    before = _scratch()
    assert wd_main.main(["sweep", str(good), "-o", str(tmp_path / "out")]) == 2
    assert "run it as root" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and _scratch() == before


@pytest.mark.parametrize("verify", [False, True])
def test_sweep_removes_its_scratch_directory(tmp_path, monkeypatch, capsys, verify):
    from ethoswd import environment
    from ethoswd.research import sweep
    good = tmp_path / "c.toml"
    good.write_text(GOOD)
    seen = []

    def fail(*args):
        seen.append(args[-1])       # the scratch directory
        assert os.path.isdir(args[-1])
        raise SetupError("stop here")
    monkeypatch.setattr(environment, "require_root", lambda: None)
    monkeypatch.setattr(sweep, "verify" if verify else "record_corpus", fail)
    argv = ["sweep", str(good), "-o", str(tmp_path / "out")]
    if verify:
        argv += ["--verify", "--max-calls", "16", "--window-ms", "500"]
    assert wd_main.main(argv) == 2
    assert "stop here" in capsys.readouterr().err
    assert seen and not os.path.exists(seen[0])
