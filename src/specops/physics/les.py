"""The LES residual of LESnets: filtered Navier-Stokes with a Smagorinsky closure, as a physics loss.

For predicted frames ``u_0 .. u_m`` of the filtered velocity on the LES grid (Zhao et al., "LESnets",
JCP 537, 114125, 2025, eqs. 9-12; their ``train_utils/losses.py``):

    R_n = du/dt|_n - P D[u_n x omega_n - div tau(u_n)] - nu lap u_n,   tau = -2 C_s^2 Delta^2 |S| S,
    L   = ( mean_n ||R_n||^2 + w_div mean_n ||div u_n||^2 )^(1/2)

``P D[...] + nu lap`` is ``NavierStokes3D``'s own right-hand side with a ``Smagorinsky`` closure (the
pressure removed by the Leray projection, the rotational term 2/3 de-aliased), so ``LESResidual`` is an
``EvolutionResidual`` of that equation; ``du/dt`` is the second-order central difference across the frames
(LESnets' choice, ``CentralDiff``) by default. The divergence term keeps predictions solenoidal (the
projection removes only the divergence of the right-hand side). LESnets use a root-free sum of mean squares;
here, as in every ``PhysicsLoss``, the root of it, so the gradient scale does not depend on progress.

``C_s^2`` may be a trainable scalar: ``SmagorinskyCoefficient`` is an ``nn.Module`` whose parameter the
closure uses directly, so the residual's gradient reaches it (LESnets give it its own learning rate).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from specops.losses import safe_root
from specops.physics.residuals import EvolutionResidual
from specops.physics.time import TimeScheme
from specops.solvers.les import Smagorinsky
from specops.solvers.navier_stokes3d import NavierStokes3D
from specops.spectral.norms import sobolev_norm


class SmagorinskyCoefficient(nn.Module):
    """A trainable ``C_s^2`` (initial value ``value``, LESnets' DHIT value 0.01); ``closure`` uses it."""

    def __init__(self, value: float = 0.01) -> None:
        super().__init__()
        if not float(value) >= 0:
            raise ValueError(f"value={value} must be C_s^2 >= 0")
        self.value = nn.Parameter(torch.tensor(float(value), dtype=torch.float64))

    def closure(self, width_ratio: float = 1.0) -> Smagorinsky:
        """A ``Smagorinsky`` closure whose coefficient is this parameter (gradients flow into it)."""
        return Smagorinsky(self.value, width_ratio)

    def forward(self) -> torch.Tensor:
        return self.value


def les_equation(
    n: int,
    viscosity: float,
    coefficient: float | SmagorinskyCoefficient = 0.01,
    lengths: float = 2 * math.pi,
) -> NavierStokes3D:
    """The LES equation of LESnets on ``n^3``: ``NavierStokes3D`` with a Smagorinsky closure, ``C_s^2`` fixed
    (a float) or learned (a ``SmagorinskyCoefficient``)."""
    closure = (
        coefficient.closure() if isinstance(coefficient, SmagorinskyCoefficient) else Smagorinsky(coefficient)
    )
    return NavierStokes3D(n, viscosity, closure, lengths=lengths)


class LESResidual(EvolutionResidual):
    """LESnets' residual (module docstring): ``EvolutionResidual`` of an LES ``NavierStokes3D`` plus the
    divergence penalty.

    Parameters
    ----------
    equation : NavierStokes3D
        Usually ``les_equation(...)`` (any closure works, or none for a DNS residual).
    dt : float
        Time between frames.
    scheme : TimeScheme or str
        ``"central"`` (LESnets, default) or ``"trapezoidal"``.
    divergence_weight : float
        ``w_div >= 0`` (1 in LESnets).
    """

    def __init__(
        self,
        equation: NavierStokes3D,
        dt: float,
        scheme: TimeScheme | str = "central",
        divergence_weight: float = 1.0,
    ) -> None:
        if not isinstance(equation, NavierStokes3D):
            raise TypeError(
                f"equation={type(equation).__name__} must be a NavierStokes3D (an LES or DNS equation)"
            )
        if not float(divergence_weight) >= 0:
            raise ValueError(f"divergence_weight={divergence_weight} must be 0 or more")
        super().__init__(equation, dt, scheme)
        self.divergence_weight = float(divergence_weight)

    def divergence(self, u: torch.Tensor) -> torch.Tensor:
        """``div u`` of frames ``(batch, time, 3, *space)``, shape ``(batch, time, 1, *space)``."""
        b, t = u.shape[:2]
        eq = self.on_grid(u.shape[3:])
        return eq.divergence(u.reshape(b * t, *u.shape[2:])).reshape(b, t, 1, *u.shape[3:])

    def loss_terms(
        self,
        inputs: torch.Tensor,
        outputs: torch.Tensor,
        *,
        s: float = 0.0,
        alpha: float = 1.0,
        outputs_include_initial: bool = False,
    ) -> dict[str, torch.Tensor]:
        """``EvolutionResidual.loss_terms`` with the residual ``(||R||^2 + w_div ||div u||^2)^(1/2)`` (per
        sample, RMS over frames; ``u`` the predicted frames)."""
        terms = super().loss_terms(
            inputs, outputs, s=s, alpha=alpha, outputs_include_initial=outputs_include_initial
        )
        if self.divergence_weight > 0:
            div = self.divergence(outputs)
            sq = sobolev_norm(div, s, self.ndim, self.lengths, alpha, squared=True).sum(dim=2).mean(dim=1)
            terms["residual"] = safe_root(terms["residual"] ** 2 + self.divergence_weight * sq, 2.0)
        return terms

    def __repr__(self) -> str:
        return (
            f"LESResidual({self.equation!r}, dt={self.dt:g}, scheme={self.scheme!r}, "
            f"divergence_weight={self.divergence_weight:g})"
        )
