"""Attention over the points of a grid, as a mixer of a neural operator block.

A field ``(batch, C, *space)`` is a set of ``N = prod(space)`` tokens of width ``C``. ``GridAttention`` holds
what every attention mixer shares: the query/key/value projections, the split into heads and the output
projection,

    q = W_q v,  k = W_k v,  u = W_v v        (pointwise, per head h of width C / H)
    y = W_o [ attend_h(q_h, k_h, u_h) ]_h     (heads concatenated)

and leaves ``attend`` (the score function and its normalization) to the subclass. Every ``attend`` here
normalizes by a sum over the keys, so it is a quadrature of an integral operator and the layer maps
functions to functions: the same weights give nearly the same function at any resolution (Kovachki et
al., "Neural Operator", JMLR 2023, sec. 5.2).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from specops.layers.mlp import PointwiseLinear


def check_heads(channels: int, heads: int) -> int:
    """``heads`` if it divides ``channels``; ``ValueError`` naming both otherwise."""
    if heads < 1 or channels % heads:
        divisors = [h for h in range(1, channels + 1) if channels % h == 0]
        raise ValueError(f"heads={heads} must divide channels={channels}; valid: {divisors}")
    return int(heads)


class GridAttention(nn.Module):
    """Base of attention mixers on channel-first fields: projections, heads, output projection.

    Parameters
    ----------
    channels : int
    heads : int
        Must divide ``channels``.

    Subclasses implement ``attend(q, k, v, space) -> out`` on ``(batch, heads, N, d)`` tensors (``v`` may
    have other lengths where keys are pooled) and may override ``keys(x)`` to change the key tokens.
    """

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.channels = int(channels)
        self.heads = check_heads(self.channels, heads)
        self.head_dim = self.channels // self.heads
        self.query = PointwiseLinear(channels, channels, bias=False)
        self.key = PointwiseLinear(channels, channels, bias=False)
        self.value = PointwiseLinear(channels, channels, bias=False)
        self.out = PointwiseLinear(channels, channels)
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, C, *space) -> (batch, heads, N, C / heads)``."""
        b = x.shape[0]
        return x.reshape(b, self.heads, self.head_dim, -1).transpose(-1, -2)

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """The field the keys and values are computed from (the input itself here)."""
        return x

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, space: tuple[int, ...]
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != self.channels:
            raise ValueError(
                f"{type(self).__name__} input has shape {tuple(x.shape)}; expected (batch, {self.channels}, "
                f"*space)"
            )
        b, _, *space = x.shape
        src = self.keys(x)
        out = self.attend(
            self.split(self.query(x)), self.split(self.key(src)), self.split(self.value(src)), tuple(space)
        )
        return self.out(out.transpose(-1, -2).reshape(b, self.channels, *space))
