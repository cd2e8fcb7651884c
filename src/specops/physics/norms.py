"""Norms of residuals: periodic Sobolev norms come from ``specops.spectral.norms``; this module adds the
Dirichlet (sine-series) Sobolev norm of the Darcy problem, the boundary L2 norm and the mean over frames.

Dirichlet ``H^s`` on ``[0, 1]^2``, for values ``r`` at the interior nodes ``x_i = i h``, ``h = 1 / M``,
``i = 1 .. M - 1``: expand ``r`` in the eigenfunctions ``sin(pi j x) sin(pi k y)`` of the Laplacian,
``r = sum c_jk sin(pi j x_i) sin(pi k y_l)`` (the DST-I, exact for the ``(M - 1)^2`` values), and set

    ``||r||_{H^s}^2 = (1/4) sum_{j,k=1}^{M-1} (alpha + pi^2 (j^2 + k^2))^s c_jk^2``.

For ``s = 0`` this is the discrete L2 norm ``h^2 sum r^2`` exactly (discrete orthogonality of the sines,
``sum_i sin(pi j i / M) sin(pi j' i / M) = (M / 2) delta``); ``s = -1, alpha = 0`` is the dual norm of
``H^1_0`` in which a residual of ``-div(a grad u) = f`` measures the energy error of ``u`` (up to the
bounds of ``a``), the norm Spectral-Refiner uses on periodic domains (Cao et al., ICLR 2025).
"""

from __future__ import annotations

import math

import torch

from specops.losses import safe_root


def dst1(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``X_j = sum_{i=1}^{M-1} x_i sin(pi j i / M)``, ``j = 1 .. M - 1``, along ``dim`` (DST-I, unnormalised).

    Computed from the FFT of the odd extension ``[0, x, 0, -reverse(x)]`` of length ``2 M``, whose
    coefficients are ``-2 i X_j``. Differentiable.
    """
    x = x.movedim(dim, -1)
    zero = torch.zeros_like(x[..., :1])
    ext = torch.cat([zero, x, zero, -x.flip(-1)], dim=-1)
    m1 = x.shape[-1]
    out = -0.5 * torch.fft.rfft(ext, dim=-1).imag[..., 1 : m1 + 1]
    return out.movedim(-1, dim)


def dirichlet_sobolev_norm(
    r: torch.Tensor, s: float = 0.0, alpha: float = 1.0, *, squared: bool = False
) -> torch.Tensor:
    """Sine-series ``H^s`` norm on ``[0, 1]^2`` of interior-node values ``r (*lead, M - 1, M - 1)``, per lead index.

    See the module docstring for the formula. ``alpha`` must be positive for ``s < 0`` unless the
    zero mode is absent (it is: sine modes start at 1, so ``alpha = 0`` is allowed here).
    """
    if r.dim() < 2 or r.shape[-1] != r.shape[-2] or r.shape[-1] < 1:
        raise ValueError(f"r has shape {tuple(r.shape)}; expected (..., m, m) values at the interior nodes")
    if alpha < 0:
        raise ValueError(f"alpha={alpha} must be 0 or more")
    m1 = r.shape[-1]
    dtype = torch.float64 if r.dtype == torch.float64 else torch.float32
    c = dst1(dst1(r.to(dtype), -1), -2) * (2.0 / (m1 + 1)) ** 2
    j = torch.arange(1, m1 + 1, dtype=torch.float64, device=r.device)
    lam = math.pi**2 * (j[:, None] ** 2 + j[None, :] ** 2)
    w = ((alpha + lam) ** s if s != 0 else torch.ones_like(lam)).to(dtype)
    sq = 0.25 * (w * c * c).sum(dim=(-2, -1))
    return sq if squared else safe_root(sq, 2.0)


def boundary_norm(values: torch.Tensor, h: float) -> torch.Tensor:
    """``(h sum values^2)^{1/2}`` per row of ``values (batch, n_boundary)``: the boundary L2 norm."""
    return safe_root(h * values.pow(2).sum(dim=-1), 2.0)


def time_rms(sq: torch.Tensor) -> torch.Tensor:
    """``(mean_n sq_n)^{1/2}`` of squared norms ``sq (batch, time)``: the ``L2(0, T)`` norm over ``sqrt(T)``."""
    return safe_root(sq.mean(dim=1), 2.0)
