"""Subgrid closures of large-eddy simulation for ``NavierStokes3D``: Smagorinsky and dynamic Smagorinsky.

The filtered equations carry the subgrid stress ``tau_ij = bar(u_i u_j) - bar(u)_i bar(u)_j``; an
eddy-viscosity model gives its deviatoric part

    tau_ij - (tau_kk / 3) delta_ij = -2 nu_t S_ij,    nu_t = C Delta^2 |S|,    |S| = (2 S_ij S_ij)^(1/2),

with ``S_ij = (d_j u_i + d_i u_j) / 2`` the resolved strain rate and ``Delta`` the filter width (the LES
grid's ``(dx dy dz)^(1/3)`` times ``width_ratio``); the isotropic part joins the pressure and is removed by
the Leray projection. ``C = C_s^2``:

- ``Smagorinsky``: a constant (Smagorinsky, Mon. Weather Rev. 91, 1963; ``C_s ~ 0.1 - 0.2``, LESnets use
  ``C_s^2 = 0.01`` for decaying HIT), a float or a tensor (a trainable parameter in LESnets);
- ``DynamicSmagorinsky``: Germano's identity ``L_ij = C M_ij`` with a test filter of width
  ``alpha Delta`` (Germano et al., Phys. Fluids A 3, 1760, 1991), solved in Lilly's least-squares sense
  averaged over the homogeneous box (Lilly, Phys. Fluids A 4, 633, 1992):

      L_ij = hat(u_i u_j) - hat(u)_i hat(u)_j,
      M_ij = 2 Delta^2 (hat(|S| S_ij) - alpha^2 |hat S| hat S_ij),
      C = max(0, <L_ij M_ij> / <M_ij M_ij>)   per sample (clipped: no backscatter).

Each closure returns ``div tau`` in Fourier space; ``NavierStokes3D`` subtracts it before de-aliasing
and projection.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from specops.solvers.base import irfftn, rfftn
from specops.spectral.filters import FILTERS, transfer_function


def strain_rate(gradients: torch.Tensor) -> torch.Tensor:
    """``S_ij = (G_ij + G_ji) / 2`` as ``(batch, 3, 3, *space)`` from ``G[:, 3 i + j] = d_j u_i``."""
    g = gradients.unflatten(1, (3, 3))
    return 0.5 * (g + g.transpose(1, 2))


def strain_magnitude(s: torch.Tensor) -> torch.Tensor:
    """``|S| = (2 S_ij S_ij)^(1/2)``, ``(batch, *space)``."""
    return (2.0 * s.pow(2).sum(dim=(1, 2))).sqrt()


def _divergence_hat(stress: torch.Tensor, equation: Any) -> torch.Tensor:
    """Fourier coefficients of ``(div tau)_i = d_j tau_ij`` for a stress ``(batch, 3, 3, *space)``."""
    ik = equation.constants(stress.dtype, stress.device)["ik"]  # (3, *spectral)
    tau_hat = rfftn(stress.flatten(1, 2), 3).unflatten(1, (3, 3))
    return (tau_hat * ik).sum(dim=2)


class Smagorinsky:
    """Smagorinsky eddy viscosity ``nu_t = C Delta^2 |S|``, ``C = C_s^2`` constant (module docstring).

    Parameters
    ----------
    coefficient : float or Tensor
        ``C_s^2 >= 0`` (0.01 is ``C_s = 0.1``). A scalar tensor is used as is (its gradient flows: LESnets
        learn it).
    width_ratio : float
        ``Delta`` in units of the grid's ``(dx dy dz)^(1/3)`` (1: the filter width is the LES grid spacing).
    """

    def __init__(self, coefficient: float | torch.Tensor = 0.01, width_ratio: float = 1.0) -> None:
        if not isinstance(coefficient, torch.Tensor) and not float(coefficient) >= 0:
            raise ValueError(f"coefficient={coefficient} must be C_s^2 >= 0 (e.g. 0.01 for C_s = 0.1)")
        if not float(width_ratio) > 0:
            raise ValueError(f"width_ratio={width_ratio} must be positive")
        self.coefficient = coefficient
        self.width_ratio = float(width_ratio)

    def eddy_viscosity(self, s: torch.Tensor, equation: Any) -> torch.Tensor:
        """``nu_t = C Delta^2 |S|``, ``(batch, *space)``."""
        delta = self.width_ratio * equation.filter_width
        return (self.coefficient * delta**2) * strain_magnitude(s)

    def stress_divergence(self, u_hat: torch.Tensor, gradients: torch.Tensor, equation: Any) -> torch.Tensor:
        """``div tau`` with ``tau = -2 nu_t S`` in Fourier space, ``(batch, 3, *spectral)``."""
        s = strain_rate(gradients)
        nu_t = self.eddy_viscosity(s, equation)
        return _divergence_hat(-2.0 * nu_t.unsqueeze(1).unsqueeze(1) * s, equation)

    def parameters(self) -> dict[str, Any]:
        c = self.coefficient
        value = float(c.detach()) if isinstance(c, torch.Tensor) else float(c)
        return {"type": "smagorinsky", "coefficient": value, "width_ratio": self.width_ratio}


class DynamicSmagorinsky:
    """Dynamic Smagorinsky (Germano-Lilly): ``C`` per sample from the resolved field (module docstring).

    Parameters
    ----------
    test_ratio : float
        ``alpha``, the test filter's width over the grid filter's (2 in Germano et al.).
    test_filter : "cutoff", "box" or "gaussian"
        The test filter (``specops.spectral.filters``), width ``alpha`` grid spacings.
    width_ratio : float
        As for ``Smagorinsky``.
    """

    def __init__(
        self,
        test_ratio: float = 2.0,
        test_filter: Literal["cutoff", "box", "gaussian"] = "cutoff",
        width_ratio: float = 1.0,
    ) -> None:
        if test_filter not in FILTERS:
            raise ValueError(f"test_filter={test_filter!r} is not one of {FILTERS}")
        if not float(test_ratio) > 1:
            raise ValueError(
                f"test_ratio={test_ratio} must exceed 1 (the test filter is wider than the grid)"
            )
        self.test_ratio = float(test_ratio)
        self.test_filter = test_filter
        self.width_ratio = float(width_ratio)
        self.last_coefficient: torch.Tensor | None = None

    def _test_filter(self, x: torch.Tensor, equation: Any) -> torch.Tensor:
        width = self.test_ratio * equation.spacing[0]
        key = ("test_filter", self.test_filter, width, x.dtype, x.device)
        g = equation.cached(
            key,
            lambda: transfer_function(
                self.test_filter, equation.shape, equation.lengths, width, device=x.device
            ).to(x.dtype),
        )
        return irfftn(rfftn(x, 3) * g, equation.shape)

    def coefficient(self, u: torch.Tensor, gradients: torch.Tensor, equation: Any) -> torch.Tensor:
        """``C = max(0, <L_ij M_ij> / <M_ij M_ij>)`` per sample, ``(batch,)``, for physical ``u (B, 3, *space)``."""
        b = u.shape[0]
        delta = self.width_ratio * equation.filter_width
        s = strain_rate(gradients)
        mag = strain_magnitude(s)
        uu = (u.unsqueeze(2) * u.unsqueeze(1)).flatten(1, 2)  # (B, 9, *space)
        filtered = self._test_filter(
            torch.cat([u, uu, (mag.unsqueeze(1).unsqueeze(1) * s).flatten(1, 2)], 1), equation
        )
        u_t, uu_t, ss_t = filtered[:, :3], filtered[:, 3:12], filtered[:, 12:]
        lij = uu_t - (u_t.unsqueeze(2) * u_t.unsqueeze(1)).flatten(1, 2)
        s_t = strain_rate(equation.gradients(equation.to_spectral(u_t)))
        mij = (
            2
            * delta**2
            * (
                ss_t
                - self.test_ratio**2 * (strain_magnitude(s_t).unsqueeze(1).unsqueeze(1) * s_t).flatten(1, 2)
            )
        )
        num = (lij * mij).reshape(b, -1).mean(dim=1)
        den = (mij * mij).reshape(b, -1).mean(dim=1)
        c = torch.where(den > 0, num / torch.where(den > 0, den, 1.0), 0.0).clamp_min(0.0)
        self.last_coefficient = c.detach()
        return c

    def stress_divergence(self, u_hat: torch.Tensor, gradients: torch.Tensor, equation: Any) -> torch.Tensor:
        """``div tau`` with ``tau = -2 C Delta^2 |S| S``, ``C`` from ``coefficient``, in Fourier space."""
        u = irfftn(u_hat, equation.shape)
        c = self.coefficient(u, gradients, equation)
        s = strain_rate(gradients)
        delta = self.width_ratio * equation.filter_width
        nu_t = c.reshape(-1, *([1] * 3)) * delta**2 * strain_magnitude(s)
        return _divergence_hat(-2.0 * nu_t.unsqueeze(1).unsqueeze(1) * s, equation)

    def parameters(self) -> dict[str, Any]:
        return {
            "type": "dynamic_smagorinsky",
            "test_ratio": self.test_ratio,
            "test_filter": self.test_filter,
            "width_ratio": self.width_ratio,
        }


CLOSURES = {"none": None, "smagorinsky": Smagorinsky, "dynamic_smagorinsky": DynamicSmagorinsky}


def make_closure(name: str, coefficient: float = 0.01) -> Smagorinsky | DynamicSmagorinsky | None:
    """The closure named ``name``: ``"none"`` (DNS), ``"smagorinsky"`` (``C_s^2 = coefficient``) or
    ``"dynamic_smagorinsky"``."""
    if name not in CLOSURES:
        raise ValueError(f"closure={name!r} must be one of {tuple(CLOSURES)}")
    if name == "smagorinsky":
        return Smagorinsky(coefficient)
    return None if name == "none" else DynamicSmagorinsky()
