"""LES filters on periodic grids: transfer functions, filtering, and coarse-graining onto an LES grid.

A filter of width ``Delta`` acts on a periodic field by multiplying its Fourier coefficients with a
transfer function ``G(k)`` (Pope, "Turbulent Flows", 2000, sec. 13.2, table 13.2):

- spectral cut-off: ``G(k) = prod_i H(k_c - |k_i|)``, ``k_c = pi / Delta`` (the modes of a grid of spacing
  ``Delta``, Nyquist excluded);
- box (top hat): ``G(k) = prod_i sin(k_i Delta / 2) / (k_i Delta / 2)``, the average over a cube of side
  ``Delta`` (exact for every mode: the box average of ``exp(i k x)`` is this factor times the mode);
- Gaussian: ``G(k) = exp(-|k|^2 Delta^2 / 24)`` (the second moment of the kernel equals the box's).

Filtered DNS on an LES grid (``coarse_grain``) is the filtered field sampled on a grid ``ratio`` times
coarser, ``Delta = ratio * dx``: the Fourier modes ``|k_i| < n_i / (2 ratio)`` of the filtered field are
kept (exact sampling for the cut-off filter; for the box and Gaussian filters the discarded modes are
those the LES grid cannot hold). Every filter is linear and diagonal in Fourier space, so it commutes with
derivatives and keeps a divergence-free field divergence-free.

``smooth_perturbation`` draws low-pass Gaussian random fields (white noise cut to the lowest quarter of the
modes per axis, unit rms per field): the background and model errors of the filters in
``specops.assimilation`` and the input noise of ``train.input_noise``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

from specops.spectral.grid import per_dim, wavenumbers

FilterKind = Literal["cutoff", "box", "gaussian"]
FILTERS: tuple[str, ...] = ("cutoff", "box", "gaussian")


def _axis_wavenumbers(shape: Sequence[int], lengths: Sequence[float], device=None) -> list[torch.Tensor]:
    out = []
    for axis, (n, length) in enumerate(zip(shape, lengths)):
        k = wavenumbers(n, length, real=axis == len(shape) - 1, device=device).abs()
        view = [1] * len(shape)
        view[axis] = k.numel()
        out.append(k.reshape(view))
    return out


def transfer_function(
    kind: FilterKind,
    shape: Sequence[int],
    lengths: Sequence[float] | float,
    width: float,
    *,
    device=None,
) -> torch.Tensor:
    """``G(k)`` of the filter ``kind`` of width ``width`` on the ``rfftn`` grid of ``shape`` (float64).

    Parameters
    ----------
    kind : "cutoff", "box" or "gaussian"
        See the module docstring for each ``G``.
    shape : sequence of int
        The grid of the field to filter.
    lengths : float or sequence of float
        Box side lengths.
    width : float
        Filter width ``Delta`` (> 0).
    """
    if kind not in FILTERS:
        raise ValueError(f"filter={kind!r} is not one of {FILTERS}; e.g. --set les_filter=box")
    if not float(width) > 0:
        raise ValueError(f"width={width} must be positive (the filter width Delta)")
    lengths = per_dim(lengths, len(shape), "lengths")
    ks = _axis_wavenumbers(shape, lengths, device)
    if kind == "cutoff":
        kc = math.pi / float(width)
        g = torch.ones((), dtype=torch.float64, device=device)
        for k in ks:
            g = g * (k < kc * (1 - 1e-12)).to(torch.float64)
        return g
    if kind == "box":
        g = torch.ones((), dtype=torch.float64, device=device)
        for k in ks:
            g = g * torch.sinc(k * float(width) / (2 * math.pi))  # torch.sinc(x) = sin(pi x) / (pi x)
        return g
    return torch.exp(-sum(k * k for k in ks) * float(width) ** 2 / 24.0)


def apply_filter(
    u: torch.Tensor, kind: FilterKind, width: float, ndim: int, lengths: Sequence[float] | float
) -> torch.Tensor:
    """The filtered field ``F^-1[G(k) F[u]]`` over the last ``ndim`` axes of ``u`` (same grid and dtype)."""
    space = tuple(u.shape[-ndim:])
    g = transfer_function(kind, space, lengths, width, device=u.device).to(u.dtype)
    dims = tuple(range(-ndim, 0))
    return torch.fft.irfftn(torch.fft.rfftn(u, dim=dims) * g, s=space, dim=dims)


def spectral_truncate(u: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Sample a periodic field on a coarser grid ``shape`` through its Fourier modes ``|k_i| < m_i / 2``
    (the modes both grids hold, Nyquist of the coarse grid dropped), over the last ``len(shape)`` axes."""
    ndim = len(shape)
    fine = tuple(u.shape[-ndim:])
    if any(m > n for m, n in zip(shape, fine)):
        raise ValueError(f"shape={tuple(shape)} must not be finer than the field's grid {fine}")
    dims = tuple(range(-ndim, 0))
    coef = torch.fft.rfftn(u, dim=dims, norm="forward")
    out_shape = (*coef.shape[:-ndim], *shape[:-1], shape[-1] // 2 + 1)
    out = coef.new_zeros(out_shape)
    index_in, index_out = [], []
    for axis, (n, m) in enumerate(zip(fine, shape)):
        keep = (m - 1) // 2
        if axis == ndim - 1:
            index_in.append(torch.arange(keep + 1))
            index_out.append(torch.arange(keep + 1))
        else:
            pos, neg = torch.arange(keep + 1), torch.arange(-keep, 0)
            index_in.append(torch.cat([pos, neg % n]))
            index_out.append(torch.cat([pos, neg % m]))
    grid_in = torch.meshgrid(*index_in, indexing="ij")
    grid_out = torch.meshgrid(*index_out, indexing="ij")
    out[(..., *grid_out)] = coef[(..., *grid_in)]
    return torch.fft.irfftn(out, s=tuple(shape), dim=dims, norm="forward")


def coarse_grain(
    u: torch.Tensor, kind: FilterKind, ratio: int, ndim: int, lengths: Sequence[float] | float
) -> torch.Tensor:
    """Filtered DNS on the LES grid: filter ``u`` with width ``Delta = ratio * dx`` and sample it on the grid
    ``ratio`` times coarser (``spectral_truncate``); ``ratio`` must divide every axis.

    Parameters
    ----------
    u : Tensor ``(..., n_1, ..., n_d)``
    kind : "cutoff", "box" or "gaussian"
    ratio : int
        Fine points per coarse point along each axis.
    """
    space = tuple(u.shape[-ndim:])
    ratio = int(ratio)
    if ratio < 1 or any(n % ratio for n in space):
        raise ValueError(
            f"the filter ratio {ratio} does not divide the DNS grid {space}; choose an LES grid (les_grid) "
            f"that divides it, e.g. {space[0] // 2}"
        )
    lengths = per_dim(lengths, ndim, "lengths")
    width = ratio * lengths[0] / space[0]
    return spectral_truncate(apply_filter(u, kind, width, ndim, lengths), [n // ratio for n in space])


def smooth_perturbation(
    shape: Sequence[int], ndim: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Gaussian noise of ``shape`` kept on the lowest quarter of Fourier modes per axis, unit rms per field.

    The background error of the data-assimilation filters: white noise at every node would excite the grid scale, which a
    stiff solver (KS, Navier-Stokes) damps in one step anyway but which can destabilise its explicit terms.
    """
    noise = torch.randn(tuple(shape), generator=generator, dtype=torch.float64)
    dims = tuple(range(-ndim, 0))
    spec = torch.fft.rfftn(noise, dim=dims)
    for axis, n in enumerate(shape[-ndim:]):
        k = torch.fft.rfftfreq(n) if axis == ndim - 1 else torch.fft.fftfreq(n).abs()
        keep = (k * n <= max(1, n // 8)).to(spec.dtype)
        spec = spec * keep.reshape([-1] + [1] * (ndim - 1 - axis))
    smooth = torch.fft.irfftn(spec, s=tuple(shape[-ndim:]), dim=dims)
    rms = smooth.flatten(-ndim).pow(2).mean(-1).sqrt().clamp(min=1e-300)
    return (smooth / rms.reshape(*rms.shape, *([1] * ndim))).to(dtype)
