"""Skip connections ``S`` of a Fourier block, each a module that adds ``S x`` where it is cheapest.

==================  ==================  ====================================================
name                ``S x``             fused as
==================  ==================  ====================================================
``linear``          ``W x`` (1x1 conv)  the accumulator of a batched GEMM (``baddbmm``)
``soft-gating``     ``w_c x_c``         one ``addcmul``
``identity``        ``x``               one addition
``none``            ``0``               nothing
==================  ==================  ====================================================

The kind is chosen once, when the module is built (``make_skip``); ``forward`` never looks at a name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from specops.layers.mlp import pointwise

SkipKind = Literal["linear", "identity", "soft-gating", "none"]


class Skip(nn.Module):
    """A skip connection ``S``: ``forward(x) = S x``, ``add(h, x) = h + S x``.

    ``around(branch, h, x) = branch(h) + S x`` lets a skip enter a branch that accepts an accumulator
    (``branch(h, add=t)`` returns ``branch(h) + t`` computed in its last GEMM, as ``ChannelMLP`` does).
    """

    def add(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``h + S x``."""
        return h + self(x)

    def around(self, branch: Callable[..., torch.Tensor], h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``branch(h) + S x``."""
        return self.add(branch(h), x)


class LinearSkip(Skip):
    """``S x = W x`` over channels, no bias; ``W`` initialised like ``nn.Conv1d(C, C, 1)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(channels)
        self.weight = nn.Parameter(torch.empty(channels, channels).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise(x, self.weight)

    def add(self, h, x):
        # W x + h in one batched GEMM: h rides in as the accumulator.
        return pointwise(x, self.weight, add=h)

    def around(self, branch, h, x):
        # W x becomes the accumulator of the branch's last GEMM.
        return branch(h, add=self(x))


class SoftGatingSkip(Skip):
    """``S x = w_c x_c``, a learned per-channel scale initialised to 1."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight.reshape(1, -1, *([1] * (x.dim() - 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._gate(x)

    def add(self, h, x):
        return torch.addcmul(h, x, self._gate(x))


class IdentitySkip(Skip):
    """``S x = x``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def add(self, h, x):
        return h + x


class NoSkip(Skip):
    """``S x = 0``: no skip path."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def add(self, h, x):
        return h

    def around(self, branch, h, x):
        return branch(h)


SKIPS: dict[str, Callable[[int], Skip]] = {
    "linear": LinearSkip,
    "soft-gating": SoftGatingSkip,
    "identity": lambda channels: IdentitySkip(),
    "none": lambda channels: NoSkip(),
}


def make_skip(kind: str, channels: int, what: str = "skip") -> Skip:
    """The skip connection ``kind`` for ``channels`` channels; ``what`` names the option in errors."""
    if kind not in SKIPS:
        raise ValueError(f"{what}={kind!r} is not one of {tuple(SKIPS)}")
    return SKIPS[kind](channels)
