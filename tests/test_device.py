"""Device names are checked once, with messages that say what this machine has."""

import pytest
import torch

from specops.device import resolve_device


def test_known_devices_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu0", "xla"])
def test_unknown_devices_name_the_setting_and_the_choices(name):
    with pytest.raises(ValueError, match=rf"train.device='{name}'.*use train.device=cpu"):
        resolve_device(name, what="train.device")


def test_cuda_without_a_gpu_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^--device cuda: no CUDA device is available; use --device cpu$"):
        resolve_device("cuda", what="--device")
    assert resolve_device(None) == torch.device("cpu") and resolve_device("auto") == torch.device("cpu")


def test_threads_auto_leaves_busy_cores_alone(monkeypatch):
    from specops import device

    monkeypatch.delenv("SPECOPS_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device, "_usable_cores", lambda: 2)
    monkeypatch.setattr(device, "busy_cores", lambda: 0.1)
    assert device.choose_threads("auto") == 2
    monkeypatch.setattr(device, "busy_cores", lambda: 1.2)  # another process on one core
    assert device.choose_threads("auto") == 1
    monkeypatch.setattr(device, "busy_cores", lambda: 7.0)
    assert device.choose_threads("auto") == 1
    assert device.choose_threads("3") == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert device.choose_threads("auto") == 4
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        device.choose_threads("many")


def test_cli_threads_apply_to_the_command_only():
    from specops import cli

    assert cli.build_parser().parse_args(["train", "--threads", "2"]).threads == "2"
    before = torch.get_num_threads()
    with cli._threads("2"):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_busy_cores_counts_what_runs_now_on_our_cores_not_the_load_average(tmp_path, monkeypatch):
    """Two snapshots of /proc/stat: the busy share of each usable CPU's ticks between them, summed;
    CPUs outside this process's affinity and the (slowly decaying) load average do not count."""
    from specops import device

    stat = tmp_path / "stat"
    # cpu0: 30 of 100 ticks busy; cpu1: 90 of 100 busy; cpu2 (not usable): all busy
    snapshots = iter(
        [
            "cpu  0 0 0 0 0\ncpu0 10 0 10 70 10 0 0 0 0 0\ncpu1 50 0 0 50 0\ncpu2 100 0 0 0 0\nintr 5\n",
            "cpu  0 0 0 0 0\ncpu0 30 0 20 130 20 0 0 0 0 0\ncpu1 130 0 10 60 0\ncpu2 200 0 0 0 0\nintr 9\n",
        ]
    )

    def snapshot(seconds):
        stat.write_text(next(snapshots))

    snapshot(0)
    monkeypatch.setattr(device.time, "sleep", snapshot)
    monkeypatch.setattr(device, "_usable_set", lambda: {0, 1})
    monkeypatch.setattr(device.os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    assert device.busy_cores(stat=str(stat)) == pytest.approx(0.3 + 0.9)
    # no /proc/stat (macOS, Windows): the load average
    assert device.busy_cores(stat=str(tmp_path / "missing")) == 2.0
