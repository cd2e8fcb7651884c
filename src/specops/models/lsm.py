"""LSM: the Latent Spectral Model, 2D and 3D.

Wu, Hu, Luo, Wang & Long, "Solving High-Dimensional PDEs with Latent Spectral Models", ICML 2023 (arXiv
2301.12664; code thuml/Latent-Spectral-Models):

1. embedding: the input and its grid coordinates, a pointwise map to ``hidden_channels`` (``d``);
2. hierarchical projection: a U-Net encoder (``conv3-BN-ReLU`` twice, then ``n_scales - 1`` times max-pool
   and the same), channels ``d, 2d, 4d, 8d, 8d``;
3. a neural spectral block (``specops.layers.latent_spectral``) on every scale's features, patches of
   ``patch_size`` pixels at every scale;
4. decoder: upsample (linear), concatenate the processed skip, ``conv3-BN-ReLU`` twice;
5. output: pointwise ``d -> 128 -> out`` with GELU.

The patches and pools are pixels, so the model is tied to its training grid ``resolution``, which must be
a multiple of ``patch_size * 2^(n_scales - 1)``: other grids are resampled in and out
(``specops.layers.resample.NativeGrid``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.embeddings import GridEmbedding
from specops.layers.latent_spectral import NeuralSpectralBlock
from specops.layers.mlp import ChannelMLP, PointwiseLinear
from specops.layers.resample import NativeGrid
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_POOL = {2: F.max_pool2d, 3: F.max_pool3d}
_MODE = {2: "bilinear", 3: "trilinear"}


class DoubleConv(nn.Sequential):
    """``(conv3 -> batch norm -> ReLU)`` twice."""

    def __init__(self, c_in: int, c_out: int, dim: int) -> None:
        conv, norm = _CONV[dim], _NORM[dim]
        super().__init__(
            conv(c_in, c_out, 3, padding=1, bias=False), norm(c_out), nn.ReLU(),
            conv(c_out, c_out, 3, padding=1, bias=False), norm(c_out), nn.ReLU(),
        )  # fmt: skip


@register_model("lsm")
class LSM(OperatorModel):
    """Latent Spectral Model (module docstring).

    Parameters
    ----------
    resolution : sequence of int
        The training grid (2 or 3 axes; ``specops train`` sets it), a multiple of
        ``patch_size * 2^(n_scales - 1)`` per axis.
    in_channels, out_channels, hidden_channels : int
    patch_size : int
        Patch side in pixels at every scale.
    n_scales : int
        Levels of the hierarchical projection (the paper: 5).
    num_tokens, num_basis, heads : int
        Latent tokens per patch, trigonometric frequencies, attention heads.

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        resolution: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 32,
        *,
        patch_size: int = 4,
        n_scales: int = 5,
        num_tokens: int = 4,
        num_basis: int = 12,
        heads: int = 8,
    ) -> None:
        super().__init__()
        size = tuple(int(n) for n in resolution)
        if len(size) not in _CONV:
            raise ValueError(
                f"lsm: resolution={list(resolution)} has {len(size)} axes; LSM supports 2D and 3D"
            )
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("hidden_channels", hidden_channels),
                            ("patch_size", patch_size), ("n_scales", n_scales), ("num_tokens", num_tokens),
                            ("num_basis", num_basis), ("heads", heads)):  # fmt: skip
            if int(value) < 1:
                raise ValueError(f"lsm: {name}={value} must be a positive integer")
        divisor = self.resolution_divisor(patch_size, n_scales)
        why = f"patches of {patch_size} pixels on {n_scales} scales that each halve the grid"
        self.grid = NativeGrid("lsm", size, divisor, why)
        self.resolution, self.dim = size, len(size)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        d, dim = int(hidden_channels), self.dim
        widths = [d * min(2**i, 8) for i in range(int(n_scales))]
        self.embedding = GridEmbedding(dim)
        self.lift = PointwiseLinear(self.in_channels + dim, d)
        self.encoder = nn.ModuleList(
            DoubleConv(widths[max(i - 1, 0)] if i else d, w, dim) for i, w in enumerate(widths)
        )
        self.spectral = nn.ModuleList(
            NeuralSpectralBlock(w, int(patch_size), int(num_tokens), int(num_basis), int(heads))
            for w in widths
        )
        self.decoder = nn.ModuleList(
            DoubleConv(widths[i + 1] + widths[i], widths[i], dim) for i in reversed(range(len(widths) - 1))
        )
        self.project = ChannelMLP(widths[0], self.out_channels, 128, 2)
        self._pool, self._mode = _POOL[dim], _MODE[dim]

    @staticmethod
    def resolution_divisor(patch_size: int = 4, n_scales: int = 5, **_: object) -> int:
        """Every size of ``resolution`` must be a multiple of this (``patch_size * 2^(n_scales - 1)``)."""
        return int(patch_size) * 2 ** (int(n_scales) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        space = tuple(x.shape[2:])
        x = self.grid.enter(x)
        grid = self.embedding(x.shape[2:], x.dtype, x.device)
        h = self.lift(torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1))
        skips = []
        for i, block in enumerate(self.encoder):
            h = block(self._pool(h, 2) if i else h)
            skips.append(h)
        skips = [nsb(s) for nsb, s in zip(self.spectral, skips)]
        h = skips[-1]
        for block, skip in zip(self.decoder, reversed(skips[:-1])):
            h = F.interpolate(h, size=skip.shape[2:], mode=self._mode, align_corners=True)
            h = block(torch.cat([h, skip], dim=1))
        return self.grid.leave(self.project(h), space)


_PRESETS = {
    "lsm-2d": (
        {"resolution": [64, 64], "hidden_channels": 32, "patch_size": 4},
        "LSM paper's Navier-Stokes model: width 32, patches of 4 on 5 scales (64 -> 4), 4 tokens, 12 bases",
    ),
    "lsm-2d-darcy": (
        {"resolution": [96, 96], "hidden_channels": 32, "patch_size": 6},
        "LSM paper's Darcy model: width 32, patches of 6 on 5 scales (the 85x85 grid padded to 96)",
    ),
    "lsm-3d": (
        {"resolution": [16, 16, 16], "hidden_channels": 16, "patch_size": 2, "n_scales": 3},
        "LSM 3D: width 16, patches of 2 on 3 scales (16 -> 4)",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, LSM, defaults=_defaults, description=_doc, family="lsm")
