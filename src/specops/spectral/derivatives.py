"""Spectral derivatives on periodic grids (exact for trigonometric polynomials the grid resolves)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from specops.spectral.grid import per_dim, wavenumbers


def spectral_derivative(u: torch.Tensor, order: int = 1, dim: int = -1, length: float = 1.0) -> torch.Tensor:
    """``d^order u / dx^order`` along ``dim`` of a real periodic field, by FFT.

    The Nyquist mode of an even grid is zeroed for odd orders, where its derivative is not real.

    Parameters
    ----------
    u : Tensor, real, any shape
    order : int >= 0
    dim : int
        Spatial dimension to differentiate along.
    length : float
        Period of that dimension.
    """
    if order < 0:
        raise ValueError(f"order={order} must be a non-negative integer")
    n = u.shape[dim]
    k = wavenumbers(n, length, real=True, device=u.device)
    factor = (1j * k) ** order
    if order % 2 == 1 and n % 2 == 0:
        factor[-1] = 0
    shape = [1] * u.dim()
    shape[dim] = k.numel()
    cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
    uh = torch.fft.rfft(u, dim=dim)
    return torch.fft.irfft(uh * factor.to(cdtype).reshape(shape), n=n, dim=dim).to(u.dtype)


def gradient(u: torch.Tensor, ndim: int, lengths: Sequence[float] | float = 1.0) -> list[torch.Tensor]:
    """Spectral gradient over the last ``ndim`` dimensions: a list of ``ndim`` partial derivatives."""
    lengths = per_dim(lengths, ndim, "lengths")
    return [spectral_derivative(u, 1, dim=u.dim() - ndim + i, length=lengths[i]) for i in range(ndim)]


def laplacian(u: torch.Tensor, ndim: int, lengths: Sequence[float] | float = 1.0) -> torch.Tensor:
    """Spectral Laplacian over the last ``ndim`` dimensions: ``-|k|^2 u_hat``."""
    lengths = per_dim(lengths, ndim, "lengths")
    dims = tuple(range(-ndim, 0))
    k2 = squared_wavenumber(u.shape[-ndim:], lengths, device=u.device)
    cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
    uh = torch.fft.rfftn(u, dim=dims)
    return torch.fft.irfftn(-k2.to(cdtype) * uh, s=u.shape[-ndim:], dim=dims).to(u.dtype)


def squared_wavenumber(
    shape: Sequence[int], lengths: Sequence[float] | float = 1.0, *, device=None
) -> torch.Tensor:
    """``|k|^2`` (angular) on the ``rfftn`` grid of ``shape``, float64."""
    lengths = per_dim(lengths, len(shape), "lengths")
    total = None
    for axis, (n, length) in enumerate(zip(shape, lengths)):
        last = axis == len(shape) - 1
        k = wavenumbers(n, length, real=last, device=device) ** 2
        view = [1] * len(shape)
        view[axis] = k.numel()
        k = k.reshape(view)
        total = k if total is None else total + k
    return total
