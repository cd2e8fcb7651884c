"""Tiny in-memory data for the training tests: 16^2 periodic fields and an exactly known operator."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from specops.spectral.derivatives import squared_wavenumber


def smooth_fields(n: int, shape: tuple[int, ...], seed: int, channels: int = 1) -> torch.Tensor:
    """Random smooth periodic fields ``(n, channels, *shape)``: spectrum decaying like ``(1 + |k|^2)^-1.5``."""
    g = torch.Generator().manual_seed(seed)
    white = torch.randn(n, channels, *shape, generator=g)
    dims = tuple(range(2, 2 + len(shape)))
    decay = (1 + squared_wavenumber(shape) / (2 * torch.pi) ** 2) ** -1.5
    return torch.fft.irfftn(torch.fft.rfftn(white, dim=dims) * decay.float(), s=shape, dim=dims) * 10


def heat(u: torch.Tensor, t: float = 0.005) -> torch.Tensor:
    """Exact heat flow ``exp(t Laplacian) u`` on the unit torus, over all axes after the second."""
    shape = u.shape[2:]
    dims = tuple(range(2, u.dim()))
    decay = torch.exp(-t * squared_wavenumber(shape)).to(u.dtype)
    return torch.fft.irfftn(torch.fft.rfftn(u, dim=dims) * decay, s=shape, dim=dims)


class PairDataset(Dataset):
    """Operator pairs ``{"x": (C, *space), "y": (C, *space)}`` (the data layer's item contract)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


class Standardize(nn.Module):
    """A minimal normalizer with the data layer's interface: ``encode``/``decode``, state in buffers."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


@pytest.fixture
def heat_data():
    """48 training and 16 validation pairs of the heat operator at 16^2."""
    x = smooth_fields(64, (16, 16), seed=0)
    y = heat(x)
    return PairDataset(x[:48], y[:48]), PairDataset(x[48:], y[48:])


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and far faster than two when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
