"""Exactly known operators as models, so that evaluation numbers have exact references."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.training.conftest import heat, smooth_fields  # noqa: F401  (shared generators)


class HeatModel(nn.Module):
    """The exact heat operator ``exp(t Laplacian)`` per channel, times ``1 + eps`` (a known error)."""

    def __init__(self, t: float = 0.005, eps: float = 0.0) -> None:
        super().__init__()
        self.t, self.eps = t, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1 + self.eps) * heat(x, self.t)


class LastState(nn.Module):
    """Predicts the next state as the heat flow of the last state of the window (``k*C`` -> ``C``)."""

    def __init__(self, channels: int, t: float) -> None:
        super().__init__()
        self.channels, self.t = channels, t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return heat(x[:, -self.channels :], self.t)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
