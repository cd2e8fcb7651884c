"""2D incompressible Navier-Stokes in vorticity form on a periodic box, pseudo-spectral."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from specops.registry import EQUATIONS
from specops.solvers.base import PeriodicEquation, complex_dtype, irfftn, rfftn


class FNOForcing:
    """The forcing of the FNO Navier-Stokes data, ``f = a (sin 2 pi k (x + y) / L + cos 2 pi k (x + y) / L)``.

    ``a = 0.1, k = 1`` on the unit torus is the field of Li et al. (ICLR 2021, sec. 5.3) and of its data
    generator ``ns_2d.py``; torch-cfd calls it ``SinCosForcing``. It acts on the vorticity directly.
    """

    def __init__(self, amplitude: float = 0.1, wavenumber: int = 1) -> None:
        self.amplitude = float(amplitude)
        self.wavenumber = int(wavenumber)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lengths: Sequence[float]) -> torch.Tensor:
        """Vorticity forcing on the mesh ``x, y`` (float64, shape ``(n_x, n_y)``)."""
        phase = 2 * math.pi * self.wavenumber * (x / lengths[0] + y / lengths[1])
        return self.amplitude * (torch.sin(phase) + torch.cos(phase))

    def parameters(self) -> dict[str, Any]:
        return {"type": "fno", "amplitude": self.amplitude, "wavenumber": self.wavenumber}


class KolmogorovForcing:
    """Kolmogorov forcing: the body force ``a sin(2 pi k y / L_y)`` along x, i.e. vorticity forcing
    ``-a (2 pi k / L_y) cos(2 pi k y / L_y)``.

    With ``k = 4, a = 1`` on ``[0, 2 pi)^2``, drag 0.1 and ``nu = 1e-3`` this is the turbulent flow of
    Kochkov et al. (PNAS 2021) after Boffetta and Ecke (2012); set the drag on ``NavierStokes2D``.
    """

    def __init__(self, amplitude: float = 1.0, wavenumber: int = 4) -> None:
        self.amplitude = float(amplitude)
        self.wavenumber = int(wavenumber)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lengths: Sequence[float]) -> torch.Tensor:
        k = 2 * math.pi * self.wavenumber / lengths[1]
        return -self.amplitude * k * torch.cos(k * y) + 0.0 * x

    def parameters(self) -> dict[str, Any]:
        return {"type": "kolmogorov", "amplitude": self.amplitude, "wavenumber": self.wavenumber}


class NavierStokes2D(PeriodicEquation):
    """Incompressible 2D Navier-Stokes, vorticity form: ``w_t + u . grad w = nu lap w - mu w + f``.

    The velocity is ``u = (psi_y, -psi_x)`` with the stream function ``-lap psi = w`` (zero mean), on the
    box ``[0, L_x) x [0, L_y)`` with axis -2 as x and axis -1 as y. Split as ``N(w) = f - P[u . grad w]``
    (explicit; ``P`` the 2/3 de-aliasing of the product, computed from the four fields ``psi_y, -psi_x,
    w_x, w_y`` in one batched inverse FFT) and ``L = -nu |k|^2 - mu`` (implicit). The mean vorticity is
    conserved when ``f`` has zero mean and ``mu = 0``; unforced, the enstrophy and energy only decay.

    Stability: the IMEX steppers need the advective CFL condition ``dt <= C dx / max|u|`` (C about 0.5 to
    1 for the RK4 scheme); the diffusion and drag are implicit and impose no limit.

    Parameters
    ----------
    n : int or (int, int)
        Grid points per axis.
    viscosity : float
        ``nu >= 0`` (1e-3, 1e-4, 1e-5 in the FNO benchmarks).
    forcing : callable or None
        ``forcing(x, y, lengths) -> f`` on the mesh, e.g. ``FNOForcing()``, ``KolmogorovForcing()``; None
        for free decay.
    drag : float
        Linear drag ``mu >= 0``.
    lengths : float or (float, float)
        Box size (1: the unit torus of the FNO data; ``2 pi`` for Kolmogorov flow).
    dealias : float, Tensor or None
        See ``PeriodicEquation``.
    """

    name = "navier_stokes"
    formula = "w_t + u . grad w = nu lap w - mu w + f, u = curl psi, -lap psi = w"

    def __init__(
        self,
        n: int | Sequence[int],
        viscosity: float = 1e-3,
        forcing=None,
        drag: float = 0.0,
        lengths: float | Sequence[float] = 1.0,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        shape = (int(n), int(n)) if isinstance(n, int) else tuple(int(s) for s in n)
        if len(shape) != 2:
            raise ValueError(f"n={n}: NavierStokes2D needs one grid size or two")
        if viscosity < 0 or drag < 0:
            raise ValueError(f"viscosity={viscosity} and drag={drag} must be non-negative")
        if forcing is not None and not callable(forcing):
            raise ValueError(f"forcing={forcing!r} must be callable as forcing(x, y, lengths) or None")
        super().__init__(shape, lengths, dealias)
        self.viscosity = float(viscosity)
        self.drag = float(drag)
        self.forcing = forcing

    def linear_symbol(self, device=None) -> torch.Tensor:
        return -self.viscosity * self.squared_wavenumber(device=device) - self.drag

    def _build_constants(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        kx, ky = (k.expand(self.spectral_shape) for k in self.wavenumbers(odd=True, device=device))
        k2 = self.squared_wavenumber(device=device)
        inv_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
        # psi_y, -psi_x, w_x, w_y from w_hat: purely imaginary factors (exact products, see ``cmul``).
        factors = torch.stack([ky * inv_k2, -kx * inv_k2, kx, ky])
        consts = {
            "velocity_gradient": torch.complex(torch.zeros_like(factors), factors).to(complex_dtype(dtype))
        }
        mask = torch.ones(self.spectral_shape, dtype=torch.float64) if self._mask is None else self._mask
        consts["minus_mask"] = (-mask.to(torch.float64)).to(device=device, dtype=dtype)
        if self.forcing is not None:
            x, y = torch.meshgrid(*self.coordinates(dtype=torch.float64, device=device), indexing="ij")
            f = self.forcing(x, y, self.lengths).to(torch.float64)
            if tuple(f.shape) != self.shape:
                raise ValueError(
                    f"forcing returned shape {tuple(f.shape)}; expected the grid shape {self.shape}"
                )
            consts["forcing"] = torch.fft.rfftn(f).to(complex_dtype(dtype))
        return consts

    def _explicit(self, w_hat: torch.Tensor, t: float, consts: dict[str, torch.Tensor]) -> torch.Tensor:
        fields = irfftn(w_hat * consts["velocity_gradient"], self.shape)  # (B, 4, n, m): u, v, w_x, w_y
        u, v, wx, wy = fields.unbind(dim=1)
        # In-place updates of fresh temporaries: fewer large allocations, which cost page faults on CPUs.
        advection = (u * wx).addcmul_(v, wy)
        out = rfftn(advection.unsqueeze(1), 2)
        forcing = consts.get("forcing")
        if forcing is None:
            return out.mul_(consts["minus_mask"])
        return torch.addcmul(forcing, out, consts["minus_mask"])  # f - P[u . grad w], one pass

    def velocity(self, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity ``(u, v)`` on the grid from vorticity coefficients, each ``(batch, n_x, n_y)``."""
        consts = self.constants(w_hat.real.dtype, w_hat.device)
        fields = irfftn(w_hat * consts["velocity_gradient"][:2], self.shape)
        return fields[:, 0], fields[:, 1]

    def max_speed(self, w_hat: torch.Tensor) -> torch.Tensor:
        u, v = self.velocity(w_hat)
        return (u * u + v * v).sqrt().flatten(1).amax(dim=1)

    def energy(self, w: torch.Tensor) -> torch.Tensor:
        """Kinetic energy ``(1/2) int |u|^2`` per sample of physical vorticity ``(batch, 1, n_x, n_y)``."""
        u, v = self.velocity(self.to_spectral(w))
        area = self.lengths[0] * self.lengths[1]
        return 0.5 * (u * u + v * v).flatten(1).mean(dim=1) * area

    def parameters(self) -> dict[str, Any]:
        forcing = None
        if self.forcing is not None:
            params = getattr(self.forcing, "parameters", None)
            forcing = params() if callable(params) else repr(self.forcing)
        return {**super().parameters(), "viscosity": self.viscosity, "drag": self.drag, "forcing": forcing}


EQUATIONS.register("navier_stokes", NavierStokes2D)
