"""Korteweg-de Vries equation ``u_t + a u u_x + b u_xxx = 0`` on a periodic interval."""

from __future__ import annotations

from typing import Any

import torch

from specops.registry import EQUATIONS
from specops.solvers.base import QuadraticFlux1D


class KdV(QuadraticFlux1D):
    """Korteweg-de Vries equation ``u_t + a u u_x + b u_xxx = 0``, periodic on ``[0, L)``, pseudo-spectral.

    Split as ``N(u) = -(a / 2)(u^2)_x`` (explicit, 2/3 de-aliased) and ``L = -b d^3/dx^3`` with the purely
    imaginary symbol ``i b k^3`` (implicit or exponential: it is stiff, ``|L| ~ (pi / dx)^3``), zero at the
    Nyquist mode of even grids like every odd derivative here. Mass
    ``int u`` and momentum ``int u^2`` are invariants. With ``a = 6, b = 1`` the soliton of speed ``c`` is
    ``u = (c / 2) sech^2(sqrt(c) / 2 (x - c t - x0))`` (``reference.kdv_soliton``).

    Stability: ETDRK4 and the IMEX steppers treat the dispersion exactly or A-stably; the explicit part needs
    ``dt <= C dx / (a max|u|)``.

    Parameters
    ----------
    n : int
        Grid points.
    nonlinearity, dispersion : float
        ``a`` and ``b``.
    length : float
        Period ``L``.
    """

    name = "kdv"
    formula = "u_t + a u u_x + b u_xxx = 0"

    def __init__(
        self,
        n: int,
        nonlinearity: float = 6.0,
        dispersion: float = 1.0,
        length: float = 40.0,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        super().__init__(n, length, nonlinearity, dealias)
        self.nonlinearity = float(nonlinearity)
        self.dispersion = float(dispersion)

    def linear_symbol(self, device=None) -> torch.Tensor:
        # an odd derivative: the Nyquist mode of an even grid has none that is real, so its symbol is 0
        (k,) = self.wavenumbers(odd=True, device=device)
        return torch.complex(torch.zeros_like(k), self.dispersion * k**3)

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "nonlinearity": self.nonlinearity, "dispersion": self.dispersion}


EQUATIONS.register("kdv", KdV)
