"""The physics-informed loss: weighted residual, initial-condition and boundary terms of a prediction.

``L = w_r ||R(G(a))||_{H^s} + w_ic ||G(a)(t_0) - u_0|| + w_bc ||G(a)|_boundary||``, averaged over the
batch, for a model ``G`` evaluated on inputs ``a`` (PINO, Li et al., arXiv 2111.03794, eq. 7; norms instead
of squared norms, like the relative losses of ``specops.losses``, so that the gradient scale does not
depend on how far training has come). The residual's ``loss_terms`` say which terms exist: an
``EvolutionResidual`` gives the residual (and the initial-condition gap when the outputs include the
initial frame), a ``DarcyResidual`` the residual and the boundary values. Inputs and outputs are
physical fields (decoded): the residual is the PDE's, not the normalised one.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from specops.physics.residuals import DarcyResidual, EvolutionResidual

Reduction = Literal["mean", "sum", "none"]


class PhysicsLoss(nn.Module):
    """``w_r ||R(u)||_{H^s} + w_ic ||u(t_0) - u_0|| + w_bc ||u|_boundary||`` per sample, reduced over the batch.

    Parameters
    ----------
    residual : EvolutionResidual or DarcyResidual
        Built from the equation that made the data (``specops.physics.residual_for_file``).
    s, alpha : float
        Order and shift of the residual's Sobolev norm: ``s = 0`` is L2 (PINO), ``s = -1`` with
        ``alpha = 0.1`` the H^-1 norm of Spectral-Refiner (Cao et al., ICLR 2025), better conditioned for
        elliptic residuals (it measures the solution's energy error rather than its second derivatives).
    residual_weight, initial_weight, boundary_weight : float
        Weights ``w_r``, ``w_ic``, ``w_bc`` (a term the residual does not produce is skipped).
    outputs_include_initial : bool
        For evolution: the model's first output frame is the initial time (PINO's space-time layout).
    reduction : "mean", "sum" or "none"
    """

    def __init__(
        self,
        residual: EvolutionResidual | DarcyResidual,
        *,
        s: float = 0.0,
        alpha: float = 1.0,
        residual_weight: float = 1.0,
        initial_weight: float = 1.0,
        boundary_weight: float = 1.0,
        outputs_include_initial: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        if not isinstance(residual, (EvolutionResidual, DarcyResidual)):
            raise TypeError(f"residual={residual!r} must be an EvolutionResidual or a DarcyResidual")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction={reduction!r} is not one of ('mean', 'sum', 'none')")
        weights = {"residual": residual_weight, "initial": initial_weight, "boundary": boundary_weight}
        for name, w in weights.items():
            if not float(w) >= 0:
                raise ValueError(f"{name}_weight={w} must be 0 or more")
        if float(s) < 0 and float(alpha) <= 0 and isinstance(residual, EvolutionResidual):
            raise ValueError(f"alpha={alpha} must be positive for s={s} on a periodic domain (the mean mode)")
        self.residual = residual
        self.s, self.alpha = float(s), float(alpha)
        self.weights = {k: float(v) for k, v in weights.items()}
        self.reduction = reduction
        self.outputs_include_initial = bool(outputs_include_initial)
        self._options = {"outputs_include_initial": self.outputs_include_initial}
        if isinstance(residual, DarcyResidual):
            if outputs_include_initial:
                raise ValueError("outputs_include_initial is for evolution equations; Darcy is steady")
            self._options = {}

    def terms(self, inputs: torch.Tensor, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted per-sample terms (``residual``, and ``initial`` or ``boundary``), each ``(batch,)``."""
        return self.residual.loss_terms(inputs, outputs, s=self.s, alpha=self.alpha, **self._options)

    def forward(self, inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        """The loss of ``outputs`` (the model's physical prediction) for ``inputs`` (its physical inputs)."""
        terms = self.terms(inputs, outputs)
        total = sum(self.weights[name] * value for name, value in terms.items())
        if self.reduction == "mean":
            return total.mean()
        if self.reduction == "sum":
            return total.sum()
        return total

    def resample(self, fields: torch.Tensor, factor: int) -> torch.Tensor:
        """Fields on the residual's grid ``factor`` times finer (Fourier on periodic grids, bilinear on nodes)."""
        return self.residual.resample(fields, factor)

    def extra_repr(self) -> str:
        return f"{self.residual!r}, s={self.s:g}, alpha={self.alpha:g}, weights={self.weights}"
