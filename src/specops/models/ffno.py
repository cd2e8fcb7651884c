"""F-FNO: the Factorized Fourier Neural Operator, 1D to 3D.

Tran, Mathews, Xie & Ong, "Factorized Fourier Neural Operators", ICLR 2023 (arXiv 2111.13802):

    h_0 = P [a, x],    h_{l+1} = h_l + W_2^l act( W_1^l K_l(h_l) ),    u = Q h_L

- ``K_l`` the axis-separable spectral convolution (``specops.layers.separable``), optionally one set of
  weights shared by every layer (``share_weights``);
- the improved placement of the paper: the feed-forward ``W_2 act(W_1 .)`` acts on the spectral output and
  the residual is added after it, with no activation on the residual stream (FNO: ``act(K h + W h)``);
- ``P`` pointwise lifting (with the grid coordinates), ``Q`` a two-layer pointwise projection.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.embeddings import GridEmbedding
from specops.layers.mlp import ChannelMLP, PointwiseLinear
from specops.layers.separable import FactorizedSpectralConv, factorized_weights
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS


class FFNOBlock(nn.Module):
    """``h + MLP(K h)``: the F-FNO layer (residual after the feed-forward)."""

    def __init__(self, conv: FactorizedSpectralConv, mlp: ChannelMLP) -> None:
        super().__init__()
        self.conv, self.mlp = conv, mlp

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.conv(h), add=h)


@register_model("ffno")
class FFNO(OperatorModel):
    """Factorized FNO (module docstring).

    Parameters
    ----------
    n_modes : sequence of int
        Modes per axis counted as in :class:`~specops.FNO` (positive and negative together): each axis
        keeps its frequencies ``0 .. m // 2`` (the paper's "16 modes" is ``n_modes=32``). The model's
        dimension is ``len(n_modes)``, 1 to 3.
    in_channels, out_channels, hidden_channels, n_layers : int
    share_weights : bool
        One set of spectral weights for all layers (the paper's weight sharing).
    channel_mlp_expansion : float
        Hidden width of each layer's feed-forward, in multiples of ``hidden_channels``.
    projection_channels : int
        Hidden width of the projection ``Q``.
    positional_embedding : bool
        Lift the grid coordinates with the input.
    activation : "gelu", "relu", "silu", "tanh" or "identity"

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 32,
        n_layers: int = 4,
        *,
        share_weights: bool = False,
        channel_mlp_expansion: float = 2.0,
        projection_channels: int = 128,
        positional_embedding: bool = False,
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        modes = tuple(int(m) for m in n_modes)
        if not 1 <= len(modes) <= 3 or min(modes) < 1:
            raise ValueError(f"ffno: n_modes={list(n_modes)} must be 1 to 3 positive counts (F-FNO is 1D-3D)")
        sizes = dict(in_channels=in_channels, out_channels=out_channels, hidden_channels=hidden_channels)
        sizes.update(n_layers=n_layers, projection_channels=projection_channels)
        for name, value in sizes.items():
            if int(value) < 1:
                raise ValueError(f"ffno: {name}={value} must be a positive integer")
        if channel_mlp_expansion <= 0:
            raise ValueError(f"ffno: channel_mlp_expansion={channel_mlp_expansion} must be positive")
        self.dim, self.n_modes = len(modes), modes
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        width = int(hidden_channels)
        act = get_activation(activation)
        self.embedding = GridEmbedding(self.dim) if positional_embedding else None
        self.lift = PointwiseLinear(self.in_channels + (self.dim if positional_embedding else 0), width)
        kept = [m // 2 + 1 for m in modes]  # non-negative frequencies 0 .. m // 2
        shared = factorized_weights(width, width, kept) if share_weights else None
        self.shared_weights = shared  # registered once; every layer holds the same list
        hidden = max(1, round(width * channel_mlp_expansion))
        self.blocks = nn.ModuleList(
            FFNOBlock(
                FactorizedSpectralConv(width, width, kept, shared), ChannelMLP(width, width, hidden, 2, act)
            )
            for _ in range(int(n_layers))
        )
        self.project = ChannelMLP(width, self.out_channels, int(projection_channels), 2, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        if self.embedding is not None:
            grid = self.embedding(x.shape[2:], x.dtype, x.device)
            x = torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1)
        h = self.lift(x)
        for block in self.blocks:
            h = block(h)
        return self.project(h)


_PRESETS = {
    "ffno-1d": ({"n_modes": [32], "hidden_channels": 64}, "F-FNO 1D (frequencies 0..16, width 64)"),
    "ffno-2d": (
        {"n_modes": [32, 32], "hidden_channels": 64, "n_layers": 4},
        "F-FNO 2D (frequencies 0..16 per axis, width 64, 4 layers)",
    ),
    "ffno-2d-darcy": (
        {"n_modes": [24, 24], "hidden_channels": 32, "positional_embedding": True},
        "F-FNO 2D with grid coordinates for non-periodic problems such as Darcy (frequencies 0..12, width 32)",
    ),
    "ffno-2d-deep": (
        {"n_modes": [32, 32], "hidden_channels": 64, "n_layers": 12, "share_weights": True},
        "F-FNO 2D, 12 layers with shared spectral weights (the paper's deep weight-shared variant)",
    ),
    "ffno-3d": ({"n_modes": [16, 16, 16], "hidden_channels": 20}, "F-FNO 3D (frequencies 0..8, width 20)"),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, FFNO, defaults=_defaults, description=_doc, family="ffno")
