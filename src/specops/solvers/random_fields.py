"""Random initial conditions and coefficients, one seed per sample.

Every sampler has ``sample(seeds, *, dtype, device) -> Tensor (len(seeds), *shape)`` and
``parameters() -> dict``. Sample ``i`` depends only on ``seeds[i]`` (each seed drives its own CPU
generator, and no operation mixes samples), so any sample can be regenerated alone and a batch equals its
samples drawn one at a time, bit for bit. Seeds are checked by ``specops.seeding.check_seeds``.

- ``GaussianRandomField``: periodic GRF, the FNO Burgers and Navier-Stokes initial conditions;
- ``CosineRandomField``: GRF on ``[0, 1]^d`` with the Neumann (cosine) Karhunen-Loeve basis, the FNO
  Darcy coefficient field before thresholding;
- ``ThresholdedField``, ``LognormalField``: pointwise maps of another field (Darcy coefficients);
- ``RandomSines``: sums of a few random sine waves (KdV and KS initial conditions, after Brandstetter et
  al., ICLR 2022).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from specops.seeding import check_seeds
from specops.solvers.base import irfftn, rfftn
from specops.spectral.derivatives import squared_wavenumber


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _spectrum_parameters(
    shape: Sequence[int], max_axes: int, alpha: float, tau: float, sigma: float | None, unit: str
) -> tuple[tuple[int, ...], float, float, float]:
    """Checked ``(shape, alpha, tau, sigma)`` of a ``(-Delta + tau^2)^(-alpha)`` field; ``sigma`` defaults
    to ``tau^(alpha - d/2)``, the FNO data generators' choice."""
    shape = tuple(int(n) for n in shape)
    if not 1 <= len(shape) <= max_axes or any(n < 2 for n in shape):
        raise ValueError(f"shape={tuple(shape)} must have 1 to {max_axes} axes of at least 2 {unit}")
    if tau <= 0 or alpha <= 0:
        raise ValueError(f"alpha={alpha} and tau={tau} must be positive")
    sigma = float(sigma) if sigma is not None else tau ** (alpha - len(shape) / 2.0)
    return shape, float(alpha), float(tau), sigma


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
        self.shape, self.alpha, self.tau, self.sigma = _spectrum_parameters(
            shape, 3, alpha, tau, sigma, "points"
        )
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
        seeds = check_seeds(seeds)
        noise = torch.stack(
            [torch.randn(self.shape, generator=_generator(s), dtype=torch.float64) for s in seeds]
        )
        noise = noise.to(device)
        # White noise through an orthonormal transform gives unit complex normals; the synthesis
        # u = sum_k c_k e^{ikx} is an unnormalised inverse transform: both scalings fold into sqrt(N).
        scale = math.sqrt(math.prod(self.shape))
        coeff = rfftn(noise, len(self.shape)) * (self._amplitude * scale).to(noise.device)
        return irfftn(coeff, self.shape).to(dtype)

    def variance(self) -> float:
        """Pointwise variance of the field, ``sum_k sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)`` on this grid."""
        w = torch.full((self.shape[-1] // 2 + 1,), 2.0, dtype=torch.float64)
        w[0] = 1.0
        if self.shape[-1] % 2 == 0:
            w[-1] = 1.0
        return float((self._amplitude**2 * w).sum())

    def parameters(self) -> dict[str, Any]:
        """JSON-serializable description of the sampler."""
        lengths = self.lengths if isinstance(self.lengths, (int, float)) else list(self.lengths)
        return {
            "sampler": "gaussian_random_field",
            "boundary": "periodic",
            "shape": list(self.shape),
            "alpha": self.alpha,
            "tau": self.tau,
            "sigma": self.sigma,
            "lengths": lengths,
        }

    def __repr__(self) -> str:
        return f"GaussianRandomField(shape={self.shape}, alpha={self.alpha}, tau={self.tau}, sigma={self.sigma:.4g})"


class CosineRandomField:
    """Zero-mean GRF ``N(0, sigma^2 (-Delta_N + tau^2)^(-alpha))`` on ``[0, 1]^d`` with Neumann boundaries.

    Karhunen-Loeve sum over the Neumann eigenfunctions ``phi_k(x) = prod_j c_kj cos(pi k_j x_j)``
    (``c_0 = 1``, ``c_k = sqrt 2``, orthonormal on the unit cube), eigenvalues ``pi^2 |k|^2``:
    ``u(x) = sum_{k != 0, k_j < m} sigma (pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k phi_k(x)``, ``xi_k ~ N(0, 1)``.
    This is the field of the FNO Darcy data (their ``GRF.m``: ``alpha = 2, tau = 3``, ``sigma =
    tau^(alpha - 1)`` in 2D, via an inverse DCT at cell centres), here evaluated at the grid nodes
    ``x_i = i / (n - 1)`` that include the boundary.

    Parameters
    ----------
    shape : sequence of int
        Nodes per dimension (1 or 2 dimensions), boundary nodes included.
    alpha, tau, sigma : float
        As in ``GaussianRandomField``; ``sigma`` defaults to ``tau^(alpha - d/2)``.
    n_modes : int, optional
        Modes per dimension (default: the number of nodes, as in FNO's script).
    """

    def __init__(
        self,
        shape: Sequence[int],
        alpha: float = 2.0,
        tau: float = 3.0,
        sigma: float | None = None,
        n_modes: int | None = None,
    ) -> None:
        self.shape, self.alpha, self.tau, self.sigma = _spectrum_parameters(
            shape, 2, alpha, tau, sigma, "nodes"
        )
        d = len(self.shape)
        self.n_modes = int(n_modes) if n_modes is not None else max(self.shape)
        if self.n_modes < 2:
            raise ValueError(f"n_modes={n_modes} must be at least 2")
        k = torch.arange(self.n_modes, dtype=torch.float64)
        self._bases = []
        for n in self.shape:
            x = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
            basis = torch.cos(math.pi * x[:, None] * k[None, :])
            basis[:, 1:] *= math.sqrt(2.0)
            self._bases.append(basis)  # (n, m)
        k2 = sum((k**2).reshape([-1 if i == axis else 1 for i in range(d)]) for axis in range(d)) * math.pi**2
        amp = self.sigma * (k2 + self.tau**2) ** (-self.alpha / 2.0)
        amp.view(-1)[0] = 0.0
        self._amplitude = amp

    def sample(
        self,
        seeds: Sequence[int],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """One field per seed: shape ``(len(seeds), *shape)``, float64 arithmetic then cast."""
        fields = []
        for s in check_seeds(seeds):
            # One matrix product chain per sample: a batched product could round differently per batch.
            xi = torch.randn(self._amplitude.shape, generator=_generator(s), dtype=torch.float64)
            c = xi * self._amplitude
            if len(self.shape) == 1:
                fields.append(self._bases[0] @ c)
            else:
                fields.append(self._bases[0] @ c @ self._bases[1].T)
        return torch.stack(fields).to(device=device, dtype=dtype)

    def parameters(self) -> dict[str, Any]:
        return {
            "sampler": "cosine_random_field",
            "boundary": "neumann",
            "shape": list(self.shape),
            "alpha": self.alpha,
            "tau": self.tau,
            "sigma": self.sigma,
            "n_modes": self.n_modes,
        }

    def __repr__(self) -> str:
        return f"CosineRandomField(shape={self.shape}, alpha={self.alpha}, tau={self.tau}, n_modes={self.n_modes})"


class ThresholdedField:
    """Piecewise-constant map of a field: ``high`` where ``field >= threshold``, ``low`` elsewhere.

    The FNO Darcy coefficients are ``ThresholdedField(CosineRandomField(..., alpha=2, tau=3), 12, 3)``.
    """

    def __init__(self, field, high: float = 12.0, low: float = 3.0, threshold: float = 0.0) -> None:
        self.field = field
        self.high, self.low, self.threshold = float(high), float(low), float(threshold)
        self.shape = field.shape

    def sample(self, seeds: Sequence[int], *, dtype=torch.float32, device=None) -> torch.Tensor:
        g = self.field.sample(seeds, dtype=torch.float64, device=device)
        return torch.where(g >= self.threshold, self.high, self.low).to(dtype)

    def parameters(self) -> dict[str, Any]:
        return {
            "sampler": "thresholded",
            "high": self.high,
            "low": self.low,
            "threshold": self.threshold,
            "field": self.field.parameters(),
        }


class LognormalField:
    """``exp(mean + scale * field)``: a positive, continuous coefficient field."""

    def __init__(self, field, mean: float = 0.0, scale: float = 1.0) -> None:
        self.field = field
        self.mean, self.scale = float(mean), float(scale)
        self.shape = field.shape

    def sample(self, seeds: Sequence[int], *, dtype=torch.float32, device=None) -> torch.Tensor:
        g = self.field.sample(seeds, dtype=torch.float64, device=device)
        return torch.exp(self.mean + self.scale * g).to(dtype)

    def parameters(self) -> dict[str, Any]:
        return {
            "sampler": "lognormal",
            "mean": self.mean,
            "scale": self.scale,
            "field": self.field.parameters(),
        }


class RandomSines:
    """``u0(x) = sum_{j<J} A_j sin(2 pi l_j x / L + phi_j)`` with random ``A_j``, integer ``l_j``, ``phi_j``.

    ``A_j ~ U(-amplitude, amplitude)``, ``l_j ~ U{1..max_wavenumber}``, ``phi_j ~ U(0, 2 pi)``: the KdV and
    KS initial conditions of Brandstetter, Worrall and Welling (ICLR 2022, sec. 4) with their defaults.

    Parameters
    ----------
    n : int
        Grid points on ``[0, L)``.
    length : float
    n_waves, max_wavenumber : int
    amplitude : float
    """

    def __init__(
        self, n: int, length: float, n_waves: int = 5, max_wavenumber: int = 3, amplitude: float = 0.5
    ) -> None:
        if n < 2 or n_waves < 1 or max_wavenumber < 1 or length <= 0:
            raise ValueError(
                f"RandomSines needs n >= 2, n_waves >= 1, max_wavenumber >= 1, length > 0; got n={n}, "
                f"n_waves={n_waves}, max_wavenumber={max_wavenumber}, length={length}"
            )
        self.shape = (int(n),)
        self.length = float(length)
        self.n_waves, self.max_wavenumber, self.amplitude = (
            int(n_waves),
            int(max_wavenumber),
            float(amplitude),
        )

    def sample(self, seeds: Sequence[int], *, dtype=torch.float32, device=None) -> torch.Tensor:
        x = torch.arange(self.shape[0], dtype=torch.float64) * (self.length / self.shape[0])
        out = []
        for s in check_seeds(seeds):
            g = _generator(s)
            amp = (2 * torch.rand(self.n_waves, generator=g, dtype=torch.float64) - 1) * self.amplitude
            waves = torch.randint(1, self.max_wavenumber + 1, (self.n_waves,), generator=g).to(torch.float64)
            phase = 2 * math.pi * torch.rand(self.n_waves, generator=g, dtype=torch.float64)
            arg = 2 * math.pi * waves[:, None] * x[None, :] / self.length + phase[:, None]
            u = torch.zeros_like(x)
            for j in range(self.n_waves):  # a fixed summation order, whatever the batch
                u = u + amp[j] * torch.sin(arg[j])
            out.append(u)
        return torch.stack(out).to(device=device, dtype=dtype)

    def parameters(self) -> dict[str, Any]:
        return {
            "sampler": "random_sines",
            "n": self.shape[0],
            "length": self.length,
            "n_waves": self.n_waves,
            "max_wavenumber": self.max_wavenumber,
            "amplitude": self.amplitude,
        }
