"""U-NO: the U-shaped neural operator, 1D to 3D.

Rahman, Ross & Azizzadenesheli, "U-NO: U-shaped Neural Operators", TMLR 2023 (arXiv 2204.11127). Each
operator layer maps a function on a grid ``n_in`` to one on a grid ``n_out = s n`` (``s`` a fraction of the
input grid ``n``, so the model is resolution independent):

    h_out = act( R_{n_out}( K h + W h ) ),

``K`` a spectral convolution keeping at most the modes both grids hold, ``W`` pointwise, ``R`` Fourier
resampling (``specops.layers.resample``). The encoder contracts the grid level by level
(``level_scales``) while widening the channels (``channel_multipliers``), a layer works at the coarsest
level, and the decoder expands back, concatenating the encoder's output of the same level (the U's skips);
a pointwise MLP projects to the output channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.mlp import ChannelMLP, PointwiseLinear
from specops.layers.resample import fourier_resample
from specops.layers.spectral_conv import SpectralConv
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS


class UNOLayer(nn.Module):
    """``act(R_{n_out}(K h + W h))``: one U-NO operator layer onto the grid ``scale * n``."""

    def __init__(self, c_in: int, c_out: int, n_modes: Sequence[int], scale: float, act) -> None:
        super().__init__()
        self.conv = SpectralConv(c_in, c_out, n_modes)
        self.pointwise = PointwiseLinear(c_in, c_out)
        self.scale, self.act = float(scale), act

    def forward(self, h: torch.Tensor, base: Sequence[int]) -> torch.Tensor:
        out = [max(1, round(n * self.scale)) for n in base]
        return self.act(fourier_resample(self.pointwise(h, add=self.conv(h)), out))


@register_model("uno")
class UNO(OperatorModel):
    """U-shaped neural operator (module docstring).

    Parameters
    ----------
    n_modes : sequence of int
        Kept modes at the finest level (``len(n_modes)`` is the dimension, 1 to 3); level ``l`` keeps
        ``n_modes * level_scales[l]`` (at least 1).
    in_channels, out_channels, hidden_channels : int
    level_scales : sequence of float
        Grid of each level as a fraction of the input grid, finest first (e.g. ``1, 0.5, 0.25``).
    channel_multipliers : sequence of int
        Width of each level in multiples of ``hidden_channels`` (one per level).
    projection_channels : int
    activation : "gelu", "relu", "silu", "tanh" or "identity"

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 32,
        *,
        level_scales: Sequence[float] = (1.0, 0.5, 0.25),
        channel_multipliers: Sequence[int] = (1, 2, 4),
        projection_channels: int = 128,
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        modes = tuple(int(m) for m in n_modes)
        if not 1 <= len(modes) <= 3 or min(modes) < 1:
            raise ValueError(f"uno: n_modes={list(n_modes)} must be 1 to 3 positive counts (U-NO is 1D-3D)")
        scales, mults = [float(s) for s in level_scales], [int(m) for m in channel_multipliers]
        if len(scales) != len(mults) or not scales or not all(0 < s <= 1 for s in scales):
            raise ValueError(
                f"uno: level_scales={list(level_scales)} must be fractions in (0, 1], one per entry of "
                f"channel_multipliers={list(channel_multipliers)}"
            )
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if int(value) < 1:
                raise ValueError(f"uno: {name}={value} must be positive")
        if int(hidden_channels) < 1 or min(mults) < 1:
            raise ValueError(
                f"uno: hidden_channels={hidden_channels} and channel_multipliers must be positive"
            )
        self.dim, self.n_modes = len(modes), modes
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.level_scales = tuple(scales)
        act = get_activation(activation)
        widths = [int(hidden_channels) * m for m in mults]

        def layer(c_in: int, c_out: int, s_in: float, s_out: float) -> UNOLayer:
            kept = [max(1, math.floor(m * min(s_in, s_out))) for m in modes]
            return UNOLayer(c_in, c_out, kept, s_out, act)

        self.lift = PointwiseLinear(self.in_channels, widths[0])
        self.encoder = nn.ModuleList(
            layer(widths[max(i - 1, 0)], w, scales[max(i - 1, 0)], s)
            for i, (w, s) in enumerate(zip(widths, scales))
        )
        self.middle = layer(widths[-1], widths[-1], scales[-1], scales[-1])
        top = len(widths) - 1
        self.decoder = nn.ModuleList(
            layer(widths[i + 1] * (1 if i + 1 == top else 2), widths[i], scales[i + 1], scales[i])
            for i in reversed(range(top))
        )
        self.project = ChannelMLP(
            widths[0] * (2 if top else 1), self.out_channels, int(projection_channels), 2, act
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        base = tuple(x.shape[2:])
        h = self.lift(x)
        skips = []
        for layer in self.encoder:
            h = layer(h, base)
            skips.append(h)
        h = self.middle(h, base)
        for layer, skip in zip(self.decoder, reversed(skips[:-1])):
            h = torch.cat([layer(h, base), skip], dim=1)
        return self.project(h)


_PRESETS = {
    "uno-1d": (
        {"n_modes": [16], "hidden_channels": 32},
        "U-NO 1D: levels 1, 1/2, 1/4 of the grid, width 32-64-128",
    ),
    "uno-2d": (
        {"n_modes": [16, 16], "hidden_channels": 16},
        "U-NO 2D: levels 1, 1/2, 1/4 of the grid, width 16-32-64, 16 modes at the finest level",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, UNO, defaults=_defaults, description=_doc, family="uno")
