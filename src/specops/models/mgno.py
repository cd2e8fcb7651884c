"""MgNO: neural operator whose linear operators are multigrid V-cycles.

He, Liu & Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid", ICLR 2024 (arXiv
2310.19809). A layer is ``u = act(MgConv(f))``; all the linear maps ``W_ij`` of the layer are one
multi-channel V-cycle with learned convolutions:

1. level 0: ``u = S_0 f``, then ``nu_0`` smoothing steps ``u <- u + S (f - A u)``;
2. restriction to level ``l + 1``: ``f <- R (f - A u)``, ``u <- Pi u`` (stride-2 3x3 convolutions), and
   ``nu_l`` smoothing steps there; repeated down to the coarsest level;
3. upward: ``u_l <- u_l + P u_{l+1}`` (transposed convolution, kernel 4, stride 2) and ``mu_l``
   post-smoothing steps;

``A: C_u -> C_f`` and ``S: C_f -> C_u`` 3x3 convolutions with their own weights at every step. There is no
lifting and no projection beyond a final 1x1 convolution; the boundary condition enters through the
padding of every convolution (``zeros``: Dirichlet, ``circular``: periodic).

The kernels are pixels and every level halves the grid, so the model is tied to its training grid
``resolution`` (a multiple of ``2^(levels - 1)``); other grids are resampled in and out
(``specops.layers.resample.NativeGrid``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.resample import NativeGrid
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS

Padding = Literal["zeros", "circular"]
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONVT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class Prolongation(nn.Module):
    """``P``: transposed convolution (kernel 4, stride 2) from ``n`` to ``2n`` points per axis.

    With periodic boundaries the contributions that fall outside the grid wrap around (a circular
    transposed convolution); otherwise they are dropped (zero padding 1).
    """

    def __init__(self, channels: int, dim: int, periodic: bool) -> None:
        super().__init__()
        self.periodic = periodic
        self.conv = _CONVT[dim](channels, channels, 4, stride=2, padding=0 if periodic else 1, bias=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        y = self.conv(u)
        if not self.periodic:
            return y
        for dim in range(2, y.dim()):  # output index i is grid point i - 1: fold points -1 and 2n back
            n = y.shape[dim] - 2
            core = y.narrow(dim, 1, n).clone()
            core.narrow(dim, n - 1, 1).add_(y.narrow(dim, 0, 1))
            core.narrow(dim, 0, 1).add_(y.narrow(dim, n + 1, 1))
            y = core
        return y


class MgConv(nn.Module):
    """One multigrid V-cycle ``f (C_f channels) -> u (C_u channels)`` (module docstring).

    Parameters
    ----------
    f_channels, u_channels : int
    iterations : sequence of (pre, post) pairs
        Smoothing steps before and after the coarse-grid correction, one pair per level (finest first).
    dim : int
    padding : "zeros" or "circular"
    """

    def __init__(
        self,
        f_channels: int,
        u_channels: int,
        iterations: Sequence[Sequence[int]],
        dim: int,
        padding: Padding,
    ) -> None:
        super().__init__()
        conv = _CONV[dim]

        def c3(a: int, b: int, stride: int = 1) -> nn.Module:
            return conv(a, b, 3, stride=stride, padding=1, padding_mode=padding, bias=False)

        self.levels = [(int(pre), int(post)) for pre, post in iterations]
        self.init = c3(f_channels, u_channels)
        self.A = nn.ModuleList()
        self.S = nn.ModuleList()
        self.A_post, self.S_post = nn.ModuleList(), nn.ModuleList()
        for pre, post in self.levels:
            self.A.append(nn.ModuleList(c3(u_channels, f_channels) for _ in range(max(pre, 1))))
            self.S.append(nn.ModuleList(c3(f_channels, u_channels) for _ in range(pre)))
            self.A_post.append(nn.ModuleList(c3(u_channels, f_channels) for _ in range(post)))
            self.S_post.append(nn.ModuleList(c3(f_channels, u_channels) for _ in range(post)))
        n = len(self.levels) - 1
        self.restrict_f = nn.ModuleList(c3(f_channels, f_channels, 2) for _ in range(n))
        self.restrict_u = nn.ModuleList(c3(u_channels, u_channels, 2) for _ in range(n))
        periodic = padding == "circular"
        self.prolong = nn.ModuleList(Prolongation(u_channels, dim, periodic) for _ in range(n))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        u = self.init(f)
        fs, us = [], []
        for level in range(len(self.levels)):
            if level:
                residual = f - self.A[level - 1][-1](u)  # the last smoother's A gives the residual
                f = self.restrict_f[level - 1](residual)
                u = self.restrict_u[level - 1](u)
            for a, s in zip(self.A[level], self.S[level]):
                u = u + s(f - a(u))
            fs.append(f)
            us.append(u)
        for level in reversed(range(len(self.levels) - 1)):
            u = us[level] + self.prolong[level](u)
            for a, s in zip(self.A_post[level], self.S_post[level]):
                u = u + s(fs[level] - a(u))
        return u


@register_model("mgno")
class MgNO(OperatorModel):
    """Multigrid neural operator (module docstring), 1D to 3D (the dimension is ``len(resolution)``).

    Parameters
    ----------
    resolution : sequence of int
        The training grid, a multiple of ``2^(len(iterations) - 1)`` per axis (``specops train`` sets it).
    in_channels, out_channels, hidden_channels : int
    n_layers : int
        V-cycle layers, GELU between them.
    iterations : sequence of (pre, post) pairs
        Smoothing steps per level (finest first); the number of pairs is the number of levels.
    padding : "zeros" or "circular"
        Dirichlet-like or periodic boundaries.
    residual : bool
        Add the input to the output (the paper's Navier-Stokes variant; needs ``in == out`` channels).
    activation : "gelu", "relu", "silu", "tanh" or "identity"

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        resolution: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 24,
        n_layers: int = 4,
        *,
        iterations: Sequence[Sequence[int]] = ((1, 0), (1, 0), (1, 0), (2, 0), (2, 0)),
        padding: Padding = "zeros",
        residual: bool = False,
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        size = tuple(int(n) for n in resolution)
        if len(size) not in _CONV:
            raise ValueError(f"mgno: resolution={list(resolution)} must have 1 to 3 axes (MgNO is 1D-3D)")
        levels = [tuple(int(v) for v in pair) for pair in iterations]
        if not levels or any(len(p) != 2 or min(p) < 0 for p in levels) or levels[0][0] < 1:
            raise ValueError(
                f"mgno: iterations={[list(p) for p in iterations]} must be (pre, post) pairs of counts >= 0, "
                f"one per level, with at least one pre-smoothing step on the finest level"
            )
        if padding not in ("zeros", "circular"):
            raise ValueError(f"mgno: padding={padding!r} is not one of 'zeros', 'circular'")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if int(value) < 1:
                raise ValueError(f"mgno: {name}={value} must be positive")
        if int(hidden_channels) < 1 or int(n_layers) < 1:
            raise ValueError(f"mgno: hidden_channels={hidden_channels}, n_layers={n_layers} must be positive")
        if residual and int(in_channels) != int(out_channels):
            raise ValueError(
                f"mgno: residual=True needs in_channels == out_channels, got {in_channels}, {out_channels}"
            )
        why = f"{len(levels)} multigrid levels each halve the grid"
        self.grid = NativeGrid("mgno", size, self.resolution_divisor(levels), why)
        self.resolution, self.dim = size, len(size)
        self.in_channels, self.out_channels, self.residual = (
            int(in_channels),
            int(out_channels),
            bool(residual),
        )
        width = int(hidden_channels)
        self.cycles = nn.ModuleList(
            MgConv(self.in_channels if i == 0 else width, width, levels, self.dim, padding)
            for i in range(n_layers)
        )
        self.activation = get_activation(activation)
        self.out = _CONV[self.dim](width, self.out_channels, 1)

    @staticmethod
    def resolution_divisor(iterations: Sequence[Sequence[int]] = ((1, 0),) * 5, **_: object) -> int:
        """Every size of ``resolution`` must be a multiple of this (``2^(levels - 1)``)."""
        return 2 ** (len(iterations) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        space = tuple(x.shape[2:])
        f = self.grid.enter(x)
        h = f
        for cycle in self.cycles:
            h = self.activation(cycle(h))
        y = self.out(h) + (f if self.residual else 0)
        return self.grid.leave(y, space)


_PRESETS = {
    "mgno-2d-darcy": (
        {"resolution": [64, 64], "hidden_channels": 24, "n_layers": 4, "padding": "zeros"},
        "MgNO paper's Darcy model: width 24, 4 V-cycle layers, 5 levels (64 -> 4), zero (Dirichlet) padding",
    ),
    "mgno-2d-ns": (
        {
            "resolution": [64, 64],
            "hidden_channels": 32,
            "n_layers": 5,
            "padding": "circular",
            "residual": True,
        },
        "MgNO paper's Navier-Stokes model: width 32, 5 layers, circular padding, input-output residual",
    ),
    "mgno-1d": (
        {"resolution": [64], "hidden_channels": 24, "n_layers": 4, "padding": "circular"},
        "MgNO 1D, periodic: width 24, 4 layers, 5 levels",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, MgNO, defaults=_defaults, description=_doc, family="mgno")
