"""Device names are checked once, with messages that say what this machine has."""

import pytest
import torch

from specops.device import resolve_device


def test_known_devices_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu0", "xla"])
def test_unknown_devices_name_the_setting_and_the_choices(name):
    with pytest.raises(ValueError, match=rf"train.device='{name}'.*cpu"):
        resolve_device(name, what="train.device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(ValueError, match=r"--device='cuda': no CUDA device is available.*--device=cpu"):
        resolve_device("cuda", what="--device")
