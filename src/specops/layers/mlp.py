"""Pointwise (1x1) layers on channel-first fields ``(batch, channel, *space)``.

A pointwise linear layer is one batched matrix product ``W @ x.reshape(batch, C, N)``; the bias rides along
in the same kernel (``baddbmm``) instead of a second pass over memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def pointwise(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, add: torch.Tensor | None = None
) -> torch.Tensor:
    """``weight @ x`` over the channel axis of ``(batch, C, *space)``, plus ``bias`` and ``add``.

    ``add`` has shape ``(batch or 1, out, *space)`` and enters the batched GEMM as its accumulator.
    """
    b, c, *space = x.shape
    out_channels = weight.shape[0]
    flat = x.reshape(b, c, -1)
    base = None
    if add is not None:
        base = add.reshape(add.shape[0], out_channels, -1)
    if bias is not None:
        base = bias.reshape(1, -1, 1) if base is None else base + bias.reshape(1, -1, 1)
    if base is None:
        out = torch.bmm(weight.expand(b, -1, -1), flat)
    else:
        out = torch.baddbmm(base.expand(b, out_channels, flat.shape[-1]), weight.expand(b, -1, -1), flat)
    return out.reshape(b, out_channels, *space)


class PointwiseLinear(nn.Module):
    """``y[b, o, x] = sum_i W[o, i] x[b, i, x] + b[o]``; the 1x1 convolution of any dimension.

    Initialised like ``nn.Conv1d(in, out, 1)`` (uniform in ``+-1/sqrt(in)``).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        bound = 1.0 / math.sqrt(self.in_channels)
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(self.out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the layer; ``add`` (shape ``(batch or 1, out, *space)``) is summed in the same kernel."""
        return pointwise(x, self.weight, self.bias, add)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"


class ChannelMLP(nn.Module):
    """Pointwise MLP over channels: ``y = L_n( act( ... act( L_1 x ) ... ) )``, ``L_j`` pointwise linear.

    Parameters
    ----------
    in_channels, out_channels, hidden_channels : int
    n_layers : int
        Number of linear layers (1: a single ``in -> out`` layer).
    activation : callable
        Applied between layers (``torch.nn.functional.gelu``; names resolve with ``get_activation``).
    dropout : float
        Dropout probability after each activation, in training mode.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        n_layers: int = 2,
        activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers={n_layers} must be at least 1")
        sizes = [in_channels] + [hidden_channels] * (n_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(PointwiseLinear(a, b) for a, b in itertools.pairwise(sizes))
        self.activation = activation
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the MLP; ``add`` is summed into the last layer's output in the same kernel."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x, add if i == last else None)
            if i < last:
                x = self.activation(x)
                if self.dropout and self.training:
                    x = F.dropout(x, self.dropout)
        return x
