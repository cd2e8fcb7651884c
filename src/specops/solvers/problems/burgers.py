"""Viscous Burgers trajectories and the FNO Burgers benchmark (``burgers``, ``burgers-fno``)."""

from __future__ import annotations

from typing import Any

from specops.registry import PROBLEMS
from specops.solvers.burgers import Burgers
from specops.solvers.evolution import EvolutionProblem
from specops.solvers.problem import check_positive
from specops.solvers.random_fields import GaussianRandomField


def burgers(
    *, name: str, viscosity: float, length: float, alpha: float, tau: float, sigma: float, **options: Any
) -> EvolutionProblem:
    """Viscous Burgers ``u_t + u u_x = nu u_xx`` on ``[0, L)`` from GRF initial states ``N(0, sigma^2 (-Delta + tau^2)^-alpha)``.

    ``options`` are those of :meth:`EvolutionProblem.from_resolution`. The ``burgers-fno`` preset is the
    FNO paper's setting (sec. 5.1): ``nu = 0.1``, ``u0 ~ N(0, 625 (-Delta + 25 I)^-2)`` (alpha 2, tau 5,
    sigma 25), ``u0 -> u(1)``, solved on 8192 points and subsampled. Their released MATLAB generator used
    ``alpha = 2.5, tau = 7, sigma = 49, nu = 1e-3`` instead: pass those to reproduce it.
    """
    viscosity, length = check_positive("viscosity", viscosity), float(length)
    return EvolutionProblem.from_resolution(
        name,
        lambda n: Burgers(n, viscosity, length),
        lambda n: GaussianRandomField((n,), float(alpha), float(tau), float(sigma), length),
        **options,
    )


BURGERS = {
    "viscosity": 0.01,
    "length": 1.0,
    "alpha": 2.0,
    "tau": 5.0,
    "sigma": 25.0,
    "resolution": 256,
    "upsample": 4,
    "t_final": 1.0,
    "save_interval": 0.05,
    "dt": 1e-3,
    "stepper": "etdrk4",
}
PROBLEMS.register(
    "burgers", burgers, defaults=BURGERS, description="1D viscous Burgers trajectories, nu = 0.01"
)
PROBLEMS.register(
    "burgers-fno",
    burgers,
    defaults={
        **BURGERS,
        "resolution": 1024,
        "upsample": 8,
        "viscosity": 0.1,
        "save_interval": None,
        "dt": 2e-3,
    },
    description="FNO Burgers: nu = 0.1, u0 -> u(1), solved on 8192 points, stored at 1024",
    family="burgers",
)
