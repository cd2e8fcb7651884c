"""Operator input and output on irregular points through the non-uniform Fourier transform.

``NUFTInput``: point values ``c_j = a(x_j)`` -> the band-limited field ``a_K(y) = Re sum_k F(k) exp(2 pi i
k . y)`` on a regular grid, the modes ``F(k)`` of ``a`` obtained from the points either by quadrature
(``F = type1(c, w)``, the Fourier integral with weights ``w_j``: ``1/N`` for uniform random points, cell
areas or lumped vertex areas for a mesh) or by least squares (``F = argmin sum_j |type2(F)(x_j) - c_j|^2``,
solved by conjugate gradients on ``A A^H F = A c`` with ``A`` the type-1 transform; exact for a band-limited
``a`` once the points determine the modes). ``NUFTOutput``: a field on a regular grid -> its kept modes
(FFT) -> its values at arbitrary points (type 2): exact for a field band-limited to the kept modes.

Together they put any grid operator (an FNO) on point clouds, as the Geo-FNO / NUFNO line of work does
(Li et al., "Fourier Neural Operator with Learned Deformations for PDEs on General Geometries", JMLR 2023;
Lin et al., "Non-equispaced Fourier Neural Solvers for PDEs", 2022). The transforms are ``GaussianNUFT``
(``specops.layers.nuft``), within ``tol`` of direct summation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from specops.layers.nuft import GaussianNUFT, check_points
from specops.layers.spectral_conv import as_modes

Fit = Literal["quadrature", "least-squares"]
FITS = ("quadrature", "least-squares")


def odd_modes(n_modes: Sequence[int], name: str = "n_modes") -> tuple[int, ...]:
    """``n_modes`` checked odd: the kept frequencies ``-K..K`` are then symmetric, as a real field needs."""
    n_modes = as_modes(n_modes, name)
    if any(m % 2 == 0 for m in n_modes):
        raise ValueError(
            f"{name}={n_modes} must be odd numbers (frequencies -K..K, symmetric for real fields); "
            f"use {tuple(m + 1 - m % 2 for m in n_modes)}"
        )
    return n_modes


def modes_to_grid(modes: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``Re sum_k F(k) exp(2 pi i k . y)`` on the regular grid ``shape`` of ``[0, 1)^d`` (centered modes)."""
    d = len(shape)
    n_modes = modes.shape[-d:]
    if any(n < m for n, m in zip(shape, n_modes)):
        raise ValueError(
            f"a grid of {tuple(shape)} points cannot hold n_modes={tuple(n_modes)}; use a finer grid"
        )
    full = torch.zeros(*modes.shape[:-d], *shape, dtype=modes.dtype, device=modes.device)
    index = [
        torch.remainder(torch.arange(-(m // 2), m - m // 2, device=modes.device), n)
        for m, n in zip(n_modes, shape)
    ]
    full[(..., *torch.meshgrid(*index, indexing="ij"))] = modes
    return torch.fft.ifftn(full, dim=tuple(range(-d, 0)), norm="forward").real


def grid_to_modes(field: torch.Tensor, n_modes: Sequence[int]) -> torch.Tensor:
    """Fourier coefficients ``(1/n^d) sum_y f(y) exp(-2 pi i k . y)`` of a grid field on the centered modes."""
    d = len(n_modes)
    shape = field.shape[-d:]
    if any(n < m for n, m in zip(shape, n_modes)):
        raise ValueError(f"a grid of {tuple(shape)} points does not hold n_modes={tuple(n_modes)}")
    spec = torch.fft.fftn(field, dim=tuple(range(-d, 0)), norm="forward")
    for a, (m, n) in enumerate(zip(n_modes, shape)):
        index = torch.remainder(torch.arange(-(m // 2), m - m // 2, device=field.device), n)
        spec = spec.index_select(field.dim() - d + a, index)
    return spec


def cell_weights(points: torch.Tensor, cells: int) -> torch.Tensor:
    """Quadrature weights from the point density: ``w_j = 1 / (cells^d n(Q_j))``, ``n(Q_j)`` the number of
    points in the cell ``Q_j`` of a regular ``cells^d`` partition of ``[0, 1)^d`` holding ``x_j``.

    Each non-empty cell gets its area, shared among its points: the Riemann sum of the cells, which for
    random points is far more accurate than the mean ``1/N`` (density compensation, as in non-Cartesian
    MRI reconstruction: Pipe & Menon, Magn. Reson. Med. 41, 1999). ``points`` ``(N, d)`` or
    ``(batch, N, d)``; returns ``(N,)`` or ``(batch, N)``.
    """
    d = points.shape[-1]
    cell = torch.clamp((points * cells).long(), 0, cells - 1)
    flat = torch.zeros_like(cell[..., 0])
    for a in range(d):
        flat = flat * cells + cell[..., a]
    batched = flat if flat.dim() == 2 else flat[None]
    ones = torch.ones_like(batched, dtype=points.dtype)
    counts = torch.zeros(batched.shape[0], cells**d, dtype=points.dtype, device=points.device)
    counts = counts.scatter_add(1, batched, ones).gather(1, batched)
    w = 1.0 / (cells**d * counts)
    return w if flat.dim() == 2 else w[0]


class NUFTInput(nn.Module):
    """Point values -> a band-limited field on a regular grid (formulas in the module docstring).

    Parameters
    ----------
    n_modes : sequence of odd int
        Modes ``-K..K`` per axis taken from the points.
    grid : sequence of int
        The regular grid the field is returned on (at least ``n_modes`` points per axis).
    fit : "quadrature" or "least-squares"
        How the modes are obtained from the points.
    tol : float
        Accuracy of the NUFT (and the residual at which least squares stops).
    max_iter : int
        Conjugate-gradient iterations at most (least squares).

    ``forward(values, points, weights=None)``: ``values`` ``(batch, C, N)``, ``points`` ``(N, d)`` or
    ``(batch, N, d)`` in ``[0, 1)^d``, ``weights`` ``(N,)`` or ``(batch, N)`` quadrature weights (default
    ``1/N``; quadrature only). Returns ``(batch, C, *grid)``.
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        grid: Sequence[int],
        fit: Fit = "quadrature",
        tol: float = 1e-7,
        max_iter: int = 100,
    ) -> None:
        super().__init__()
        self.n_modes = odd_modes(n_modes)
        self.grid = as_modes(grid, "grid")
        if len(self.grid) != len(self.n_modes) or any(g < m for g, m in zip(self.grid, self.n_modes)):
            raise ValueError(
                f"grid={self.grid} must have one size per axis of n_modes={self.n_modes}, each >= it"
            )
        if fit not in FITS:
            raise ValueError(f"fit={fit!r} must be one of {FITS}")
        self.fit = fit
        self.max_iter = int(max_iter)
        self.nuft = GaussianNUFT(self.n_modes, tol)
        self._modes = self._quadrature if fit == "quadrature" else self._least_squares

    def _quadrature(self, values, points, weights):
        return self.nuft.type1(values, points, weights)

    def _least_squares(self, values, points, weights):
        """Conjugate gradients on ``A A^H F = A c`` (A: type 1 without weights), per batch and channel."""
        if weights is not None:
            raise ValueError("weights are quadrature weights; fit='least-squares' takes none")
        ones = torch.ones(values.shape[-1], dtype=points.dtype, device=points.device)
        nuft = self.nuft

        def normal(f):
            return nuft.type1(nuft.type2(f, points), points, ones)

        rhs = nuft.type1(values, points, ones)
        f = torch.zeros_like(rhs)
        r = rhs
        p = r
        rr = _dot(r, r)
        stop = (self.nuft.tol**2) * _dot(rhs, rhs)
        for _ in range(self.max_iter):
            if bool((rr <= stop).all()):
                break
            ap = normal(p)
            alpha = rr / _dot(p, ap).clamp_min(torch.finfo(rr.dtype).tiny)
            f = f + alpha * p
            r = r - alpha * ap
            rr_new = _dot(r, r)
            p = r + (rr_new / rr.clamp_min(torch.finfo(rr.dtype).tiny)) * p
            rr = rr_new
        return f

    def forward(
        self, values: torch.Tensor, points: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        if values.dim() != 3:
            raise ValueError(f"values have shape {tuple(values.shape)}; expected (batch, channels, points)")
        check_points(points, len(self.n_modes), values.shape[-1])
        return modes_to_grid(self._modes(values.to(points.dtype), points, weights), self.grid).to(
            values.dtype
        )

    def extra_repr(self) -> str:
        return f"n_modes={self.n_modes}, grid={self.grid}, fit={self.fit!r}, tol={self.nuft.tol}"


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``Re <a, b>`` over the mode axes, kept as ``(batch, C, 1, ...)`` for broadcasting."""
    d = a.dim() - 2
    return (a.conj() * b).real.sum(dim=tuple(range(2, 2 + d)), keepdim=True)


class NUFTOutput(nn.Module):
    """A field on a regular grid -> its values at arbitrary points through its kept modes.

    ``u(x_j) = Re sum_k U(k) exp(2 pi i k . x_j)``, ``U`` the grid field's Fourier coefficients on the odd
    mode block ``n_modes``: band-limited interpolation, exact when the field has no other modes.

    ``forward(field, points)``: ``field`` ``(batch, C, *space)``, ``points`` ``(N, d)`` or ``(batch, N, d)``
    in ``[0, 1)^d``; returns ``(batch, C, N)``.
    """

    def __init__(self, n_modes: Sequence[int], tol: float = 1e-7) -> None:
        super().__init__()
        self.n_modes = odd_modes(n_modes)
        self.nuft = GaussianNUFT(self.n_modes, tol)

    def forward(self, field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        d = len(self.n_modes)
        if field.dim() != d + 2:
            raise ValueError(
                f"field has shape {tuple(field.shape)}; expected (batch, channels, {d} spatial axes)"
            )
        check_points(points, d)
        modes = grid_to_modes(field.to(points.dtype), self.n_modes)
        return self.nuft.type2(modes, points).real.to(field.dtype)

    def extra_repr(self) -> str:
        return f"n_modes={self.n_modes}, tol={self.nuft.tol}"
