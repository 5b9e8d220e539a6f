"""The sweep's pure parts: corpus validation, the analysis of a recording
(shares by class), output comparison, and subcommand dispatch."""

import pytest

from ethoswd import corpus, main as wd_main
from ethoswd.errors import SetupError
from ethoswd.policy import FS_MAGIC
from ethoswd.recording import RECORD, Recording, Writer
from ethoswd.sweep import analyse, compare_output, headline

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
    ('[[program]]\nname="a"\nclass="evil"\ncmd="x"\n', "class 'evil'"),
    ('[[program]]\nname="a"\nclass="everyday"\n', "'cmd'"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nrepeat=0\n', "repeat"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nfoo=1\n', "unknown field"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\n'
     '[[program]]\nname="a"\nclass="everyday"\ncmd="y"\n', "duplicate"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nuser=5\n', "user must be"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nuser=""\n', "user must be"),
    ('[[program]]\nname="a"\nclass="everyday"\ncmd="x"\nuser="no-such-user-h4"\n',
     "user 'no-such-user-h4': no such user"),
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
