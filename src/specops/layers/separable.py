"""Factorized (axis-separable) spectral convolution of the F-FNO.

Tran, Mathews, Xie & Ong, "Factorized Fourier Neural Operators", ICLR 2023 (arXiv 2111.13802), eq. (6):

    K(v) = sum_{a=1}^{d} IFFT_a( R_a . FFT_a(v) )

one 1D transform per axis ``a``, the ``m_a`` lowest non-negative frequencies of that axis mixed over channels
by ``R_a`` (complex, ``(C_in, C_out, m_a)``), and back. The weights grow like ``d m C^2`` instead of
``m^d C^2``. Transforms are forward-normalised, so the layer is the same operator on every grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def factorized_weights(in_channels: int, out_channels: int, n_modes: Sequence[int]) -> nn.ParameterList:
    """One complex weight ``(C_in, C_out, m_a, 2)`` (real, imaginary) per axis, Xavier-like scale."""
    std = math.sqrt(2.0 / (in_channels + out_channels))
    return nn.ParameterList(
        nn.Parameter(torch.randn(in_channels, out_channels, int(m), 2) * std / math.sqrt(2)) for m in n_modes
    )


class FactorizedSpectralConv(nn.Module):
    """``sum_a IFFT_a(R_a FFT_a(v))`` over the spatial axes (module docstring).

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : sequence of int
        Non-negative frequencies kept per axis (``m_a <= n_a // 2 + 1``).
    weights : nn.ParameterList, optional
        The per-axis weights (:func:`factorized_weights`); pass the same list to several layers to share
        them (the F-FNO's ``share_weight``). Default: new weights.

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: Sequence[int],
        weights: nn.ParameterList | None = None,
    ) -> None:
        super().__init__()
        self.n_modes = tuple(int(m) for m in n_modes)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.weights = (
            factorized_weights(in_channels, out_channels, self.n_modes) if weights is None else weights
        )
        expected = [(self.in_channels, self.out_channels, m, 2) for m in self.n_modes]
        if [tuple(w.shape) for w in self.weights] != expected:
            raise ValueError(
                f"shared weights have shapes {[tuple(w.shape) for w in self.weights]}, not {expected}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = len(self.n_modes)
        if x.dim() != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"FactorizedSpectralConv input has shape {tuple(x.shape)}; expected (batch, {self.in_channels},"
                f" {d} spatial axes)"
            )
        out = None
        for axis, (m, w) in enumerate(zip(self.n_modes, self.weights)):
            dim, n = 2 + axis, x.shape[2 + axis]
            if m > n // 2 + 1:
                raise ValueError(
                    f"input grid {tuple(x.shape[2:])} is too coarse for n_modes={self.n_modes}: axis {axis} "
                    f"holds {n // 2 + 1} non-negative frequencies; pass a finer grid or fewer modes"
                )
            coeff = torch.fft.rfft(x.movedim(dim, -1), dim=-1, norm="forward")[..., :m]
            mixed = torch.einsum("bi...m,iom->bo...m", coeff, torch.view_as_complex(w))
            y = torch.fft.irfft(mixed, n=n, dim=-1, norm="forward").movedim(-1, dim)
            out = y if out is None else out + y
        return out
