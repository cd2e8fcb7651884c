"""Viscous Burgers equation ``u_t + (u^2 / 2)_x = nu u_xx`` on a periodic interval."""

from __future__ import annotations

from typing import Any

import torch

from specops.registry import EQUATIONS
from specops.solvers.base import QuadraticFlux1D


class Burgers(QuadraticFlux1D):
    """Viscous Burgers equation ``u_t + u u_x = nu u_xx``, periodic on ``[0, L)``, pseudo-spectral.

    Split as ``N(u) = -(u^2 / 2)_x`` (explicit, 2/3 de-aliased) and ``L = nu d^2/dx^2``, symbol
    ``-nu k^2`` (implicit). The mean of ``u`` (its mass) is conserved. Smooth for every ``nu > 0``; the
    FNO benchmark uses ``nu = 0.1`` on the unit interval (Li et al., ICLR 2021).

    Stability: with the diffusion implicit (or exponential), explicit steppers need the advective CFL
    condition ``dt <= C dx / max|u|`` only.

    Parameters
    ----------
    n : int
        Grid points.
    viscosity : float
        ``nu > 0``.
    length : float
        Period ``L``.
    dealias : float, Tensor or None
        See ``PeriodicEquation``.
    """

    name = "burgers"
    formula = "u_t + u u_x = nu u_xx"

    def __init__(
        self,
        n: int,
        viscosity: float = 0.1,
        length: float = 1.0,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        if not viscosity > 0:
            raise ValueError(f"viscosity={viscosity} must be positive")
        super().__init__(n, length, 1.0, dealias)
        self.viscosity = float(viscosity)

    def linear_symbol(self, device=None) -> torch.Tensor:
        return -self.viscosity * self.squared_wavenumber(device=device)

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "viscosity": self.viscosity}


EQUATIONS.register("burgers", Burgers)
