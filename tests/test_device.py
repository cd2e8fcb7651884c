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
    monkeypatch.setattr(device.os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert device.choose_threads("auto") == 2
    monkeypatch.setattr(device.os, "getloadavg", lambda: (1.2, 0.0, 0.0))  # another process on one core
    assert device.choose_threads("auto") == 1
    monkeypatch.setattr(device.os, "getloadavg", lambda: (7.0, 0.0, 0.0))
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
