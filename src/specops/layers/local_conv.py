"""Local (pixel-kernel) convolutions for operator blocks: periodic convolution, the weighted convolution, and
the guard that stops a pixel-kernel layer from being used at a resolution it was not built for.

Periodic convolution of a field ``x`` with a ``k^d`` kernel ``W`` (odd ``k``, cross-correlation as in
``torch.nn.functional.conv2d``, indices modulo the grid):

    y[o, i] = b[o] + sum_{c, |s_a| <= k // 2} W[o, c, s + k // 2] x[c, i + s]

Weighted convolution (Cammarasana & Patane, "Optimal Weighted Convolution for Classification and
Denoising", arXiv 2505.24558): the neighbours of a point are weighted by a spatial density ``rho`` over the
kernel offsets, ``y = conv(x, W * rho)``, with ``rho`` a tensor product of per-axis densities that are
symmetric and 1 at the centre, ``rho(s) = prod_a r_a(|s_a|)``, ``r_a(0) = 1``. ``rho = 1`` is the plain
convolution; the paper finds non-uniform densities (fixed, or learned) better for denoising.

A ``k^d`` kernel in grid points covers a region that shrinks as the grid is refined, so such a layer does
not define an operator between functions: ``FixedResolution`` records the grid it first sees (kept in the
state dict) and refuses any other with a message saying so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

_CONVS = (F.conv1d, F.conv2d, F.conv3d)


def periodic_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, groups: int = 1):
    """``conv(x, weight)`` with periodic (circular) wrap of ``(batch, C, *space)``; odd kernel sizes."""
    dim = x.dim() - 2
    pad = []
    for k in reversed(weight.shape[2:]):
        pad += [k // 2, k // 2]
    return _CONVS[dim - 1](F.pad(x, pad, mode="circular"), weight, bias, groups=groups)


def check_kernel_size(kernel_size: int) -> int:
    """``kernel_size`` if odd and positive; ``ValueError`` otherwise."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} must be an odd positive integer (3, 5, ...)")
    return int(kernel_size)


class FixedResolution(nn.Module):
    """Mixin of layers with pixel kernels: the first grid seen is recorded (buffer ``resolution``), any
    other grid afterwards is refused with a ``ValueError`` naming both."""

    def init_resolution(self, dim: int) -> None:
        self.register_buffer("resolution", torch.zeros(dim, dtype=torch.long))
        self._resolution: tuple[int, ...] | None = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._resolution = None

    def check_resolution(self, space: Sequence[int]) -> None:
        space = tuple(int(n) for n in space)
        if self._resolution is None:
            recorded = tuple(self.resolution.tolist())
            if not any(recorded):
                with torch.no_grad():
                    self.resolution.copy_(torch.tensor(space))
                recorded = space
            self._resolution = recorded
        if space != self._resolution:
            raise ValueError(
                f"{type(self).__name__} has a kernel of fixed size in grid points and cannot change resolution: "
                f"it was built for the grid {self._resolution}, got {space}. Use it at that resolution, or "
                f"choose a resolution-free mixer (spectral, aff, rpe-attention, karat)"
            )


class WeightedConv(FixedResolution):
    """Periodic convolution whose kernel is weighted by a spatial density over the offsets (module docs).

    Parameters
    ----------
    in_channels, out_channels : int
    dim : int
        Spatial dimension (1-3).
    kernel_size : int
        Odd.
    density : sequence of float or None
        ``r(1), ..., r(k // 2)`` of the per-axis density (``r(0) = 1``); None: uniform (1 everywhere).
    learn_density : bool
        Whether ``r`` is a parameter (initialized at ``density``) or fixed.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dim: int,
        kernel_size: int = 3,
        density: Sequence[float] | None = None,
        learn_density: bool = False,
    ) -> None:
        super().__init__()
        k = check_kernel_size(kernel_size)
        half = k // 2
        values = [1.0] * half if density is None else [float(v) for v in density]
        if len(values) != half:
            raise ValueError(f"density={density} must give {half} values r(1)..r({half}) for kernel_size={k}")
        bound = 1.0 / math.sqrt(in_channels * k**dim)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *([k] * dim)).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.zeros(out_channels))
        r = torch.tensor(values)
        self.density = nn.Parameter(r) if learn_density else None
        if not learn_density:
            self.register_buffer("fixed_density", r)
        self.dim = int(dim)
        self.init_resolution(self.dim)

    def profile(self) -> torch.Tensor:
        """The per-axis density ``[r(h), .., r(1), 1, r(1), .., r(h)]``."""
        r = self.density if self.density is not None else self.fixed_density
        one = torch.ones(1, dtype=r.dtype, device=r.device)
        return torch.cat([r.flip(0), one, r])

    def kernel(self) -> torch.Tensor:
        """``W * rho``, ``rho`` the tensor product of the per-axis profile."""
        p = self.profile().to(self.weight.dtype)
        rho = p
        for _ in range(self.dim - 1):
            rho = rho[..., None] * p
        return self.weight * rho

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_resolution(x.shape[2:])
        return periodic_conv(x, self.kernel(), self.bias)
