"""FNO variants: the FNO on irregular points (``nuft-fno``) and presets with other mixers.

The FNO on irregular points: NUFT input, an FNO on a latent regular grid, NUFT output.

``u(y_i) = Re sum_k U(k) exp(2 pi i k . y_i)``, ``U = F[FNO(a_K)]`` on the kept modes, where ``a_K`` is the
band-limited field on the latent grid whose modes come from the point values ``a(x_j)`` by a type-1 NUFT
(quadrature or least squares): ``specops.layers.nuft_layers``. The same idea as Geo-FNO's NUFT encoder (Li
et al., JMLR 2023) and NUFNO (Lin et al., 2022), with the points on the unit box and no learned deformation.

Presets: the FNO family with another mixer in its blocks (``specops.layers.mixers``), and the FNO on
irregular points (``nuft-fno-2d``).

The attention presets are small transformer operators: attention mixer + linear skip + channel MLP with
layer norms, the block of a pre-norm-free transformer, acting on the points of the grid. Only
resolution-free mixers have presets (every preset is checked to give the same function at two
resolutions); the pixel-kernel mixers (``ffc``, ``fdconv``, ``weighted-conv``) are chosen with
``mixer=...`` on ``fno``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from specops.layers.nuft_layers import NUFTInput, NUFTOutput, odd_modes
from specops.layers.spectral_conv import as_modes
from specops.models.base import OperatorModel, register_model
from specops.models.fno import FNO
from specops.registry import MODELS


def grid_points(space: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Coordinates ``i / n`` of a regular grid on ``[0, 1)^d``, flattened in C order: ``(prod(space), d)``."""
    axes = [torch.arange(n, dtype=dtype, device=device) / n for n in space]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(space))


@register_model("nuft-fno")
class NUFTFNO(OperatorModel):
    """An FNO that takes and returns fields at arbitrary points of ``[0, 1)^d`` (module docstring).

    Parameters
    ----------
    n_modes, in_channels, out_channels, hidden_channels, n_layers
        Of the inner FNO (``n_modes`` sets the dimension).
    latent_grid : sequence of int, optional
        The regular grid the FNO runs on (default ``2 * max(n_modes)`` per axis, at least 16).
    nuft_modes : sequence of odd int, optional
        Modes the NUFTs carry between points and grid (default: the latent grid's size, minus one where even).
    fit : "quadrature" or "least-squares"
        How the input modes are obtained from the points (``NUFTInput``).
    tol : float
        Accuracy of the NUFTs.
    fno : mapping, optional
        Further FNO arguments (``block``, ``spectral``, ``mixer``, ``domain_padding``, ...).

    ``forward(x, points=None, out_points=None, weights=None)``: ``x`` ``(batch, in_channels, N)`` values at
    ``points`` ``(N, d)`` or ``(batch, N, d)``; returns ``(batch, out_channels, M)`` at ``out_points``
    (default ``points``). With ``points=None``, ``x`` is a regular grid ``(batch, C, *space)`` and so is the
    output.
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 32,
        n_layers: int = 4,
        *,
        latent_grid: Sequence[int] | None = None,
        nuft_modes: Sequence[int] | None = None,
        fit: str = "quadrature",
        tol: float = 1e-7,
        fno: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        n_modes = as_modes(n_modes)
        self.dim = len(n_modes)
        side = max(16, 2 * max(n_modes))
        grid = as_modes(latent_grid if latent_grid is not None else [side] * self.dim, "latent_grid")
        if len(grid) != self.dim:
            raise ValueError(f"latent_grid={grid} must have one size per axis of n_modes={n_modes}")
        modes = odd_modes(
            nuft_modes if nuft_modes is not None else [g - 1 if g % 2 == 0 else g for g in grid]
        )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.latent_grid = grid
        self.encode = NUFTInput(modes, grid, fit=fit, tol=tol)
        self.fno = FNO(n_modes, in_channels, out_channels, hidden_channels, n_layers, **dict(fno or {}))
        self.decode = NUFTOutput(modes, tol=tol)

    def forward(
        self,
        x: torch.Tensor,
        points: torch.Tensor | None = None,
        out_points: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if points is None:
            x = self.check_input(x, self.in_channels, self.dim)
            space = x.shape[2:]
            pts = grid_points(space, torch.float64 if x.dtype == torch.float64 else torch.float32, x.device)
            out = self.forward(x.flatten(2), pts, out_points, weights)
            return out if out_points is not None else out.reshape(*out.shape[:2], *space)
        x = self.check_input(x, self.in_channels, 1)
        latent = self.fno(self.encode(x, points, weights))
        return self.decode(latent, points if out_points is None else out_points)


_PRESETS = {
    "fno-2d-aff": (
        FNO,
        "fno",
        {"n_modes": [12, 12], "hidden_channels": 32, "mixer": "aff"},
        "FNO blocks with the AFF adaptive frequency filter as mixer (Huang et al. 2023), width 32",
    ),
    "transformer-2d-rpe": (
        FNO,
        "fno",
        {
            "n_modes": [12, 12],
            "hidden_channels": 32,
            "mixer": "rpe-attention",
            "mixer_options": {"heads": 4, "features": 16},
            "block": {"norm": "layer", "channel_mlp_expansion": 2.0},
        },
        "transformer operator: kernelized attention with FFT relative positions (Luo et al. 2021), width 32",
    ),
    "transformer-2d-karat": (
        FNO,
        "fno",
        {
            "n_modes": [12, 12],
            "hidden_channels": 32,
            "mixer": "karat",
            "mixer_options": {"heads": 4, "order": 8, "landmarks": 8},
            "block": {"norm": "layer", "channel_mlp_expansion": 2.0},
        },
        "transformer operator: Fourier-KArAt attention on 8x8 pooled keys (Maity et al. 2025), width 32",
    ),
    "nuft-fno-2d": (
        NUFTFNO,
        "nuft-fno",
        {"n_modes": [12, 12], "hidden_channels": 32, "latent_grid": [32, 32]},
        "FNO on irregular points of the unit square: NUFT in, FNO on a 32^2 latent grid, NUFT out",
    ),
}
for _name, (_cls, _family, _defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, _cls, defaults=_defaults, description=_doc, family=_family)
