"""Initial velocity fields of 3D periodic turbulence: random solenoidal fields of a given spectrum, Taylor-Green.

Samplers follow ``random_fields``' contract but return vector fields: ``sample(seeds, *, dtype, device) ->
(len(seeds), 3, *shape)`` and ``parameters()``; sample ``i`` depends on ``seeds[i]`` alone.

- ``SolenoidalRandomField``: Rogallo's construction (NASA TM 81315, 1981) in its simplest form: white
  noise, projected onto divergence-free fields, each spherical shell ``k - 1/2 <= |k| < k + 1/2`` (``k``
  in units of ``2 pi / L``) rescaled so that the sample's spectrum is exactly
  ``E(k) = c k^4 exp(-2 (k / k_p)^2)`` (Passot & Pouquet, J. Fluid Mech. 181, 1987) with
  ``sum_k E(k) = E_0``, the energy per unit volume; phases stay random. Modes outside the 2/3 de-aliasing
  mask are zero, so the field is band-limited as the solver keeps it.
- ``TaylorGreen3D``: ``u = A (sin x cos y cos z, -cos x sin y cos z, 0)`` on ``[0, 2 pi)^3`` (Taylor &
  Green, Proc. R. Soc. A 158, 1937), the same for every seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from specops.seeding import check_seeds
from specops.solvers.base import irfftn, rfftn
from specops.spectral.fft import dealias_mask
from specops.spectral.grid import grid_coordinates, per_dim, wavenumbers


def _shape3(shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or any(n < 4 for n in shape):
        raise ValueError(f"shape={shape} must be three axes of at least 4 points")
    return shape  # type: ignore[return-value]


def shell_index(shape: Sequence[int], lengths: Sequence[float]) -> torch.Tensor:
    """Shell ``round(|k| L / 2 pi)`` of every ``rfftn`` mode (``L`` the first side), int64 ``spectral_shape``."""
    ks = []
    for axis, (n, length) in enumerate(zip(shape, lengths)):
        k = wavenumbers(n, length, real=axis == len(shape) - 1)
        view = [1] * len(shape)
        view[axis] = k.numel()
        ks.append(k.reshape(view))
    radius = sum(k * k for k in ks).sqrt() * lengths[0] / (2 * math.pi)
    return torch.round(radius).long()


def rfft_weights(shape: Sequence[int]) -> torch.Tensor:
    """Multiplicity of each ``rfftn`` coefficient in Parseval's sum: 2 except the ``k_z = 0`` and Nyquist planes."""
    w = torch.full((shape[-1] // 2 + 1,), 2.0, dtype=torch.float64)
    w[0] = 1.0
    if shape[-1] % 2 == 0:
        w[-1] = 1.0
    return w


class SolenoidalRandomField:
    """Random divergence-free velocity with the exact spectrum ``E(k) = c k^4 exp(-2 (k / k_p)^2)`` (module docstring).

    Parameters
    ----------
    shape : (int, int, int)
        Grid points per axis.
    peak : float
        ``k_p``, the wavenumber of the spectrum's maximum (units of ``2 pi / L``).
    energy : float
        ``E_0 = <|u|^2> / 2``, the kinetic energy per unit volume.
    lengths : float or 3 floats
        Box sides.
    """

    def __init__(
        self,
        shape: Sequence[int],
        peak: float = 3.0,
        energy: float = 0.5,
        lengths: float | Sequence[float] = 2 * math.pi,
    ) -> None:
        self.shape = _shape3(shape)
        if not float(peak) > 0 or not float(energy) > 0:
            raise ValueError(f"peak={peak} and energy={energy} must be positive")
        self.peak, self.energy = float(peak), float(energy)
        self.lengths = tuple(per_dim(lengths, 3, "lengths"))
        shells = shell_index(self.shape, self.lengths)
        keep = dealias_mask(self.shape) & (shells > 0)
        self._shells = torch.where(keep, shells, 0)
        n_shells = int(self._shells.max()) + 1
        k = torch.arange(n_shells, dtype=torch.float64)
        target = k**4 * torch.exp(-2 * (k / self.peak) ** 2)
        present = torch.zeros(n_shells, dtype=torch.bool)
        present[self._shells[keep].unique()] = True
        target = torch.where(present & (k > 0), target, 0.0)
        if not float(target.sum()) > 0:
            raise ValueError(f"no resolved shell carries energy on the grid {self.shape}; lower peak={peak}")
        self.spectrum = target * (self.energy / target.sum())
        self._weights = rfft_weights(self.shape).expand(keep.shape)
        self._keep = keep

    def sample(
        self, seeds: Sequence[int], *, dtype: torch.dtype = torch.float32, device=None
    ) -> torch.Tensor:
        """One velocity field per seed, ``(len(seeds), 3, *shape)``, computed in float64 then cast."""
        seeds = check_seeds(seeds)
        noise = torch.stack(
            [
                torch.randn(
                    (3, *self.shape), generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64
                )
                for s in seeds
            ]
        )
        uh = rfftn(noise, 3) * self._keep
        ks = []
        for axis, (n, length) in enumerate(zip(self.shape, self.lengths)):
            k = wavenumbers(n, length, real=axis == 2)
            if n % 2 == 0:
                k[n // 2] = 0.0
            view = [1, 1, 1]
            view[axis] = k.numel()
            ks.append(k.reshape(view).expand(self._keep.shape))
        k = torch.stack(ks)
        k2 = (k * k).sum(0)
        k2 = torch.where(k2 > 0, k2, 1.0)
        uh = uh - k * ((uh * k).sum(dim=1, keepdim=True) / k2)  # Leray projection
        # shell energies of each sample: E_s = 1/2 sum w |u_hat / N|^2 over the shell
        n_points = math.prod(self.shape)
        power = 0.5 * (uh.abs() ** 2).sum(dim=1) * self._weights / n_points**2
        n_shells = self.spectrum.numel()
        current = torch.zeros(len(seeds), n_shells, dtype=torch.float64)
        current.index_add_(1, self._shells.flatten(), power.flatten(1))
        scale = torch.where(current > 0, (self.spectrum / torch.where(current > 0, current, 1.0)).sqrt(), 0.0)
        uh = uh * scale[:, self._shells].unsqueeze(1)
        return irfftn(uh, self.shape).to(dtype=dtype, device=device)

    def parameters(self) -> dict[str, Any]:
        return {
            "sampler": "solenoidal_random_field",
            "spectrum": "E(k) = c k^4 exp(-2 (k / k_p)^2), exact per shell, 2/3 band-limited",
            "shape": list(self.shape),
            "peak": self.peak,
            "energy": self.energy,
            "lengths": list(self.lengths),
        }


class TaylorGreen3D:
    """The Taylor-Green vortex ``A (sin x cos y cos z, -cos x sin y cos z, 0)`` on ``[0, 2 pi)^3`` (scaled to the
    box), the same field for every seed.

    Parameters
    ----------
    shape : (int, int, int)
    amplitude : float
        ``A``.
    lengths : float or 3 floats
        Box sides; the field has one period per side.
    """

    def __init__(
        self, shape: Sequence[int], amplitude: float = 1.0, lengths: float | Sequence[float] = 2 * math.pi
    ) -> None:
        self.shape = _shape3(shape)
        self.amplitude = float(amplitude)
        self.lengths = tuple(per_dim(lengths, 3, "lengths"))

    def field(self, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
        """The velocity ``(3, *shape)``."""
        x, y, z = torch.meshgrid(
            *[
                c * (2 * math.pi / length)
                for c, length in zip(
                    grid_coordinates(self.shape, self.lengths, dtype=torch.float64), self.lengths
                )
            ],
            indexing="ij",
        )
        a = self.amplitude
        u = a * torch.sin(x) * torch.cos(y) * torch.cos(z)
        v = -a * torch.cos(x) * torch.sin(y) * torch.cos(z)
        return torch.stack([u, v, torch.zeros_like(u)]).to(dtype=dtype, device=device)

    def sample(
        self, seeds: Sequence[int], *, dtype: torch.dtype = torch.float32, device=None
    ) -> torch.Tensor:
        """``(len(seeds), 3, *shape)``: the vortex, repeated."""
        seeds = check_seeds(seeds)
        return self.field(dtype, device).expand(len(seeds), -1, -1, -1, -1).contiguous()

    def parameters(self) -> dict[str, Any]:
        return {
            "sampler": "taylor_green_3d",
            "shape": list(self.shape),
            "amplitude": self.amplitude,
            "lengths": list(self.lengths),
        }
