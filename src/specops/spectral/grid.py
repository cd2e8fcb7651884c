"""Uniform periodic grids and their wavenumbers."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def grid_coordinates(
    shape: Sequence[int],
    lengths: Sequence[float] | float = 1.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """Node coordinates of a uniform periodic grid, one 1D tensor per dimension.

    ``x_j = j * L / n`` for ``j = 0 .. n-1``: the right end point is the periodic image of 0.

    Parameters
    ----------
    shape : sequence of int
        Points per dimension.
    lengths : float or sequence of float
        Domain length per dimension (default 1, the unit torus).
    """
    lengths = per_dim(lengths, len(shape), "lengths")
    return [
        torch.arange(n, dtype=torch.float64, device=device).mul_(length / n).to(dtype)
        for n, length in zip(shape, lengths)
    ]


def meshgrid(
    shape: Sequence[int],
    lengths: Sequence[float] | float = 1.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """Coordinate arrays of shape ``shape`` (``indexing='ij'``), one per dimension."""
    return list(torch.meshgrid(*grid_coordinates(shape, lengths, dtype=dtype, device=device), indexing="ij"))


def wavenumbers(
    n: int,
    length: float = 1.0,
    *,
    real: bool = False,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Angular wavenumbers ``2*pi*k/L`` in FFT order (``rfft`` order when ``real``).

    The Nyquist entry of an even ``n`` is returned with the sign FFT libraries give it (negative for a
    full FFT, positive for ``rfft``). Callers that differentiate must zero it for odd derivatives.
    """
    freq = torch.fft.rfftfreq(n, d=1.0 / n) if real else torch.fft.fftfreq(n, d=1.0 / n)
    return (2 * torch.pi / length) * freq.to(dtype=dtype, device=device)


def per_dim(value: Sequence[float] | float, ndim: int, name: str) -> list[float]:
    """One float per dimension: a number repeated ``ndim`` times, or a sequence of exactly ``ndim`` numbers.

    Parameters
    ----------
    value : float or sequence of float
        A per-dimension quantity (domain lengths, padding fractions, ...).
    ndim : int
        Number of spatial dimensions.
    name : str
        The argument's name, for the error message when the count is wrong.
    """
    if isinstance(value, (int, float)):
        return [float(value)] * ndim
    value = [float(v) for v in value]
    if len(value) != ndim:
        raise ValueError(f"{name} has {len(value)} entries {value}, expected one per dimension ({ndim})")
    return value
