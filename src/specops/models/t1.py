"""Transform Once (T1): lift, one forward transform, every layer in the frequency domain, one inverse.

Poli, Massaroli, Berto, Park, Dao, Re & Ermon, "Transform Once: Efficient Operator Learning in the
Frequency Domain", NeurIPS 2022 (arXiv 2211.14453); recipe in ``specops.layers.t1``:

1. ``h = P a`` (or ``P [a, x]`` with the grid coordinates): a pointwise lifting to ``hidden_channels``;
2. ``z = T h``: one truncated transform (cosine, real weights; or Fourier, complex weights), ``n_modes``
   coefficients per axis;
3. ``n_layers`` :class:`~specops.layers.t1.T1Layer`: ``z <- z + act(W_ch z) x_1 S_1 ... x_d S_d``;
4. head in k-space: ``z <- sin(z W_1) W_2``;
5. ``u = T^{-1} z`` on the input's grid: the only inverse transform, skipped by :meth:`T1.coefficients`
   (train in k-space with :meth:`T1.kspace_loss`).

The coefficients are forward-normalised (``c_0`` is the mean), the same on every grid; with the paper's
orthonormal units (``sqrt(N)`` larger) the sine head saturates and training stalls (measured on Darcy).
Variance-preserving initialisation (the paper's ``init_fn``): the channel weights have standard deviation
``sqrt(N / (C_in * 2 M))`` (cosine) or ``sqrt(N / (C_in * (4 M + 4)))`` (Fourier), ``N`` the points of the
training grid (``resolution``), ``M`` the product of ``n_modes``; ``init="naive"`` uses FNO's
``1 / (C_in C_out)``. The paper's head starts at 1e-8 (a zero map); ``head_init_std`` gives that choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.embeddings import GridEmbedding
from specops.layers.mlp import PointwiseLinear
from specops.layers.t1 import CosineTransform, FourierTransform, T1Layer, split_complex
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS

Transform = Literal["dct", "dft"]
Init = Literal["vp", "naive"]
_TRANSFORMS = {"dct": CosineTransform, "dft": FourierTransform}


class _ModeLinear(nn.Module):
    """Pointwise channel map ``z W`` on real or complex coefficients ``(B, C_in, *modes)``."""

    def __init__(self, c_in: int, c_out: int, is_complex: bool, std: float) -> None:
        super().__init__()
        self.is_complex = is_complex
        self.weight = nn.Parameter(torch.randn(c_in, c_out, *((2,) if is_complex else ())) * std)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = torch.view_as_complex(self.weight) if self.is_complex else self.weight
        return torch.einsum("bi...,io->bo...", z, w)


@register_model("t1")
class T1(OperatorModel):
    """Transform Once operator (module docstring), 1D to 3D.

    Parameters
    ----------
    n_modes : sequence of int
        Coefficients kept per axis (the model's dimension is ``len(n_modes)``).
    in_channels, out_channels, hidden_channels, n_layers : int
    transform : "dct" or "dft"
        Real cosine transform with real weights, or the Fourier transform with complex weights.
    resolution : sequence of int, optional
        The training grid: ``N`` of the variance-preserving initialisation. Default: twice ``n_modes``. The
        model runs on any grid with at least ``n_modes`` points per axis.
    activation : "gelu", "relu", "silu", "tanh" or "identity"
        On coefficients (real and imaginary parts separately for ``dft``).
    init : "vp" or "naive"
    positional_embedding : bool
        Lift the grid coordinates with the input (the paper's ``(a, x, y)``). Off by default: the
        coordinates are not periodic, so their truncated spectrum differs from grid to grid by O(h), and
        the cosine and Fourier bases already carry position.
    head_init_std : float, optional
        Standard deviation of the head's weights: default ``1/sqrt(hidden_channels)``; the paper's ``1e-8``
        starts from a zero map, which Adam grows only slowly (60 steps on 32 Darcy samples at 32^2: error
        0.97, against 0.30 with the default and 0.48 for FNO).

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 48,
        n_layers: int = 8,
        *,
        transform: Transform = "dct",
        resolution: Sequence[int] | None = None,
        activation: Activation = "gelu",
        init: Init = "vp",
        positional_embedding: bool = False,
        head_init_std: float | None = None,
    ) -> None:
        super().__init__()
        modes = tuple(int(m) for m in n_modes)
        if not 1 <= len(modes) <= 3 or min(modes) < 1:
            raise ValueError(
                f"t1: n_modes={list(n_modes)} must be 1 to 3 positive counts (T1 supports 1D-3D)"
            )
        if transform not in _TRANSFORMS:
            raise ValueError(f"t1: transform={transform!r} is not one of {sorted(_TRANSFORMS)}")
        if init not in ("vp", "naive"):
            raise ValueError(f"t1: init={init!r} is not one of 'vp', 'naive'")
        grid = tuple(2 * m for m in modes) if resolution is None else tuple(int(n) for n in resolution)
        if len(grid) != len(modes) or min(grid) < 1:
            raise ValueError(f"t1: resolution={list(grid)} must give one positive size per axis of n_modes")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if int(value) < 1:
                raise ValueError(f"t1: {name}={value} must be positive")
        if int(hidden_channels) < 1 or int(n_layers) < 0:
            raise ValueError(f"t1: hidden_channels={hidden_channels}, n_layers={n_layers} must be >= 1, >= 0")
        self.dim = len(modes)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        width = int(hidden_channels)
        n_points, n_coeff = math.prod(grid), math.prod(modes)
        self.transform = _TRANSFORMS[transform](modes)
        is_complex = self.transform.is_complex
        act = get_activation(activation)
        self.activation = split_complex(act) if is_complex else act
        self.head_activation = split_complex(torch.sin) if is_complex else torch.sin
        if init == "naive":
            std = 1.0 / (width * width)
        elif is_complex:
            std = math.sqrt(n_points / (width * (4 * n_coeff + 4)))
        else:
            std = math.sqrt(n_points / (width * 2 * n_coeff))
        self.embedding = GridEmbedding(self.dim) if positional_embedding else None
        self.lift = PointwiseLinear(self.in_channels + (self.dim if positional_embedding else 0), width)
        shape = self.transform.modes_shape
        self.layers = nn.ModuleList(
            T1Layer(width, shape, is_complex, self.activation, std) for _ in range(int(n_layers))
        )
        head_std = 1.0 / math.sqrt(width) if head_init_std is None else float(head_init_std)
        self.head1 = _ModeLinear(width, width, is_complex, head_std)
        self.head2 = _ModeLinear(width, self.out_channels, is_complex, head_std)

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.transform.n_modes

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """The output's coefficients ``(batch, out_channels, *modes)``: everything but the inverse."""
        x = self.check_input(x, self.in_channels, self.dim)
        space = x.shape[2:]
        for n, m in zip(space, self.n_modes):
            if n < m:
                raise ValueError(
                    f"t1: input grid {tuple(space)} has fewer points than n_modes={self.n_modes}"
                )
        if self.embedding is not None:
            grid = self.embedding(space, x.dtype, x.device)
            x = torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1)
        h = self.lift(x)
        z = self.transform(h)
        for layer in self.layers:
            z = layer(z)
        return self.head2(self.head_activation(self.head1(z)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform.inverse(self.coefficients(x), x.shape[2:])

    def kspace_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Relative L2 error in k-space, ``||c(x) - T y|| / ||T y||`` per sample, averaged: the paper's
        training loss, which never runs the inverse transform."""
        c, target = self.coefficients(x), self.transform(y.to(next(self.parameters()).dtype))
        diff = (c - target).flatten(1).abs().norm(dim=1)
        return (diff / target.flatten(1).abs().norm(dim=1).clamp_min(1e-12)).mean()


_PRESETS = {
    "t1-1d": ({"n_modes": [16], "hidden_channels": 48, "n_layers": 4}, "T1 1D (16 cosine modes, width 48)"),
    "t1-2d": (
        {"n_modes": [24, 24], "hidden_channels": 48, "n_layers": 8, "resolution": [64, 64]},
        "T1 paper's Navier-Stokes model: 24x24 cosine modes, width 48, 8 layers, GELU, 64x64 training grid",
    ),
    "t1-2d-dft": (
        {"n_modes": [24, 24], "hidden_channels": 32, "n_layers": 4, "transform": "dft"},
        "T1 2D with the Fourier transform (complex weights), 24x24 modes, width 32",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, T1, defaults=_defaults, description=_doc, family="t1")
