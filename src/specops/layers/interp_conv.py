"""Convolutions whose kernel keeps its physical size when the grid changes (NNs-to-NOs, principle 3a).

Berner, Liu-Schiaffini, Kossaifi, Duruisseaux, Bonev, Azizzadenesheli & Anandkumar, "Principled Approaches
for Extending Neural Architectures to Function Spaces" (arXiv 2506.10973). A ``k``-point kernel learned on
a grid of spacing ``h`` covers ``(k - 1) h``; on a grid ``s`` times finer the same physical kernel has

    k' = s (k - 1) + 1   points (rounded to the nearest odd size),
    w' = interp(w, k') * q (x) ... (x) q,    q_j = 1/s inside, (s + 1)/(2s) at the two end points,

the interpolation linear along each axis through the end points. The paper rescales by ``(k/k')^d``, the
quadrature weight ``h^d`` of ``int kappa(x - y) v(y) dy``; ``q`` refines that: the coarse sum
``sum_i w_i v(x - ih)`` is the trapezoid rule of the linear kernel plus half its end values, and ``q`` keeps
that end term, so for smooth ``v`` the fine and coarse layers agree to O(h^2) instead of O(h). With
``s = 1`` the layer is an ordinary convolution. On grids coarser than the reference (``s < 1``) the kernel
is subsampled by the same formula, which only approximates the learned operator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

PaddingMode = Literal["zeros", "circular"]
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_INTERP = {1: "linear", 2: "bilinear", 3: "trilinear"}


def resized_kernel_size(k: int, scale: float) -> int:
    """``s (k - 1) + 1`` rounded to the nearest odd integer, at least 1."""
    size = round(scale * (k - 1)) + 1
    return max(1, size if size % 2 else size + 1)


class InterpConv(nn.Module):
    """``d``-dimensional 'same' convolution, optionally with its kernel resampled to the grid (module doc).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Odd, in points of the reference grid.
    dim : int
        1, 2 or 3.
    padding_mode : "zeros" or "circular"
        Zero padding (Dirichlet-like boundaries) or periodic.
    interpolate : bool
        Resample the kernel when ``forward`` receives ``scale != 1``; otherwise ``scale`` is ignored (a
        plain convolution in pixel units).

    ``forward(x, scale)``: ``scale`` is the grid refinement per axis relative to the reference grid.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dim: int,
        padding_mode: PaddingMode = "zeros",
        interpolate: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be a positive odd integer")
        if dim not in _CONV:
            raise ValueError(f"dim={dim} is not supported: 1, 2 or 3")
        if padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode={padding_mode!r} is not one of 'zeros', 'circular'")
        self.dim, self.kernel_size, self.interpolate = dim, int(kernel_size), bool(interpolate)
        self.circular = padding_mode == "circular"
        self._conv, self._mode = _CONV[dim], _INTERP[dim]
        fan_in = in_channels * kernel_size**dim
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *([kernel_size] * dim)).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound))

    def kernel(self, scale: Sequence[float]) -> torch.Tensor:
        """The kernel for a grid ``scale`` times finer than the reference (per axis)."""
        sizes = [resized_kernel_size(self.kernel_size, s) for s in scale]
        if not self.interpolate or all(k == self.kernel_size for k in sizes):
            return self.weight
        w = F.interpolate(self.weight, size=sizes, mode=self._mode, align_corners=True)
        for axis, k in enumerate(sizes):
            s = (k - 1) / (self.kernel_size - 1) if self.kernel_size > 1 else 1.0
            q = torch.full((k,), 1.0 / s, dtype=w.dtype, device=w.device)
            q[0] = q[-1] = (s + 1) / (2 * s)
            w = w * q.reshape([k] + [1] * (self.dim - 1 - axis))
        return w

    def forward(self, x: torch.Tensor, scale: Sequence[float]) -> torch.Tensor:
        w = self.kernel(scale)
        pads = [p for k in reversed(w.shape[2:]) for p in (k // 2, k // 2)]
        x = F.pad(x, pads, mode="circular" if self.circular else "constant")
        return self._conv(x, w, self.bias)
