"""Fourier resampling of periodic fields, and the native grid of models tied to one resolution.

Resampling a field ``u`` sampled at ``x_j = j L / n`` to ``n'`` points keeps its trigonometric interpolant:

    u(x) = sum_{|k| < m/2} c_k exp(2 pi i k x / L) + [m even] c_{m/2} cos(pi m x / L),    m = min(n, n')

with ``c_k`` the forward-normalised DFT coefficients (``c = fft(u) / n``). Upsampling splits the coarse
Nyquist coefficient equally between ``+-m/2`` (so the fine field takes the coarse values at the coarse
points exactly); downsampling folds the fine ``+-m/2`` coefficients into the coarse Nyquist. A field whose
spectrum lies in ``|k| < m/2`` is resampled exactly, in both directions.

Models whose layers are tied to a grid (fixed patches, multigrid levels, pixel-sized kernels) hold a
:class:`NativeGrid`: their input is resampled to the training resolution, the network runs there, and the
output is resampled back, the "input-output interpolation" baseline of Berner et al., "Principled
Approaches for Extending Neural Architectures to Function Spaces" (arXiv 2506.10973).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _resample_axis(x: torch.Tensor, n_new: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    if n == n_new:
        return x
    c = torch.fft.fft(x, dim=dim, norm="forward")
    m = min(n, n_new)
    n_pos, n_neg = (m + 1) // 2, m // 2  # frequencies 0..n_pos-1 and -n_neg..-1 of the smaller grid
    shape = list(c.shape)
    shape[dim] = n_new
    out = c.new_zeros(shape)
    out.narrow(dim, 0, n_pos).copy_(c.narrow(dim, 0, n_pos))
    if n_neg:
        out.narrow(dim, n_new - n_neg, n_neg).copy_(c.narrow(dim, n - n_neg, n_neg))
    if m % 2 == 0:  # the smaller grid's Nyquist frequency m/2, stored at index n_new - m/2 above
        if n < n_new:  # split c_{m/2} between +m/2 and -m/2 (a cosine on the finer grid)
            half = c.narrow(dim, n - n_neg, 1) / 2
            out.narrow(dim, n_new - n_neg, 1).copy_(half)
            out.narrow(dim, m // 2, 1).copy_(half)
        else:  # fold +m/2 into -m/2: what sampling at the coarse points gives
            out.narrow(dim, n_new - n_neg, 1).add_(c.narrow(dim, m // 2, 1))
    return torch.fft.ifft(out, dim=dim, norm="forward").real


def fourier_resample(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``x`` of shape ``(..., *space)`` on the periodic grid of ``shape`` (its last ``len(shape)`` axes).

    The trigonometric interpolant (module docstring), one axis at a time; exact for fields whose modes are
    all below both grids' Nyquist frequencies. Float64 input stays float64.
    """
    d = len(shape)
    if tuple(x.shape[-d:]) == tuple(shape):
        return x
    if any(int(n) < 1 for n in shape):
        raise ValueError(f"shape={tuple(shape)} must have at least one point per axis")
    out = x
    for axis, n in enumerate(shape):
        out = _resample_axis(out, int(n), x.dim() - d + axis)
    return out.to(x.dtype)


def _dirichlet_matrix(n: int, n_new: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(n, n_new)``: values of the trigonometric interpolant of ``n`` nodes at ``n_new`` periodic nodes."""
    x = torch.arange(n, dtype=torch.float64, device=device) / n
    y = torch.arange(n_new, dtype=torch.float64, device=device) / n_new
    delta = 2 * torch.pi * (y[None, :] - x[:, None])
    k = torch.arange(1, (n + 1) // 2, dtype=torch.float64, device=device)
    m = 1 + 2 * torch.cos(delta[..., None] * k).sum(-1)
    if n % 2 == 0:
        m = m + torch.cos(delta * (n // 2))
    return (m / n).to(dtype)


def fourier_interpolate(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``x`` of shape ``(..., *space)`` evaluated on the periodic grid ``shape`` through its trigonometric
    interpolant: exact samples, no low-pass. Equals :func:`fourier_resample` on finer grids; on a grid that
    divides the input's it is plain subsampling (the coarse nodes are input nodes); otherwise the interpolant
    is summed at the new nodes (one ``(n, n')`` matrix per axis).
    """
    d = len(shape)
    out = x
    for axis, n_new in enumerate(int(n) for n in shape):
        dim, n = x.dim() - d + axis, out.shape[x.dim() - d + axis]
        if n_new >= n:
            out = _resample_axis(out, n_new, dim).to(x.dtype)
        elif n % n_new == 0:
            out = out.narrow(dim, 0, n).unfold(dim, 1, n // n_new).squeeze(-1)
        else:
            matrix = _dirichlet_matrix(n, n_new, x.dtype, x.device)
            out = torch.tensordot(out.movedim(dim, -1), matrix, dims=1).movedim(-1, dim)
    return out


class NativeGrid(nn.Module):
    """The resolution a grid-tied model was built for; inputs on other grids are resampled to it and back.

    ``y = I_{n -> n_in}( net( R_{n_in -> n}(x) ) )`` when the input grid ``n_in`` differs from the native grid
    ``n``: ``R`` the Fourier resampling above (a low-pass when coarsening, so the network never sees aliased
    input), ``I`` the trigonometric interpolant of the output evaluated on the caller's grid
    (:func:`fourier_interpolate`: on a coarser grid the output keeps the network's values at shared nodes). ``last_resampled`` records the last input grid that was
    resampled (None when it was native), so evaluation can report it.

    Parameters
    ----------
    model : str
        The model's registered name, for error messages.
    resolution : sequence of int
        Native grid, one size per spatial axis.
    divisor : int
        Every size must be a multiple of it (patches, multigrid levels); a ``ValueError`` names the model,
        the argument and the sizes it supports otherwise.
    why : str
        What ties the model to the grid (stated in the error).
    """

    def __init__(self, model: str, resolution: Sequence[int], divisor: int = 1, why: str = "") -> None:
        super().__init__()
        size = tuple(int(n) for n in resolution)
        if not size or any(n < 1 for n in size):
            raise ValueError(f"{model}: resolution={list(resolution)} must be positive grid sizes")
        bad = [n for n in size if n % divisor]
        if bad:
            raise ValueError(
                f"{model}: resolution={list(size)} is not supported: every size must be a multiple of "
                f"{divisor}{' (' + why + ')' if why else ''}; use e.g. resolution="
                f"{[max(divisor, divisor * round(n / divisor)) for n in size]}"
            )
        self.resolution = size
        self.last_resampled: tuple[int, ...] | None = None

    def enter(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on the native grid (resampled when it is on another)."""
        space = tuple(x.shape[-len(self.resolution) :])
        self.last_resampled = None if space == self.resolution else space
        return x if space == self.resolution else fourier_resample(x, self.resolution)

    def leave(self, y: torch.Tensor, space: Sequence[int]) -> torch.Tensor:
        """The native-grid output ``y`` on the caller's grid ``space`` (its interpolant's values there)."""
        return fourier_interpolate(y, space)

    def extra_repr(self) -> str:
        return f"resolution={list(self.resolution)}"
