"""Non-uniform Fourier transforms (NUFT) on the unit torus ``[0, 1)^d``, exact and fast.

For points ``x_j`` (``j = 1..N``), values ``c_j`` and the signed frequencies ``k`` of a mode block
(``k_a = -(m_a // 2) .. m_a - m_a // 2 - 1`` per axis, centered order, as ``spectral.fft`` keeps them):

    type 1 (points -> modes):  F(k)   = sum_j w_j c_j exp(-2 pi i k . x_j)       (w_j: quadrature weights)
    type 2 (modes -> points):  u(x_j) = sum_k F(k)   exp(+2 pi i k . x_j)

Type 2 is the adjoint of type 1 (with ``w = 1``). ``direct_type1``/``direct_type2`` sum these in
``O(N K)`` (``K`` modes): the reference. ``GaussianNUFT`` computes the same sums by Gaussian gridding
(Dutt & Rokhlin, SIAM J. Sci. Comput. 14, 1993; Greengard & Lee, "Accelerating the nonuniform fast Fourier
transform", SIAM Review 46, 2004, sec. 2): with ``theta = 2 pi x`` and the periodized Gaussian
``g(theta) = exp(-theta^2 / (4 tau))``, whose Fourier coefficients are ``sqrt(tau/pi) exp(-k^2 tau)``,

    F(k) = sqrt(pi/tau)^d exp(tau |k|^2) * (1/M_r^d) sum_l f_tau(theta_l) exp(-i k . theta_l),
    f_tau(theta_l) = sum_j w_j c_j g(theta_l - theta_j)             (spreading onto ``M_r = R m`` points)

Spreading is truncated to the ``2 M_sp`` nearest grid points per axis and ``tau = pi M_sp / (m^2 R (R -
1/2))`` (Greengard & Lee, eq. 9); with ``R = 2`` the relative error falls about tenfold per unit of
``M_sp``, and ``M_sp`` is chosen from the requested tolerance. Type 2 applies the adjoint of each step
(deconvolve, inverse FFT, interpolate with the same Gaussian weights), so both have the same error.
Cost: ``O(N (2 M_sp)^d + M_r^d log M_r)`` against ``O(N K)`` for the direct sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from specops.layers.spectral_conv import as_modes


def mode_frequencies(n_modes: Sequence[int]) -> list[torch.Tensor]:
    """Signed integer frequencies per axis, centered: ``-(m // 2) .. m - m // 2 - 1``."""
    return [torch.arange(-(m // 2), m - m // 2) for m in n_modes]


def check_points(points: torch.Tensor, dim: int, n: int | None = None, what: str = "points") -> torch.Tensor:
    """``points`` as ``(N, dim)`` or ``(batch, N, dim)`` coordinates in ``[0, 1)^dim``; ``ValueError`` else.

    ``n`` (optional) is the number of points the values carry.
    """
    if not isinstance(points, torch.Tensor) or not points.is_floating_point():
        raise TypeError(
            f"{what} must be a real floating-point tensor of shape (N, {dim}) or (batch, N, {dim})"
        )
    if points.dim() not in (2, 3) or points.shape[-1] != dim:
        raise ValueError(
            f"{what} has shape {tuple(points.shape)}; expected (N, {dim}) or (batch, N, {dim}) coordinates"
        )
    if n is not None and points.shape[-2] != n:
        raise ValueError(
            f"{what} holds {points.shape[-2]} points but the values have {n}; give one per value"
        )
    outside = (points < 0) | (points >= 1) | ~torch.isfinite(points)
    if outside.any():
        bad = outside.any(-1).nonzero()[0].tolist()
        raise ValueError(
            f"{what} lie outside the domain [0, 1)^{dim} (first at index {tuple(bad)}: "
            f"{points[tuple(bad)].tolist()}); rescale the coordinates to the unit box (x - lo) / (hi - lo), "
            f"and wrap periodic ones with x % 1"
        )
    return points


def _phases(points: torch.Tensor, n_modes: Sequence[int]) -> torch.Tensor:
    """``exp(2 pi i k . x_j)`` for all points and modes: ``(..., N, m_1 * ... * m_d)`` complex."""
    ctype = torch.complex128 if points.dtype == torch.float64 else torch.complex64
    e = None
    for a, k in enumerate(mode_frequencies(n_modes)):
        ph = torch.exp(2j * math.pi * points[..., a, None].to(ctype) * k.to(points.device, ctype))
        e = ph if e is None else (e[..., :, None] * ph[..., None, :]).flatten(-2)
    return e


def direct_type1(
    values: torch.Tensor, points: torch.Tensor, n_modes: Sequence[int], weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Type-1 NUFT by direct summation: ``F(k) = sum_j w_j c_j exp(-2 pi i k . x_j)``, ``O(N K)``.

    Parameters
    ----------
    values : (batch, C, N) real or complex
    points : (N, d) or (batch, N, d) in ``[0, 1)^d``
    n_modes : modes per axis
    weights : (N,) or (batch, N), optional; default ``1/N`` (the mean over the points).

    Returns ``(batch, C, *n_modes)`` complex, centered frequencies.
    """
    n_modes = as_modes(n_modes)
    e = _phases(points, n_modes).conj()
    c = _weighted(values, weights).to(e.dtype)
    out = torch.matmul(c, e) if e.dim() == 2 else torch.bmm(c, e)
    return out.reshape(*values.shape[:2], *n_modes)


def direct_type2(modes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Type-2 NUFT by direct summation: ``u(x_j) = sum_k F(k) exp(2 pi i k . x_j)``, ``O(N K)``.

    ``modes`` ``(batch, C, *n_modes)`` complex (centered); returns ``(batch, C, N)`` complex.
    """
    d = points.shape[-1]
    n_modes = tuple(modes.shape[-d:])
    e = _phases(points, n_modes).to(modes.dtype)
    flat = modes.reshape(*modes.shape[:2], -1)
    return torch.matmul(flat, e.transpose(-1, -2)) if e.dim() == 2 else torch.bmm(flat, e.transpose(1, 2))


def _weighted(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return values / values.shape[-1]
    w = weights.to(values.real.dtype if values.is_complex() else values.dtype)
    return values * (w[None, None] if w.dim() == 1 else w[:, None])


class GaussianNUFT:
    """Fast type-1/type-2 NUFT on ``[0, 1)^d`` by Gaussian gridding (formulas in the module docstring).

    Parameters
    ----------
    n_modes : sequence of int
        Modes per axis (centered signed frequencies).
    tol : float
        Target relative error against the direct sums; sets the spreading half-width
        ``M_sp = ceil(-log10(tol)) + 1`` (at least 2), measured to hold in float64 (tests, benchmark).
    oversampling : float
        ``R``: the fine grid has ``M_r = max(ceil(R m), 2 M_sp)`` points per axis (rounded up to even).

    Methods ``type1(values, points, weights)`` and ``type2(modes, points)`` take the shapes of
    ``direct_type1`` / ``direct_type2``; both are differentiable in the values (and the modes).
    """

    def __init__(self, n_modes: Sequence[int], tol: float = 1e-7, oversampling: float = 2.0) -> None:
        self.n_modes = as_modes(n_modes)
        if not 0 < tol < 1:
            raise ValueError(f"tol={tol!r} must lie in (0, 1): the relative error the NUFT should reach")
        if oversampling < 1.5:
            raise ValueError(f"oversampling={oversampling!r} must be at least 1.5 (2 is the usual choice)")
        self.tol = float(tol)
        self.spread = max(2, math.ceil(-math.log10(tol)) + 1)
        self.fine = tuple(max(2 * self.spread, 2 * math.ceil(oversampling * m / 2)) for m in self.n_modes)
        # tau per axis from the actual oversampling ratio R = M_r / m (Greengard & Lee 2004, eq. 9).
        self.tau = tuple(
            math.pi * self.spread / (m * m * (r / m) * (r / m - 0.5)) for m, r in zip(self.n_modes, self.fine)
        )

    @property
    def dim(self) -> int:
        return len(self.n_modes)

    def _padded(self) -> tuple[int, ...]:
        """Fine grid extended by ``2 M_sp - 1`` points per axis, so no stencil wraps around."""
        return tuple(r + 2 * self.spread - 1 for r in self.fine)

    def _stencil(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat indices into the padded grid ``(..., N * P)`` and Gaussian weights ``(..., N, P)``,
        ``P = (2 M_sp)^d``: index = (corner of the point's stencil) + (fixed offset pattern)."""
        offsets = torch.arange(-self.spread + 1, self.spread + 1, device=points.device)
        padded = self._padded()
        base, pattern, weight = None, None, None
        for a, (r, tau, size) in enumerate(zip(self.fine, self.tau, padded)):
            x = points[..., a]
            first = torch.floor(x * r).long()  # stencil of axis a: first + offsets
            theta = 2 * math.pi * (x[..., None] - (first[..., None] + offsets).to(x.dtype) / r)
            w = torch.exp(-theta * theta / (4 * tau))
            corner = first  # padded index of offset -M_sp + 1 is first
            if base is None:
                base, pattern, weight = corner, offsets - offsets[0], w
            else:
                base = base * size + corner
                pattern = (pattern[:, None] * size + (offsets - offsets[0])).flatten()
                weight = (weight[..., :, None] * w[..., None, :]).flatten(-2)
        index = (base[..., None] + pattern).flatten(-2)
        return index, weight

    def _layout(self, index: torch.Tensor) -> torch.Tensor:
        """Row indices into the grid stored points-major: ``(G, B*C)`` for shared points, ``(B*G, C)`` for
        per-sample points (index_add / index_select along the first axis: the fast paths)."""
        if index.dim() == 1:
            return index
        size = math.prod(self._padded())
        return (index + torch.arange(index.shape[0], device=index.device)[:, None] * size).flatten()

    def _fold(self, padded: torch.Tensor) -> torch.Tensor:
        """Add the padded grid's margins onto the periodic fine grid: ``(..., *padded) -> (..., *fine)``."""
        out = padded
        for a, (r, size) in enumerate(zip(self.fine, self._padded())):
            t = torch.remainder(torch.arange(size, device=padded.device) - self.spread + 1, r)
            axis = out.dim() - self.dim + a
            shape = list(out.shape)
            shape[axis] = r
            out = torch.zeros(shape, dtype=out.dtype, device=out.device).index_add(axis, t, out)
        return out

    def _unfold(self, grid: torch.Tensor) -> torch.Tensor:
        """Periodic extension of the fine grid onto the padded one (the adjoint of ``_fold``)."""
        out = grid
        for a, (r, size) in enumerate(zip(self.fine, self._padded())):
            t = torch.remainder(torch.arange(size, device=grid.device) - self.spread + 1, r)
            out = out.index_select(out.dim() - self.dim + a, t)
        return out

    def _deconvolution(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``sqrt(pi/tau)^d exp(tau |k|^2) / M_r^d`` on the mode block (real)."""
        out = None
        for k, r, tau in zip(mode_frequencies(self.n_modes), self.fine, self.tau):
            k = k.to(device, dtype)
            f = math.sqrt(math.pi / tau) * torch.exp(tau * k * k) / r
            out = f if out is None else out[..., None] * f
        return out

    def _fft_slices(self) -> list[torch.Tensor]:
        return [torch.remainder(k, r) for k, r in zip(mode_frequencies(self.n_modes), self.fine)]

    def _check(self, points: torch.Tensor) -> None:
        if points.shape[-1] != self.dim:
            raise ValueError(
                f"points have {points.shape[-1]} coordinates; this NUFT is {self.dim}-dimensional"
            )

    def type1(
        self, values: torch.Tensor, points: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``F(k) = sum_j w_j c_j exp(-2 pi i k . x_j)``: ``(batch, C, N) -> (batch, C, *n_modes)`` complex."""
        self._check(points)
        b, c, n = values.shape
        rdtype = points.dtype
        index, weight = self._stencil(points)
        flat = self._layout(index)
        vals = _weighted(values, weights)
        parts = [vals.real, vals.imag] if vals.is_complex() else [vals]
        padded, size = self._padded(), math.prod(self._padded())
        grids = []
        for part in parts:
            part = part.to(rdtype)
            if weight.dim() == 2:  # shared points: rows (N * P, B * C)
                rows = (part.reshape(b * c, n).t()[:, None, :] * weight[..., None]).reshape(-1, b * c)
                grid = torch.zeros(size, b * c, dtype=rdtype, device=values.device).index_add_(0, flat, rows)
                grid = grid.t().reshape(b, c, *padded)
            else:  # per-sample points: rows (B * N * P, C)
                rows = (part.transpose(1, 2)[:, :, None, :] * weight[..., None]).reshape(-1, c)
                grid = torch.zeros(b * size, c, dtype=rdtype, device=values.device).index_add_(0, flat, rows)
                grid = grid.reshape(b, size, c).transpose(1, 2).reshape(b, c, *padded)
            grids.append(self._fold(grid))
        grid = grids[0] if len(grids) == 1 else torch.complex(grids[0], grids[1])
        spec = torch.fft.fftn(grid, dim=tuple(range(2, 2 + self.dim)))
        for axis, sl in enumerate(self._fft_slices()):
            spec = spec.index_select(2 + axis, sl.to(spec.device))
        return spec * self._deconvolution(rdtype, values.device)

    def type2(self, modes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``u(x_j) = sum_k F(k) exp(2 pi i k . x_j)``: ``(batch, C, *n_modes) -> (batch, C, N)`` complex."""
        self._check(points)
        b, c = modes.shape[:2]
        if tuple(modes.shape[2:]) != self.n_modes:
            raise ValueError(f"modes have shape {tuple(modes.shape)}; expected (batch, C, *{self.n_modes})")
        rdtype = points.dtype
        scaled = modes * self._deconvolution(rdtype, modes.device)
        full = torch.zeros(b, c, *self.fine, dtype=scaled.dtype, device=modes.device)
        grids = torch.meshgrid(*[s.to(modes.device) for s in self._fft_slices()], indexing="ij")
        full[(slice(None), slice(None), *grids)] = scaled
        # adjoint of the forward FFT: sum_k G(k) exp(+i k theta_l) = M_r^d * ifft
        h = self._unfold(torch.fft.ifftn(full, dim=tuple(range(2, 2 + self.dim)), norm="forward"))
        index, weight = self._stencil(points)
        flat = self._layout(index)
        n, p = weight.shape[-2:]
        parts = []
        for part in (h.real, h.imag):  # the adjoint of type 1's spreading, part by part
            if weight.dim() == 2:
                rows = part.reshape(b * c, -1).t().contiguous().index_select(0, flat)  # (N * P, B * C)
                out = (rows.reshape(n, p, b * c) * weight[..., None]).sum(1).t().reshape(b, c, n)
            else:
                grid = part.reshape(b, c, -1).transpose(1, 2).reshape(-1, c)  # (B * G, C)
                rows = grid.index_select(0, flat).reshape(b, n, p, c)
                out = (rows * weight[..., None]).sum(2).transpose(1, 2)
            parts.append(out)
        return torch.complex(parts[0], parts[1])
