"""Time steppers for ``du/dt = N(u, t) + L u``, usable with any ``PeriodicEquation``.

Each stepper maps ``(equation, u_hat, t, dt) -> u_hat`` one step ahead and declares ``order``, its order
of accuracy for the full equation (``explicit_order`` for the explicit part alone where it is higher).

===================  =====  ======================================================================
stepper              order  scheme
===================  =====  ======================================================================
IMEXEuler(1)         1      backward Euler on L, forward Euler on N
IMEXEuler(1/2)       1      Crank-Nicolson on L, forward Euler on N: the FNO ``ns_2d.py`` scheme
CrankNicolsonHeun    2      Crank-Nicolson on L, Heun (RK2) on N (Chandler & Kerswell 2013)
CrankNicolsonRK4     2      low-storage RK4 (Carpenter-Kennedy) on N, Crank-Nicolson on L per stage:
                            jax-cfd / torch-cfd ``crank_nicolson_rk4``; 4th order in N alone
ETDRK4               4      exponential time differencing RK4 (Cox & Matthews 2002) with the
                            contour-integral phi functions of Kassam & Trefethen (2005)
===================  =====  ======================================================================

Stability: L is handled implicitly (A-stable) or exactly, so only N limits the step: the advective CFL
condition ``dt <= C dx / max|u|`` (see ``integrate.stable_time_step``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch

from specops.registry import STEPPERS
from specops.solvers.base import PeriodicEquation, cmul, complex_dtype

# Carpenter & Kennedy (1994), "Fourth-order 2N-storage Runge-Kutta schemes", NASA TM-109112, solution 3,
# the coefficients jax-cfd uses (Canuto et al. 2007, appendix D.3), here as their exact rationals.
_CK_A = (
    0.0,
    -567301805773 / 1357537059087,
    -2404267990393 / 2016746695238,
    -3550918686646 / 2091501179385,
    -1275806237668 / 842570457699,
)
_CK_B = (
    1432997174477 / 9575080441755,
    5161836677717 / 13612068292357,
    1720146321549 / 2090206949498,
    3134564353537 / 4481467310338,
    2277821191437 / 14882151754819,
)
_CK_C = (
    0.0,
    1432997174477 / 9575080441755,
    2526269341429 / 6820363962896,
    2006345519317 / 3224310063776,
    2802321613138 / 2924317926251,
    1.0,
)


class Stepper(ABC):
    """One time step of an IMEX or exponential scheme; ``order`` is its declared order of accuracy."""

    name: str = "stepper"
    order: int = 1

    @abstractmethod
    def step(self, equation: PeriodicEquation, u_hat: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        """Advance ``u_hat`` (Fourier coefficients) from time ``t`` to ``t + dt``."""

    def __call__(self, equation: PeriodicEquation, u_hat: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        return self.step(equation, u_hat, t, dt)

    def parameters(self) -> dict[str, Any]:
        """JSON-serializable description (registry name and order)."""
        return {"name": self.name, "order": self.order}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class IMEXEuler(Stepper):
    """IMEX theta scheme: ``(1 - theta dt L) u' = u + dt N(u, t) + (1 - theta) dt L u``.

    ``theta = 1`` is the backward-forward Euler scheme; ``theta = 1/2`` treats the linear terms by
    Crank-Nicolson and is the scheme of the FNO Navier-Stokes generator (``ns_2d.py``, Li et al. 2021),
    whose advection is forward Euler despite the name. Both are first order (the explicit Euler part).

    Parameters
    ----------
    theta : float
        Implicitness in ``[1/2, 1]`` (A-stable for the linear part).
    """

    order = 1

    def __init__(self, theta: float = 1.0) -> None:
        if not 0.5 <= theta <= 1.0:
            raise ValueError(f"theta={theta} must lie in [0.5, 1] for an A-stable implicit part")
        self.theta = float(theta)
        self.name = "imex_euler" if self.theta == 1.0 else "fno_crank_nicolson"

    def step(self, equation: PeriodicEquation, u_hat: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        rhs = u_hat + dt * equation.explicit_terms(u_hat, t)
        if self.theta < 1.0:
            rhs = rhs + (1.0 - self.theta) * dt * equation.implicit_terms(u_hat)
        return equation.implicit_solve(rhs, self.theta * dt)

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "theta": self.theta}

    def __repr__(self) -> str:
        return f"IMEXEuler(theta={self.theta})"


class CrankNicolsonHeun(Stepper):
    """Crank-Nicolson on ``L`` with Heun's RK2 on ``N`` (second order).

    ``g = u + dt/2 L u``; ``u* = (1 - dt/2 L)^-1 (g + dt N(u, t))``;
    ``u' = (1 - dt/2 L)^-1 (g + dt/2 (N(u, t) + N(u*, t + dt)))``.
    Chandler & Kerswell, J. Fluid Mech. 722 (2013), sec. 3; torch-cfd's ``IMEXStepper(order=2)``.
    """

    name = "crank_nicolson_heun"
    order = 2

    def step(self, equation: PeriodicEquation, u_hat: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        g = u_hat + (0.5 * dt) * equation.implicit_terms(u_hat)
        n0 = equation.explicit_terms(u_hat, t)
        u_star = equation.implicit_solve(g + dt * n0, 0.5 * dt)
        n1 = equation.explicit_terms(u_star, t + dt)
        return equation.implicit_solve(g + (0.5 * dt) * (n0 + n1), 0.5 * dt)


class CrankNicolsonRK4(Stepper):
    """Low-storage IMEX RK4-Crank-Nicolson of jax-cfd and torch-cfd (``crank_nicolson_rk4``).

    Five stages ``k = 1..5``: ``h = N(u, t + c_k dt) + A_k h``, ``mu = dt (c_{k+1} - c_k) / 2``,
    ``u = (1 - mu L)^-1 (u + B_k dt h + mu L u)``, with the 2N-storage coefficients ``A, B, c`` of
    Carpenter & Kennedy (1994). Fourth order for ``N`` alone, second order overall (the Crank-Nicolson
    part): Canuto et al., Spectral Methods (2007), appendix D.3.

    The per-stage update is applied as ``u = a_k u + b_k h`` with ``a_k = (1 + mu L) / (1 - mu L)`` and
    ``b_k = B_k dt / (1 - mu L)`` precomputed per ``dt``: one fused pass instead of four.
    """

    name = "crank_nicolson_rk4"
    order = 2
    explicit_order = 4

    @staticmethod
    def _stage_factors(equation: PeriodicEquation, dt: float, dtype: torch.dtype, device):
        lin = equation.linear_symbol(device)
        cast = complex_dtype(dtype) if lin.is_complex() else dtype
        stages = []
        for k in range(5):
            mu = 0.5 * dt * (_CK_C[k + 1] - _CK_C[k])
            a = (1.0 + mu * lin) / (1.0 - mu * lin)
            b = (_CK_B[k] * dt) / (1.0 - mu * lin)
            stages.append((a.to(cast), b.to(cast)))
        return stages

    def step(self, equation: PeriodicEquation, u_hat: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        dtype, device = u_hat.real.dtype, u_hat.device
        stages = equation.cached(
            ("crank_nicolson_rk4", float(dt), dtype, device),
            lambda: self._stage_factors(equation, dt, dtype, device),
        )
        h = None
        for k, (a, b) in enumerate(stages):
            n = equation.explicit_terms(u_hat, t + _CK_C[k] * dt)
            # The caller's u_hat is never modified; the stage temporaries are updated in place, each
            # update in one pass (n is a fresh tensor: h = A h + n lands in its buffer).
            h = n if h is None else n.add_(h, alpha=_CK_A[k])
            if a.is_complex() or b.is_complex():
                u_hat = cmul(u_hat, a).add_(cmul(h, b))
            elif k == 0:
                u_hat = torch.addcmul(u_hat * a, h, b)
            else:
                u_hat = u_hat.mul_(a).addcmul_(h, b)
        return u_hat


def etdrk4_coefficients(
    linear: torch.Tensor, dt: float, n_points: int = 64, radius: float = 1.0
) -> dict[str, torch.Tensor]:
    """ETDRK4 coefficients ``E, E2, Q, f1, f2, f3`` for the diagonal ``L`` (Kassam & Trefethen 2005).

    With ``z = dt L``: ``E = e^z``, ``E2 = e^{z/2}``, ``Q = dt phi(z/2) / 2`` where
    ``phi(z) = (e^z - 1) / z``, and ``f1 = dt (-4 - z + e^z (4 - 3z + z^2)) / z^3``,
    ``f2 = dt (2 + z + e^z (z - 2)) / z^3``, ``f3 = dt (-4 - 3z - z^2 + e^z (4 - z)) / z^3``. These
    formulas cancel catastrophically near ``z = 0``; each is evaluated as the mean of its values on a
    circle of ``n_points`` around ``z`` (Cauchy's integral formula), accurate to round-off for every ``z``.

    Returns float64 tensors for real ``L`` and complex128 tensors otherwise.
    """
    z = dt * linear.to(torch.complex128)
    theta = 2 * math.pi * (torch.arange(n_points, dtype=torch.float64, device=z.device) + 0.5) / n_points
    r = z.unsqueeze(-1) + radius * torch.exp(1j * theta)
    er = torch.exp(r)
    er2 = torch.exp(r / 2)
    out = {
        "E": torch.exp(z),
        "E2": torch.exp(z / 2),
        "Q": dt * ((er2 - 1) / r).mean(dim=-1),
        "f1": dt * ((-4 - r + er * (4 - 3 * r + r**2)) / r**3).mean(dim=-1),
        "f2": dt * ((2 + r + er * (r - 2)) / r**3).mean(dim=-1),
        "f3": dt * ((-4 - 3 * r - r**2 + er * (4 - r)) / r**3).mean(dim=-1),
    }
    if not linear.is_complex():
        out = {k: v.real.contiguous() for k, v in out.items()}
    return out


class ETDRK4(Stepper):
    """Exponential time differencing RK4 (Cox & Matthews, J. Comput. Phys. 176, 2002), fourth order.

    ``a = E2 u + Q N(u, t)``, ``b = E2 u + Q N(a, t + dt/2)``, ``c = E2 a + Q (2 N(b, t + dt/2) - N(u, t))``,
    ``u' = E u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c, t + dt)``: exact for the linear part, so stiff
    linear terms (KS, KdV, fine-grid Burgers) impose no step limit. The coefficients come from
    ``etdrk4_coefficients`` (Kassam & Trefethen, SIAM J. Sci. Comput. 26, 2005) and are cached per ``dt``.
    """

    name = "etdrk4"
    order = 4

    def __init__(self, n_points: int = 64) -> None:
        if n_points < 8:
            raise ValueError(
                f"n_points={n_points}: the contour integral needs at least 8 points (64 is safe)"
            )
        self.n_points = int(n_points)

    def _coeffs(self, equation: PeriodicEquation, dt: float, dtype: torch.dtype, device):
        coeffs = etdrk4_coefficients(equation.linear_symbol(device), dt, self.n_points)
        coeffs["2f2"] = 2 * coeffs["f2"]
        cast = complex_dtype(dtype) if coeffs["E"].is_complex() else dtype
        return {k: v.to(cast) for k, v in coeffs.items()}

    def step(self, equation: PeriodicEquation, u_hat: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        dtype, device = u_hat.real.dtype, u_hat.device
        c = equation.cached(
            ("etdrk4", self.n_points, float(dt), dtype, device),
            lambda: self._coeffs(equation, dt, dtype, device),
        )
        nu = equation.explicit_terms(u_hat, t)
        eu = cmul(u_hat, c["E2"])
        a = eu + cmul(nu, c["Q"])
        na = equation.explicit_terms(a, t + 0.5 * dt)
        b = eu + cmul(na, c["Q"])
        nb = equation.explicit_terms(b, t + 0.5 * dt)
        cc = cmul(a, c["E2"]) + cmul(2 * nb - nu, c["Q"])
        nc = equation.explicit_terms(cc, t + dt)
        return cmul(u_hat, c["E"]) + cmul(nu, c["f1"]) + cmul(na + nb, c["2f2"]) + cmul(nc, c["f3"])

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "contour_points": self.n_points}


STEPPERS.register(
    "imex_euler",
    IMEXEuler,
    defaults={"theta": 1.0},
    description="backward Euler on L, forward Euler on N (order 1)",
)
STEPPERS.register(
    "fno_crank_nicolson",
    IMEXEuler,
    defaults={"theta": 0.5},
    description="Crank-Nicolson on L, forward Euler on N: the FNO ns_2d.py scheme (order 1)",
    family="imex_euler",
)
STEPPERS.register(
    "crank_nicolson_heun", CrankNicolsonHeun, description="Crank-Nicolson on L, Heun RK2 on N (order 2)"
)
STEPPERS.register(
    "crank_nicolson_rk4",
    CrankNicolsonRK4,
    description="low-storage RK4 on N, Crank-Nicolson on L: jax-cfd/torch-cfd (order 2, 4 in N)",
)
STEPPERS.register(
    "etdrk4", ETDRK4, description="exponential RK4, Kassam-Trefethen contour integrals (order 4)"
)


def make_stepper(stepper: str | Stepper) -> Stepper:
    """A stepper instance from a registered name (``"etdrk4"``) or the instance itself."""
    if isinstance(stepper, Stepper):
        return stepper
    if isinstance(stepper, str):
        return STEPPERS.create(stepper)
    raise ValueError(f"stepper={stepper!r} must be a Stepper or one of {STEPPERS.names()}")
