"""Model files written before the option groups (format 1, flat ``factorization=``, ``rank=``, ``skip=``...)
still load as the same model: same weights, same outputs (tests/models/data/README.md says how they were
made)."""

from pathlib import Path

import pytest
import torch

import specops
from specops import FNO, IFNO, TFNO
from specops.models.serialization import model_spec, read_checkpoint
from tests.helpers import assert_close

DATA = Path(__file__).parent / "data"

UPGRADED = {
    "fno": {
        "block": {"skip": "soft-gating", "channel_mlp_skip": "linear", "norm": "layer"},
        "spectral": {"max_n_modes": [6, 6]},
    },
    "tfno": {
        "block": {"norm": "instance"},
        "spectral": {"factorization": "cp", "rank": 0.5, "fft_method": "fft"},
    },
    "ifno": {"spectral": {"factorization": "tucker", "rank": 0.5}},
}


@pytest.mark.parametrize("name", ["fno", "tfno", "ifno"])
def test_a_format_1_file_rebuilds_the_same_model(name):
    path = DATA / f"legacy-0.1.0-{name}.pt"
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == 1 and "block" not in raw["model"]["kwargs"]
    model = specops.load(path)
    assert model_spec(model)["name"] == name
    for key, value in UPGRADED[name].items():  # the flat options, grouped; defaults dropped
        assert model.init_args[key] == value
    assert not {"factorization", "rank", "skip", "norm", "fft_method"} & set(model.init_args)
    state = model.state_dict()
    assert state.keys() == raw["state_dict"].keys()
    assert all(torch.equal(state[k], v) for k, v in raw["state_dict"].items())
    x, y = raw["extra"]["x"], raw["extra"]["y"]
    # bit-identical with the thread count it was written with (one, as in the suite); to rounding elsewhere
    assert_close(model(x), y, atol=1e-6, rtol=1e-5)
    if torch.get_num_threads() == 1:
        assert torch.equal(model(x), y)


def test_the_grown_modes_of_a_format_1_file_are_restored():
    model = specops.load(DATA / "legacy-0.1.0-fno.pt")
    assert model.n_modes == (4, 6) and model.blocks[0].conv.max_n_modes == (8, 6)


def test_format_1_arguments_are_upgraded_for_every_reader():
    """``read_checkpoint`` (which resuming a run also uses) gives today's arguments, and those arguments
    describe the model that ``specops.load`` builds, so an old run compares equal to its rebuilt model."""
    payload = read_checkpoint(DATA / "legacy-0.1.0-tfno.pt")
    assert payload["model"] == model_spec(specops.load(DATA / "legacy-0.1.0-tfno.pt"))


def test_flat_default_options_fold_away():
    old_fno = {
        "n_modes": [8, 8],
        "hidden_channels": 16,
        "norm": "none",
        "skip": "linear",
        "channel_mlp_expansion": 0.5,
        "channel_mlp_skip": "soft-gating",
        "factorization": None,
        "rank": 1.0,
        "separable": False,
        "max_n_modes": None,
        "fft_method": "auto",
    }
    assert FNO.upgrade_args(old_fno) == {"n_modes": [8, 8], "hidden_channels": 16}
    assert TFNO.upgrade_args({"n_modes": [8], "factorization": "tucker", "rank": 0.05}) == {"n_modes": [8]}
    assert TFNO.upgrade_args({"n_modes": [8], "factorization": "cp", "rank": 0.05}) == {
        "n_modes": [8],
        "spectral": {"factorization": "cp"},
    }
    assert IFNO.upgrade_args({"n_modes": [8], "rank": 0.5, "factorization": "cp"}) == {
        "n_modes": [8],
        "spectral": {"rank": 0.5, "factorization": "cp"},
    }
    new = {"n_modes": [8], "spectral": {"rank": 0.5}}
    assert FNO.upgrade_args(new) == new  # today's arguments pass unchanged
