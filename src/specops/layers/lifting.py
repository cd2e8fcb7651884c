"""Lifting and projection: the pointwise maps into and out of a neural operator's hidden width.

``P(a)(x) = MLP([a(x), x])`` lifts the input channels, with the grid coordinates ``x`` appended when the
model is positional; ``Q(v)(x) = MLP(v(x))`` projects back (Li et al., ICLR 2021, sec. 2: ``P`` and ``Q``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.embeddings import GridEmbedding
from specops.layers.mlp import ChannelMLP, PointwiseLinear, pointwise


class Lifting(nn.Module):
    """Pointwise MLP from ``in_channels`` (+ ``dim`` coordinates on ``[0, 1)^dim``) to ``out_channels``.

    The coordinates are batch-independent, so their contribution ``W_grid @ grid`` is computed once per
    call and enters the first layer's GEMM as its accumulator instead of being concatenated to every
    sample: the result equals ``mlp(cat([x, grid]))``.

    Parameters
    ----------
    in_channels, out_channels : int
    dim : int
        Spatial dimension.
    ratio : float
        Hidden width of the MLP as a multiple of ``out_channels``; 0 makes it one linear layer.
    activation : callable
        Between the MLP's layers.
    positional : bool
        Append the grid coordinates to the input channels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        dim: int,
        ratio: float = 2.0,
        activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu,
        positional: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.embedding = GridEmbedding(dim) if positional else None
        self.grid_dim = dim if positional else 0
        hidden = round(out_channels * ratio)
        n_in = in_channels + self.grid_dim
        self.mlp = (
            ChannelMLP(n_in, out_channels, hidden, activation=activation)
            if hidden > 0
            else ChannelMLP(n_in, out_channels, out_channels, n_layers=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            return self.mlp(x)
        grid = self.embedding(x.shape[2:], x.dtype, x.device)
        first, rest = self.mlp.layers[0], self.mlp.layers[1:]
        w = first.weight
        grid_term = torch.matmul(w[:, self.in_channels :], grid.reshape(self.grid_dim, -1))
        h = pointwise(x, w[:, : self.in_channels], first.bias, add=grid_term.unsqueeze(0))
        for layer in rest:
            h = layer(self.mlp.activation(h))
        return h


def make_projection(
    in_channels: int,
    out_channels: int,
    ratio: float = 2.0,
    activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu,
) -> nn.Module:
    """Pointwise projection ``Q``: an MLP of hidden width ``ratio * in_channels``, or one linear if that is 0."""
    width = round(in_channels * ratio)
    if width > 0:
        return ChannelMLP(in_channels, out_channels, width, activation=activation)
    return PointwiseLinear(in_channels, out_channels)
