"""Gaussian random fields on periodic grids, the initial conditions and coefficients of the FNO benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from specops.spectral.derivatives import squared_wavenumber


class GaussianRandomField:
    """Zero-mean Gaussian random field ``N(0, sigma^2 (-Delta + tau^2)^(-alpha))`` on the periodic box.

    A sample is ``u = sum_k sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k e^{2 pi i k.x}`` with ``xi_k``
    standard complex normal (Hermitian), on ``[0, L)^d``; the mean mode is zero. ``sigma`` defaults to
    ``tau^(alpha - d/2)``, the FNO data generators' choice (Li et al. 2021): their Navier-Stokes initial
    vorticity is ``alpha=2.5, tau=7`` in 2D, their Burgers initial condition ``alpha=2, tau=5, sigma=25``.

    Every sample has its own seed: sample ``i`` of ``sample(seeds=...)`` depends only on ``seeds[i]``, so any
    single sample can be regenerated alone, and a batch equals its samples drawn one at a time.

    Parameters
    ----------
    shape : sequence of int
        Grid points per dimension (1, 2 or 3 dimensions).
    alpha, tau : float
        Smoothness and inverse length scale.
    sigma : float, optional
        Amplitude (default ``tau ** (alpha - d / 2)``).
    lengths : float or sequence
        Domain lengths (the wavenumbers are ``2 pi k / L``).
    """

    def __init__(
        self,
        shape: Sequence[int],
        alpha: float = 2.0,
        tau: float = 3.0,
        sigma: float | None = None,
        lengths: Sequence[float] | float = 1.0,
    ) -> None:
        self.shape = tuple(int(n) for n in shape)
        if not 1 <= len(self.shape) <= 3 or any(n < 2 for n in self.shape):
            raise ValueError(f"shape={shape} must have 1 to 3 axes of at least 2 points")
        if tau <= 0 or alpha <= 0:
            raise ValueError(f"alpha={alpha} and tau={tau} must be positive")
        self.alpha, self.tau = float(alpha), float(tau)
        d = len(self.shape)
        self.sigma = float(sigma) if sigma is not None else tau ** (alpha - d / 2.0)
        self.lengths = lengths
        k2 = squared_wavenumber(self.shape, lengths)
        amp = self.sigma * (k2 + self.tau**2) ** (-self.alpha / 2.0)
        amp.view(-1)[0] = 0.0  # zero mean
        self._amplitude = amp

    def sample(
        self,
        seeds: Sequence[int],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """One field per seed: shape ``(len(seeds), *shape)``, computed in float64 then cast."""
        noise = torch.stack(
            [
                torch.randn(self.shape, generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64)
                for s in seeds
            ]
        ).to(device)
        dims = tuple(range(1, len(self.shape) + 1))
        coeff = torch.fft.rfftn(noise, dim=dims, norm="ortho") * self._amplitude.to(noise.device)
        field = torch.fft.irfftn(coeff, s=self.shape, dim=dims, norm="forward")
        return field.to(dtype)

    def variance(self) -> float:
        """Pointwise variance of the field, ``sum_k sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)`` on this grid."""
        w = torch.full((self.shape[-1] // 2 + 1,), 2.0, dtype=torch.float64)
        w[0] = 1.0
        if self.shape[-1] % 2 == 0:
            w[-1] = 1.0
        return float((self._amplitude**2 * w).sum())

    def __repr__(self) -> str:
        return f"GaussianRandomField(shape={self.shape}, alpha={self.alpha}, tau={self.tau}, sigma={self.sigma:.4g})"
