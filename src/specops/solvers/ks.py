"""Kuramoto-Sivashinsky equation ``u_t + u u_x + u_xx + nu u_xxxx = 0`` on a periodic interval."""

from __future__ import annotations

import math
from typing import Any

import torch

from specops.registry import EQUATIONS
from specops.solvers.base import QuadraticFlux1D


class KuramotoSivashinsky(QuadraticFlux1D):
    """Kuramoto-Sivashinsky equation ``u_t + u u_x + u_xx + nu u_xxxx = 0``, periodic, pseudo-spectral.

    Split as ``N(u) = -(u^2 / 2)_x`` (explicit, 2/3 de-aliased) and the linear symbol ``k^2 - nu k^4``
    (implicit or exponential): modes with ``k^2 < 1 / nu`` grow, shorter ones are damped as ``k^4``, so the
    problem is stiff and chaotic for long domains. The default domain ``L = 32 pi`` and the exponential
    integrator ETDRK4 follow Kassam and Trefethen (SIAM J. Sci. Comput. 26, 2005, sec. 6).

    Stability: ETDRK4 is stable for ``dt`` up to about 1 at ``L = 32 pi, n = 128`` (their choice is 1/4);
    IMEX steppers need ``dt <= C dx / max|u|``.
    """

    name = "ks"
    formula = "u_t + u u_x + u_xx + nu u_xxxx = 0"

    def __init__(
        self,
        n: int,
        length: float = 32 * math.pi,
        hyperviscosity: float = 1.0,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        if not hyperviscosity > 0:
            raise ValueError(f"hyperviscosity={hyperviscosity} must be positive")
        super().__init__(n, length, 1.0, dealias)
        self.hyperviscosity = float(hyperviscosity)

    def linear_symbol(self, device=None) -> torch.Tensor:
        k2 = self.squared_wavenumber(device=device)
        return k2 - self.hyperviscosity * k2**2

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "hyperviscosity": self.hyperviscosity}


EQUATIONS.register("ks", KuramotoSivashinsky)
