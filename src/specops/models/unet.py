"""U-Net, plain (tied to its training grid) or resolution-agnostic by kernel interpolation (NNs-to-NOs).

Ronneberger, Fischer & Brox, "U-Net", MICCAI 2015, as the CNN baseline of neural-operator benchmarks; and
Berner et al., "Principled Approaches for Extending Neural Architectures to Function Spaces" (arXiv
2506.10973), whose recipe makes it a neural operator:

- every convolution keeps a fixed physical receptive field: on a grid ``s`` times finer than the training
  grid its kernel is interpolated to ``s (k - 1) + 1`` points and rescaled (``specops.layers.interp_conv``);
- pooling and upsampling are resolution-relative: Fourier resampling to half the grid and back to the skip's
  grid (the same low-pass on every grid; pixel pooling on node grids would shift each level by half a
  cell); normalisation is a group norm over space (a mean, the same on every grid).

Architecture: a lifting convolution to ``hidden_channels``, per level ``l`` two conv-norm-GELU layers with
``hidden_channels * channel_multipliers[l]`` channels, halving the grid between levels, a decoder that
upsamples, concatenates the skip and applies two conv-norm-GELU layers, and a pointwise projection.

``kernel_interpolation=False`` gives the plain U-Net, whose kernels are pixels: it is tied to
``resolution`` and resamples other grids' inputs to it and its outputs back (Fourier interpolation,
``specops.layers.resample.NativeGrid``; the paper's "input-output interpolation" baseline).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.interp_conv import InterpConv, PaddingMode
from specops.layers.mlp import PointwiseLinear
from specops.layers.resample import NativeGrid, fourier_resample
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS


class ConvBlock(nn.Module):
    """Two ``conv -> group norm -> act`` layers."""

    def __init__(
        self, c_in: int, c_out: int, k: int, dim: int, padding: PaddingMode, interp: bool, act
    ) -> None:
        super().__init__()
        self.conv1 = InterpConv(c_in, c_out, k, dim, padding, interp)
        self.conv2 = InterpConv(c_out, c_out, k, dim, padding, interp)
        self.norm1, self.norm2 = nn.GroupNorm(1, c_out), nn.GroupNorm(1, c_out)
        self.act = act

    def forward(self, x: torch.Tensor, scale: Sequence[float]) -> torch.Tensor:
        x = self.act(self.norm1(self.conv1(x, scale)))
        return self.act(self.norm2(self.conv2(x, scale)))


@register_model("unet")
class UNet(OperatorModel):
    """U-Net (module docstring), 1D to 3D (the dimension is ``len(resolution)``).

    Parameters
    ----------
    resolution : sequence of int
        The training grid (``specops train`` sets it from the data). The plain U-Net runs on it; the
        resolution-agnostic one measures its kernels' physical size on it.
    in_channels, out_channels, hidden_channels : int
    channel_multipliers : sequence of int
        Width of each level in multiples of ``hidden_channels`` (one level per entry).
    kernel_size : int
        Odd kernel size on the training grid.
    kernel_interpolation : bool
        Resolution-agnostic (kernels interpolated to the grid) or plain (input/output resampled).
    padding_mode : "zeros" or "circular"
    activation : "gelu", "relu", "silu", "tanh" or "identity"

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        resolution: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 16,
        channel_multipliers: Sequence[int] = (1, 2, 2, 3),
        *,
        kernel_size: int = 3,
        kernel_interpolation: bool = True,
        padding_mode: PaddingMode = "circular",
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        size = tuple(int(n) for n in resolution)
        if not 1 <= len(size) <= 3:
            raise ValueError(f"unet: resolution={list(resolution)} must have 1 to 3 axes (U-Net is 1D-3D)")
        mults = [int(m) for m in channel_multipliers]
        if not mults or min(mults) < 1:
            raise ValueError(
                f"unet: channel_multipliers={list(channel_multipliers)} must be positive integers"
            )
        min_size = 2 ** (len(mults) - 1)
        if min(size) < min_size:
            raise ValueError(
                f"unet: resolution={list(size)} is too coarse for {len(mults)} levels (each halves the grid): "
                f"give at least {min_size} points per axis or fewer channel_multipliers"
            )
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("hidden", hidden_channels),
        ):
            if int(value) < 1:
                raise ValueError(f"unet: {name}={value} must be positive")
        self.dim, self.in_channels, self.out_channels = len(size), int(in_channels), int(out_channels)
        self.kernel_interpolation = bool(kernel_interpolation)
        # the plain U-Net resamples other grids to its own; the agnostic one only measures scale against it
        self.grid = None if self.kernel_interpolation else NativeGrid("unet", size, why="pixel-sized kernels")
        self.resolution = size
        act = get_activation(activation)
        widths = [int(hidden_channels) * m for m in mults]
        k, d, interp = int(kernel_size), self.dim, self.kernel_interpolation
        self.lift = InterpConv(self.in_channels, widths[0], k, d, padding_mode, interp)
        self.down = nn.ModuleList(
            ConvBlock(widths[max(i - 1, 0)], w, k, d, padding_mode, interp, act) for i, w in enumerate(widths)
        )
        self.up = nn.ModuleList(
            ConvBlock(widths[i + 1] + widths[i], widths[i], k, d, padding_mode, interp, act)
            for i in reversed(range(len(widths) - 1))
        )
        self.project = PointwiseLinear(widths[0], self.out_channels)

    @property
    def converges_under_refinement(self) -> bool:
        """Kernel-interpolated: outputs on two grids agree only in the limit ``h -> 0`` (O(h) per layer)."""
        return self.kernel_interpolation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        space = tuple(x.shape[2:])
        if self.grid is not None:
            x = self.grid.enter(x)
        scale = [n / r for n, r in zip(x.shape[2:], self.resolution)]
        h = self.lift(x, scale)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                h = fourier_resample(h, [max(1, n // 2) for n in h.shape[2:]])
            h = block(h, scale)
            skips.append(h)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            h = fourier_resample(h, skip.shape[2:])
            h = block(torch.cat([h, skip], dim=1), scale)
        y = self.project(h)
        return y if self.grid is None else self.grid.leave(y, space)


_PRESETS = {
    "unet-2d": (
        {"resolution": [64, 64], "kernel_interpolation": False},
        "plain U-Net 2D (width 16, multipliers 1-2-2-3, 3x3 kernels), tied to its 64x64 training grid: "
        "other grids are resampled in and out",
    ),
    "unet-ra-2d": (
        {"resolution": [32, 32], "kernel_interpolation": True, "kernel_size": 5},
        "resolution-agnostic U-Net 2D (NNs-to-NOs): 5x5 kernels on the 32x32 training grid, interpolated "
        "on finer grids",
    ),
    "unet-ra-1d": (
        {"resolution": [32], "kernel_interpolation": True, "kernel_size": 5},
        "resolution-agnostic U-Net 1D: 5-point kernels on the 32-point training grid",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, UNet, defaults=_defaults, description=_doc, family="unet")
