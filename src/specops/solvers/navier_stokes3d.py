"""3D incompressible Navier-Stokes in velocity form on a periodic box, pseudo-spectral (DNS and LES).

The equation ``u_t + (u . grad) u = -grad p + nu lap u + A u - div tau``, ``div u = 0``, is written with
the rotational nonlinear term, ``(u . grad) u = omega x u + grad(|u|^2 / 2)``, ``omega = curl u``, and the
pressure removed by the Leray projection ``P`` (``P_ij(k) = delta_ij - k_i k_j / |k|^2``):

    u_t = P D[u x omega - div tau] + (-nu |k|^2 + A) u         (Canuto et al., "Spectral Methods", 2007, 3.4)

``D`` is the 2/3 de-aliasing of the products (Orszag 1971). ``tau`` is the subgrid stress of an LES
closure (``specops.solvers.les``: Smagorinsky, dynamic Smagorinsky), absent for DNS. ``A`` is Lundgren's
linear forcing (Lundgren 2003; Rosales & Meneveau, Phys. Fluids 17, 095106, 2005), applied to the modes
``0 < |k| <= k_f`` (all nonzero modes when ``k_f`` is None), part of the diagonal implicit operator.

Properties (tested): ``u . (u x omega) = 0`` point by point, so for band-limited fields (every mode inside
the de-aliasing mask, which the equation preserves) the nonlinear term conserves energy exactly and the
unforced energy budget is ``dE/dt = -eps``, ``E = <|u|^2> / 2``, ``eps = nu <|grad u|^2>`` (means over the
box); the projection keeps ``div u`` at rounding.

Stability: the steppers need the advective CFL condition ``dt <= C dx / max|u|`` (``stable_time_step``);
viscosity and forcing are implicit. Initial states must be divergence-free: the solver refuses others
(``check_state``) and ``project`` gives the divergence-free part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from specops.registry import EQUATIONS
from specops.solvers.base import PeriodicEquation, complex_dtype, irfftn, rfftn


class NavierStokes3D(PeriodicEquation):
    """Incompressible 3D Navier-Stokes, velocity ``u = (u, v, w)`` as 3 channels (formula: module docstring).

    Parameters
    ----------
    n : int or (int, int, int)
        Grid points per axis (x, y, z = axes -3, -2, -1).
    viscosity : float
        Kinematic viscosity ``nu >= 0``.
    closure : object or None
        A subgrid model with ``stress_divergence(u_hat, gradients, equation) -> div tau`` coefficients
        (``Smagorinsky``, ``DynamicSmagorinsky``), or None for DNS.
    forcing : float
        Linear forcing coefficient ``A >= 0`` (0: decaying flow).
    forcing_band : float or None
        Largest ``|k|`` (in units of ``2 pi / L``) that is forced; None forces every nonzero mode.
    lengths : float or 3 floats
        Box sides (``2 pi``: the usual HIT box).
    dealias : float, Tensor or None
        See ``PeriodicEquation``.
    """

    name = "navier_stokes_3d"
    formula = "u_t + u . grad u = -grad p + nu lap u + A u - div tau, div u = 0"
    n_channels = 3

    def __init__(
        self,
        n: int | Sequence[int],
        viscosity: float = 1e-2,
        closure: Any = None,
        forcing: float = 0.0,
        forcing_band: float | None = None,
        lengths: float | Sequence[float] = 2 * math.pi,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        shape = (int(n),) * 3 if isinstance(n, int) else tuple(int(s) for s in n)
        if len(shape) != 3:
            raise ValueError(f"n={n}: NavierStokes3D needs one grid size or three")
        if not viscosity >= 0 or not forcing >= 0:
            raise ValueError(f"viscosity={viscosity} and forcing={forcing} must be non-negative")
        if closure is not None and not callable(getattr(closure, "stress_divergence", None)):
            raise ValueError(
                f"closure={closure!r} must have a stress_divergence method (see specops.solvers.les)"
            )
        super().__init__(shape, lengths, dealias)
        self.viscosity = float(viscosity)
        self.closure = closure
        self.forcing = float(forcing)
        self.forcing_band = None if forcing_band is None else float(forcing_band)

    @property
    def filter_width(self) -> float:
        """The LES filter width of this grid, ``Delta = (dx dy dz)^(1/3)``."""
        return math.prod(self.spacing) ** (1.0 / 3.0)

    def linear_symbol(self, device=None) -> torch.Tensor:
        k2 = self.squared_wavenumber(device=device)
        forced = k2 > 0
        if self.forcing_band is not None:
            unit = 2 * math.pi / min(self.lengths)
            forced = forced & (k2 <= (self.forcing_band * unit) ** 2 * (1 + 1e-12))
        return -self.viscosity * k2 + self.forcing * forced.to(torch.float64)

    def _build_constants(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        ks = [k.expand(self.spectral_shape) for k in self.wavenumbers(odd=True, device=device)]
        k = torch.stack(ks)  # (3, *spectral)
        k2 = (k * k).sum(0)
        inv_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
        mask = torch.ones(self.spectral_shape, dtype=torch.float64) if self._mask is None else self._mask
        cdtype = complex_dtype(dtype)
        return {
            "ik": torch.complex(torch.zeros_like(k), k).to(cdtype),  # i k_j, purely imaginary
            "k": k.to(dtype),
            "inv_k2": inv_k2.to(dtype),
            "mask": mask.to(device=device, dtype=dtype),
        }

    def gradients(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Velocity gradient ``G[:, 3 i + j] = d u_i / d x_j`` on the grid, ``(batch, 9, *shape)``."""
        ik = self.constants(u_hat.real.dtype, u_hat.device)["ik"]
        grads = u_hat.unsqueeze(2) * ik.unsqueeze(0)  # (B, 3, 3, *spectral): i k_j u_hat_i
        return irfftn(grads.flatten(1, 2), self.shape)

    def project(self, u: torch.Tensor) -> torch.Tensor:
        """The divergence-free part ``P u`` of physical velocities ``(batch, 3, *shape)`` (Leray)."""
        return self.to_physical(self._project(self.to_spectral(u)))

    def _project(self, g_hat: torch.Tensor) -> torch.Tensor:
        consts = self.constants(g_hat.real.dtype, g_hat.device)
        k, inv_k2 = consts["k"], consts["inv_k2"]
        k_dot = (g_hat * k).sum(dim=1, keepdim=True)
        return g_hat - k * (k_dot * inv_k2)

    def _explicit(self, u_hat: torch.Tensor, t: float, consts: dict[str, torch.Tensor]) -> torch.Tensor:
        fields = irfftn(torch.cat([u_hat, (u_hat.unsqueeze(2) * consts["ik"]).flatten(1, 2)], 1), self.shape)
        u, g = fields[:, :3], fields[:, 3:]
        # omega = curl u from the gradient G[3 i + j] = d_j u_i
        omega = torch.stack([g[:, 7] - g[:, 5], g[:, 2] - g[:, 6], g[:, 3] - g[:, 1]], dim=1)
        lamb = torch.linalg.cross(u, omega, dim=1)  # u x omega (the Lamb vector, sign flipped)
        out = rfftn(lamb, 3)
        if self.closure is not None:
            out = out - self.closure.stress_divergence(u_hat, g, self)
        return self._project(out * consts["mask"])

    def max_speed(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self.to_physical(u_hat)
        return u.pow(2).sum(dim=1).sqrt().flatten(1).amax(dim=1)

    # ----- diagnostics (physical velocities (batch, 3, *shape) in, one value per sample out)
    def divergence(self, u: torch.Tensor) -> torch.Tensor:
        """``div u`` on the grid, ``(batch, *shape)``."""
        ik = self.constants(u.dtype, u.device)["ik"]
        return irfftn((self.to_spectral(u) * ik).sum(dim=1), self.shape)

    def energy(self, u: torch.Tensor) -> torch.Tensor:
        """Kinetic energy per unit volume ``E = <|u|^2> / 2`` (mean over the box), ``(batch,)``."""
        return 0.5 * u.pow(2).sum(dim=1).flatten(1).mean(dim=1)

    def dissipation(self, u: torch.Tensor) -> torch.Tensor:
        """Viscous dissipation ``eps = nu <|grad u|^2> = 2 nu <S_ij S_ij>`` (periodic box), ``(batch,)``."""
        g = self.gradients(self.to_spectral(u))
        return self.viscosity * g.pow(2).sum(dim=1).flatten(1).mean(dim=1)

    def check_state(self, u: torch.Tensor, what: str = "u0") -> None:
        """``PeriodicEquation.check_state`` and ``div u = 0``: the relative divergence
        ``||div u|| / ||grad u||`` must be below 1e-5 (float64; float32 data cast to float64 hold about 1e-7)
        or 1e-4 (float32); else ``ValueError``."""
        super().check_state(u, what)
        g = self.gradients(self.to_spectral(u))
        scale = g.pow(2).sum(dim=1).flatten(1).mean(dim=1).sqrt()
        div = self.divergence(u).pow(2).flatten(1).mean(dim=1).sqrt()
        tol = 1e-5 if u.dtype == torch.float64 else 1e-4
        bad = (div > tol * scale) & (scale > 0)
        if bool(bad.any()):
            worst = float((div / scale.clamp_min(1e-300)).max())
            raise ValueError(
                f"{what} is not divergence-free (relative divergence {worst:.2e} in samples "
                f"{bad.nonzero().flatten().tolist()}); pass equation.project({what}), its divergence-free part"
            )

    def parameters(self) -> dict[str, Any]:
        closure = None
        if self.closure is not None:
            params = getattr(self.closure, "parameters", None)
            closure = params() if callable(params) else repr(self.closure)
        return {
            **super().parameters(),
            "viscosity": self.viscosity,
            "closure": closure,
            "forcing": self.forcing,
            "forcing_band": self.forcing_band,
        }


EQUATIONS.register("navier_stokes_3d", NavierStokes3D)
