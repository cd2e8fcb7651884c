"""Checkpoints: a specops model file that also resumes; weights-only loading; RNG capture; bad files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import specops
from specops import FNO, LpLoss
from specops.config import Config, config_to_dict
from specops.models import Predictor
from specops.training import Trainer
from specops.training.checkpoint import (
    capture_rng_state,
    config_from_checkpoint,
    load_checkpoint,
    normalizers_from_checkpoint,
    restore_rng_state,
)
from tests.helpers import assert_close
from tests.training.conftest import Standardize


def _draws():
    return (
        torch.rand(3),
        np.random.rand(3),  # noqa: NPY002  (checks the legacy global generator is restored)
        [random.random() for _ in range(3)],
    )


def test_rng_state_round_trip_reproduces_every_generator():
    torch.manual_seed(1)
    state = capture_rng_state()
    first = _draws()
    _draws()
    restore_rng_state(state)
    again = _draws()
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_checkpoint_is_a_model_file_with_training_state(tmp_path, heat_data):
    train, _ = heat_data
    torch.manual_seed(0)
    model = FNO((6, 6), hidden_channels=8, n_layers=1)
    cfg = config_to_dict(Config())
    trainer = Trainer(
        model,
        LpLoss(),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        x_normalizer=Standardize(0.5, 2.0),
        y_normalizer=Standardize(-1.0, 3.0),
        max_steps=4,
        batch_size=8,
        ema_decay=0.5,
        progress=False,
        run_dir=tmp_path,
        config=cfg,
    )
    trainer.fit(train)
    path = tmp_path / "checkpoints" / "last.pt"
    payload = torch.load(path, weights_only=True)  # no pickled code
    assert payload["specops_version"] == specops.__version__
    assert payload["model"] == {"name": "fno", "kwargs": model.init_args}
    # specops.load rebuilds the model with the averaged (EMA) weights: the ones to evaluate
    loaded = specops.load(path)
    with trainer.ema.applied(model):
        x = train.x[:2]
        assert_close(loaded(x), model(x), rtol=0, atol=0)
        # the predictor of the checkpoint decodes the averaged weights' output
        norm = trainer.normalization
        expected = norm.decode_output(model(norm.encode_input(x)))
        xs, ys = normalizers_from_checkpoint(path, factory=lambda s: Standardize(s["mean"], s["std"]))
        assert_close(Predictor(loaded, xs, ys)(x), expected, rtol=0, atol=0)
    assert config_from_checkpoint(path) == cfg
    xn, yn = normalizers_from_checkpoint(path, factory=lambda s: Standardize(s["mean"], s["std"]))
    assert (xn.mean.item(), xn.std.item(), yn.mean.item(), yn.std.item()) == (0.5, 2.0, -1.0, 3.0)
    state = load_checkpoint(path)["extra"]["training"]
    assert state["step"] == 4 and set(state["rng"]) >= {"torch", "numpy", "python", "cuda"}
    assert state["raw_model"].keys() == model.state_dict().keys()


def test_bad_checkpoint_files_are_explained(tmp_path):
    torch.manual_seed(0)
    model = FNO((4, 4), hidden_channels=4, n_layers=1)
    plain = specops.save(model, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="without training state"):
        load_checkpoint(plain)
    data = plain.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    assert normalizers_from_checkpoint(plain) == (None, None)
