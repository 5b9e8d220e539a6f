"""The churn soak as a test: short-lived processes under the fingerprint
profile (monitor, -- churn), for each front end and for the tree key
(PROC_EXIT: shares of exited processes) and the process key (EXIT: rows
of ended budgets); tests/soak/churn.py has the checks (RSS flat after
warm-up, exact counts, at most WD_EXITED_ROWS exited rows listed and the
rest counted as not listed, no lost events).

Size: churn.procs_for(SOAK_S), 50 000 processes for the CI's 60 s and
200 000 for `make soak`'s 600.  Host only (conftest.py: collect_ignore in
a VM guest)."""

import json
import os

import pytest

import churn
import wdrun


@pytest.mark.parametrize("key", ["tree", "process"])
@pytest.mark.parametrize("frontend", ["watchdog.py", "ethoswd"])
def test_churn(tmp_path, frontend, key):
    if frontend == "ethoswd":
        assert wdrun.ETHOSWD.exists(), "no %s: run make ethoswd" % wdrun.ETHOSWD
    procs = churn.procs_for(float(os.environ.get("SOAK_S", 60)))
    res = churn.soak(procs, key, frontend, tmp_path)
    churn.print_report(res)
    (tmp_path / "churn.json").write_text(json.dumps(res, indent=1) + "\n")
    out = os.environ.get("SOAK_RESULT")
    if out:
        with open("%s.churn-%s-%s" % (out, frontend, key), "w") as f:
            json.dump(res, f, indent=1)
    assert res["passed"], "\n".join(res["failures"])
