"""Transform Once (T1): one transform to a truncated spectrum, layers that stay there, one transform back.

Poli, Massaroli, Berto, Park, Dao, Re & Ermon, "Transform Once: Efficient Operator Learning in the
Frequency Domain", NeurIPS 2022 (arXiv 2211.14453). Two transforms, both resolution independent (the
coefficients of one function sampled on two grids agree):

- :class:`CosineTransform` (real): on the periodic node grid ``x_j = j/n`` of specops' data, the cosine
  coefficients of ``u`` on ``[0, 1]``,

      a_k = lambda_k sum''_{j=0}^{n} u_j cos(pi k j / n) / n,     lambda_0 = 1, lambda_k = 2,

  by the trapezoid rule with the closing node ``u_n = u_0`` (the grid is periodic); this is the DCT-I of
  the closed grid, exact for cosine series of periodic fields and O(h^2) accurate otherwise. The synthesis
  is ``u_j = sum_k a_k cos(pi k j / n)``. (The paper's DCT-II samples cell centres ``(j + 1/2)/n``; on node
  grids that reading shifts the field by half a cell, by a different amount on each grid.)
- :class:`FourierTransform` (complex): the kept modes of the forward-normalised rFFT
  (``specops.spectral.fft.rfft_modes``), synthesised by ``irfft_modes``.

Both are forward-normalised (``scale`` multiplies the coefficients; ``sqrt(N)`` gives orthonormal units on a
grid of ``N`` points).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from specops.spectral.fft import irfft_modes, modes_shape, rfft_modes


@functools.lru_cache(maxsize=32)
def _cosine_matrices(n: int, m: int, dtype: torch.dtype, device: torch.device):
    j = torch.arange(n, dtype=torch.float64, device=device)
    k = torch.arange(m, dtype=torch.float64, device=device)
    cos = torch.cos(math.pi * j[:, None] * k[None, :] / n)  # (n, m)
    weight = torch.ones(n, m, dtype=torch.float64, device=device)
    weight[0] = (1 + (-1.0) ** k) / 2  # node 0 and its periodic image, node n, weighted 1/2 each
    lam = torch.full((m,), 2.0, dtype=torch.float64, device=device)
    lam[0] = 1.0
    analysis = weight * cos * lam / n
    return analysis.to(dtype), cos.t().contiguous().to(dtype)


def _along(x: torch.Tensor, matrix: torch.Tensor, dim: int) -> torch.Tensor:
    """Contract axis ``dim`` of ``x`` with the first axis of ``matrix``."""
    return torch.tensordot(x.movedim(dim, -1), matrix, dims=1).movedim(-1, dim)


class CosineTransform(nn.Module):
    """Real cosine coefficients ``a_k, k < m`` per axis (module docstring), and the synthesis back.

    Parameters
    ----------
    n_modes : sequence of int
        Coefficients kept per axis.
    scale : float
        Multiplies the coefficients (``sqrt(N)``: orthonormal units on a grid of ``N`` points).
    """

    is_complex = False

    def __init__(self, n_modes: Sequence[int], scale: float = 1.0) -> None:
        super().__init__()
        self.n_modes = tuple(int(m) for m in n_modes)
        self.scale = float(scale)

    @property
    def modes_shape(self) -> tuple[int, ...]:
        return self.n_modes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = len(self.n_modes)
        for axis, m in enumerate(self.n_modes):
            dim = x.dim() - d + axis
            if x.shape[dim] < m:
                raise ValueError(f"grid {tuple(x.shape[-d:])} has fewer than n_modes={self.n_modes} points")
            analysis, _ = _cosine_matrices(x.shape[dim], m, x.dtype, x.device)
            x = _along(x, analysis, dim)
        return x * self.scale

    def inverse(self, a: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        d = len(self.n_modes)
        for axis, (n, m) in enumerate(zip(shape, self.n_modes)):
            _, synthesis = _cosine_matrices(int(n), m, a.dtype, a.device)
            a = _along(a, synthesis, a.dim() - d + axis)
        return a / self.scale


class FourierTransform(nn.Module):
    """Complex Fourier coefficients of the kept modes (``rfft_modes`` layout), and the synthesis back."""

    is_complex = True

    def __init__(self, n_modes: Sequence[int], scale: float = 1.0) -> None:
        super().__init__()
        self.n_modes = tuple(int(m) for m in n_modes)
        self.scale = float(scale)

    @property
    def modes_shape(self) -> tuple[int, ...]:
        return modes_shape(self.n_modes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rfft_modes(x, self.n_modes) * self.scale

    def inverse(self, a: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        return irfft_modes(a / self.scale, shape)


def split_complex(act: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``act`` applied to real and imaginary parts separately: ``act(Re z) + i act(Im z)``."""

    def apply(z: torch.Tensor) -> torch.Tensor:
        return torch.complex(act(z.real), act(z.imag))

    return apply


class T1Layer(nn.Module):
    """``z <- z + act(W_ch z) x_1 S_1 ... x_d S_d`` on a block of spectral coefficients.

    ``W_ch`` mixes channels per mode (``(C, C, *modes)``), ``S_a`` mixes the modes of axis ``a`` per channel
    (``(C, m_a, m_a)``). Real weights for the cosine transform, complex for the Fourier one.

    Parameters
    ----------
    channels : int
    modes_shape : sequence of int
        Shape of the coefficient block.
    is_complex : bool
        Complex coefficients and weights.
    activation : callable
        On coefficients (for complex ones, wrap it in :func:`split_complex`).
    channel_std : float
        Standard deviation of ``W_ch`` (the variance-preserving value, see ``specops.models.t1``).

    The mode-mixing matrices start with standard deviation ``1/sqrt(m_a)`` (the paper's ``sqrt(1/fan_in)``).
    """

    def __init__(
        self,
        channels: int,
        modes_shape: Sequence[int],
        is_complex: bool,
        activation: Callable[[torch.Tensor], torch.Tensor],
        channel_std: float,
    ) -> None:
        super().__init__()
        modes = tuple(int(m) for m in modes_shape)
        parts = (2,) if is_complex else ()
        self.is_complex = bool(is_complex)
        self.channel_weight = nn.Parameter(torch.randn(channels, channels, *modes, *parts) * channel_std)
        self.mode_weights = nn.ParameterList(
            nn.Parameter(torch.randn(channels, m, m, *parts) / math.sqrt(m)) for m in modes
        )
        self.activation = activation
        letters = "xyz"[: len(modes)]
        self._channel_eq = f"bi{letters},io{letters}->bo{letters}"
        self._mode_eqs = [
            f"bc{letters},c{a}w->bc{letters.replace(a, 'w')}" for a in letters
        ]  # mode mixing along one axis

    def _w(self, w: torch.Tensor) -> torch.Tensor:
        return torch.view_as_complex(w) if self.is_complex else w

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.activation(torch.einsum(self._channel_eq, z, self._w(self.channel_weight)))
        for eq, s in zip(self._mode_eqs, self.mode_weights):
            h = torch.einsum(eq, h, self._w(s))
        return z + h
