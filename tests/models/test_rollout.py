"""Rollouts reproduce exactly known trajectories, with and without normalizers."""

from __future__ import annotations

import pytest
import torch

from specops.models import FieldNormalization, Predictor
from specops.models.rollout import advance, autoregressive_step, flatten_window, rollout, unflatten_states
from tests.evaluation.conftest import LastState
from tests.helpers import assert_close
from tests.training.conftest import Standardize, heat, smooth_fields


def _trajectory(n_states: int, t: float, channels: int = 2) -> torch.Tensor:
    states = [smooth_fields(3, (16, 16), seed=2, channels=channels).double()]
    for _ in range(n_states - 1):
        states.append(heat(states[-1], t))
    return torch.stack(states, dim=1)  # (3, T, C, 16, 16)


@pytest.mark.parametrize("history", [1, 3])
def test_rollout_of_the_exact_step_reproduces_the_trajectory(history):
    traj = _trajectory(history + 6, t=0.002)
    pred = rollout(LastState(2, 0.002), traj[:, :history], 6)
    assert_close(pred, traj[:, history:], rtol=1e-10, atol=1e-12)


def test_rollout_encodes_inputs_and_decodes_outputs():
    traj = _trajectory(5, t=0.002)
    norm = Standardize(0.7, 3.0).double()
    exact = LastState(2, 0.002)

    def in_encoded_units(x):  # the model a trainer would learn: encoded history -> encoded next state
        return norm.encode(exact(norm.decode(x)))

    pred = rollout(in_encoded_units, traj[:, :1], 4, normalization=FieldNormalization(norm, norm))
    assert_close(pred, traj[:, 1:], rtol=1e-10, atol=1e-12)


class EncodedLastState(torch.nn.Module):
    """LastState as a network that works in the units of a normalizer."""

    def __init__(self, norm, exact):
        super().__init__()
        self.norm, self.exact = norm, exact

    def forward(self, x):
        return self.norm.encode(self.exact(self.norm.decode(x)))


def test_predictor_steps_and_rolls_out_in_physical_units():
    traj = _trajectory(5, t=0.002)
    norm = Standardize(0.7, 3.0).double()
    predictor = Predictor(EncodedLastState(norm, LastState(2, 0.002)), norm, norm, task="autoregressive")
    assert_close(predictor(traj[:, :1]), traj[:, 1:2], rtol=1e-10, atol=1e-12)
    assert_close(predictor.rollout(traj[:, :1], 4), traj[:, 1:], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="time-stepping run"):
        Predictor(torch.nn.Identity()).rollout(traj[:, :1], 2)


def test_window_helpers_and_errors():
    w = torch.arange(2 * 3 * 2 * 4, dtype=torch.float64).reshape(2, 3, 2, 4)
    flat = flatten_window(w)
    assert flat.shape == (2, 6, 4) and torch.equal(flat[:, 2:4], w[:, 1])
    assert torch.equal(unflatten_states(flat, 2), w)
    nxt = torch.full((2, 1, 2, 4), -1.0, dtype=torch.float64)
    moved = advance(w, nxt)
    assert torch.equal(moved[:, :2], w[:, 1:]) and torch.equal(moved[:, 2:], nxt)
    with pytest.raises(ValueError, match="not a multiple of the 4 channels"):
        unflatten_states(torch.zeros(2, 6, 4), 4)
    with pytest.raises(ValueError, match="n_states=0"):
        rollout(lambda x: x, w, 0)
    assert autoregressive_step(lambda x: x[:, -2:], w).shape == (2, 1, 2, 4)
