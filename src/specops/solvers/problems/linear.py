"""Linear problems solved through ``specops.solvers.linear`` (``--solver direct|cg|gmres|gcrodr|skr``).

``poisson`` (``a = 1``, random source), ``poisson-variable`` (lognormal ``a`` and random source),
``helmholtz`` / ``helmholtz-k40`` (lognormal wavenumber around ``k0``, Gaussian point source, impedance
boundary), ``heat`` (lognormal conductivity, implicit steps). Every one takes ``solver``: a mapping of the
``LinearSolverOptions`` keys (``--set solver.method=skr --set solver.recycle=10``).
"""

from __future__ import annotations

import math
from typing import Any

from specops.registry import PROBLEMS
from specops.solvers.darcy import Darcy
from specops.solvers.heat import Heat, Poisson
from specops.solvers.helmholtz import Helmholtz, gaussian_source
from specops.solvers.linear.sequence import solver_options
from specops.solvers.linear_problem import ConstantField, LinearProblem, SeedStream
from specops.solvers.problem import check_positive
from specops.solvers.problems.darcy import coefficient_field
from specops.solvers.random_fields import CosineRandomField, LognormalField


def solver_nodes(resolution: int, upsample: int) -> int:
    """Solver nodes per side for ``resolution`` stored nodes every ``upsample``-th node."""
    resolution = check_positive("resolution", resolution, integer=True)
    if resolution < 3:
        raise ValueError(f"resolution={resolution} must be at least 3 nodes")
    return (resolution - 1) * check_positive("upsample", upsample, integer=True) + 1


def coefficient_law(law: str, shape: tuple[int, int], **options: Any):
    """``"constant"`` (``a = 1``) or a law of :func:`~specops.solvers.problems.darcy.coefficient_field`."""
    if law == "constant":
        return ConstantField(shape, 1.0)
    if law not in ("threshold", "lognormal"):
        raise ValueError(f"coefficient={law!r} must be 'constant', 'threshold' or 'lognormal'")
    return coefficient_field(law, shape, **options)


def poisson(
    *,
    name: str,
    resolution: int,
    upsample: int,
    coefficient: str,
    face_average: str,
    alpha: float,
    tau: float,
    lognormal_scale: float,
    source_alpha: float,
    source_tau: float,
    source_sigma: float | None,
    solver: dict | None,
) -> LinearProblem:
    """``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary: ``(a, f) -> u`` pairs.

    ``f`` is a Neumann GRF (``source_alpha``, ``source_tau``, ``source_sigma``) from the sample's second
    seed stream; ``a`` is constant 1, lognormal ``exp(lognormal_scale g)`` or thresholded 12/3.
    """
    n = solver_nodes(resolution, upsample)
    law = {"alpha": alpha, "tau": tau, "sigma": None, "n_modes": None, "high": 12.0, "low": 3.0}
    a = coefficient_law(coefficient, (n, n), **law, threshold=0.0, lognormal_scale=lognormal_scale)
    f = SeedStream(CosineRandomField((n, n), float(source_alpha), float(source_tau), source_sigma), stream=1)
    system = Poisson(Darcy(n, face_average=face_average), source_field=True)
    return LinearProblem(name, {"a": a, "f": f}, system, solver_options(solver), upsample=upsample)


def helmholtz(
    *,
    name: str,
    resolution: int,
    upsample: int,
    k0: float,
    contrast: float,
    alpha: float,
    tau: float,
    source_x: float,
    source_y: float,
    source_width: float,
    solver: dict | None,
) -> LinearProblem:
    """``-Δu - k^2 u = f``, impedance boundary: ``k -> (Re u, Im u)`` with ``k = k0 exp(contrast g)``.

    ``g`` is a Neumann GRF (``alpha``, ``tau``) scaled to unit standard deviation at the centre of the
    spectrum; ``f`` a Gaussian of width ``source_width`` and unit integral at ``(source_x, source_y)``.
    """
    n = solver_nodes(resolution, upsample)
    k0, width = check_positive("k0", k0), check_positive("source_width", source_width)
    field = CosineRandomField((n, n), float(alpha), float(tau))
    k = LognormalField(field, math.log(k0), float(contrast))
    source = gaussian_source(n, (float(source_x), float(source_y)), width, 1.0 / (2 * math.pi * width**2))
    return LinearProblem(name, {"k": k}, Helmholtz(n, source), solver_options(solver), upsample=upsample)


def heat(
    *,
    name: str,
    resolution: int,
    upsample: int,
    coefficient: str,
    face_average: str,
    alpha: float,
    tau: float,
    lognormal_scale: float,
    t_final: float,
    n_steps: int,
    scheme: str,
    forcing: float,
    solver: dict | None,
) -> LinearProblem:
    """``u_t = div(kappa grad u) + f``, ``u(0) = 0``, ``u = 0`` on the boundary: ``kappa -> u(t_final)``."""
    n = solver_nodes(resolution, upsample)
    law = {"alpha": alpha, "tau": tau, "sigma": None, "n_modes": None, "high": 12.0, "low": 3.0}
    kappa = coefficient_law(coefficient, (n, n), **law, threshold=0.0, lognormal_scale=lognormal_scale)
    system = Heat(
        Darcy(n, face_average=face_average), t_final=t_final, n_steps=n_steps, scheme=scheme, forcing=forcing
    )
    return LinearProblem(name, {"kappa": kappa}, system, solver_options(solver), upsample=upsample)


POISSON = {
    "resolution": 64,
    "upsample": 1,
    "coefficient": "constant",
    "face_average": "harmonic",
    "alpha": 2.0,
    "tau": 3.0,
    "lognormal_scale": 1.0,
    "source_alpha": 2.0,
    "source_tau": 3.0,
    "source_sigma": None,
    "solver": {},
}
PROBLEMS.register("poisson", poisson, defaults=POISSON, description="2D Poisson -lap u = f, random source f")
PROBLEMS.register(
    "poisson-variable",
    poisson,
    defaults={**POISSON, "coefficient": "lognormal"},
    description="2D -div(a grad u) = f, lognormal a and random f, (a, f) -> u",
    family="poisson",
)
HELMHOLTZ = {
    "resolution": 64,
    "upsample": 1,
    "k0": 20.0,
    "contrast": 0.2,
    "alpha": 2.0,
    "tau": 3.0,
    "source_x": 0.5,
    "source_y": 0.5,
    "source_width": 0.03,
    "solver": {},
}
PROBLEMS.register(
    "helmholtz",
    helmholtz,
    defaults=HELMHOLTZ,
    description="2D Helmholtz, lognormal wavenumber k0 = 20, impedance boundary",
)
PROBLEMS.register(
    "helmholtz-k40",
    helmholtz,
    defaults={**HELMHOLTZ, "resolution": 128, "k0": 40.0},
    description="2D Helmholtz, lognormal wavenumber k0 = 40 on 128^2 nodes",
    family="helmholtz",
)
PROBLEMS.register(
    "heat",
    heat,
    defaults={
        "resolution": 64,
        "upsample": 1,
        "coefficient": "lognormal",
        "face_average": "harmonic",
        "alpha": 2.0,
        "tau": 3.0,
        "lognormal_scale": 1.0,
        "t_final": 0.02,
        "n_steps": 10,
        "scheme": "backward_euler",
        "forcing": 1.0,
        "solver": {},
    },
    description="2D heat equation, lognormal conductivity, implicit steps, kappa -> u(t_final)",
)
