"""vm/run.py's path rules: the checkout is shared at its own path, so the bed
works from a clone under /tmp; other directories the guest mounts anew are
refused as the working directory."""

import importlib.util
import os

import pytest

_spec = importlib.util.spec_from_file_location(
    "vm_run", os.path.join(os.path.dirname(__file__), "..", "..", "vm", "run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)


@pytest.mark.parametrize("cwd", ["/tmp/wdclone-ab12", "/tmp/wdclone-ab12/tests"])
def test_a_checkout_under_tmp_works_from_inside(cwd):
    run.check_paths(cwd, "/tmp/wdclone-ab12")


def test_working_directory_outside_the_checkout_on_the_host_root_works():
    run.check_paths("/work", "/tmp/wdclone-ab12")


@pytest.mark.parametrize("cwd", ["/tmp", "/tmp/wdclone-ab", "/run/user/0"])
def test_other_fresh_directories_are_refused(cwd):
    with pytest.raises(run.RunnerError, match="hidden in the guest.*shares only the checkout"):
        run.check_paths(cwd, "/tmp/wdclone-ab12")


def test_a_checkout_under_dev_is_refused():
    with pytest.raises(run.RunnerError, match="checkout /dev/shm/wd is under /dev"):
        run.check_paths("/dev/shm/wd", "/dev/shm/wd")


def test_shares_escape_commas_and_only_the_results_are_writable():
    ro = run.share("checkout", "/tmp/a,b")
    assert ro[1] == ("local,id=checkout,path=/tmp/a,,b,security_model=none,"
                     "readonly=on,multidevs=remap")
    assert ro[3] == "virtio-9p-pci,fsdev=checkout,mount_tag=checkout"
    assert "readonly" not in run.share("results", "/tmp/r", writable=True)[1]
