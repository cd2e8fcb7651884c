"""Darcy flow ``a -> u`` pairs: 12/3 thresholded or lognormal permeabilities (``darcy``, ``darcy-fno``)."""

from __future__ import annotations

from collections.abc import Sequence

from specops.registry import PROBLEMS
from specops.solvers.darcy import Darcy, FaceAverage, Method
from specops.solvers.heat import Poisson
from specops.solvers.linear.sequence import solver_options
from specops.solvers.linear_problem import LinearProblem
from specops.solvers.problem import check_positive
from specops.solvers.random_fields import CosineRandomField, LognormalField, ThresholdedField
from specops.solvers.steady import SteadyProblem


def coefficient_field(
    coefficient: str,
    shape: Sequence[int],
    *,
    alpha: float,
    tau: float,
    sigma: float | None,
    n_modes: int | None,
    high: float,
    low: float,
    threshold: float,
    lognormal_scale: float,
) -> ThresholdedField | LognormalField:
    """The permeability law named ``coefficient`` on nodes ``shape``, from a Neumann GRF ``g``.

    ``"threshold"``: ``high`` where ``g >= threshold``, ``low`` elsewhere (the FNO 12/3 fields with
    ``alpha = 2, tau = 3``); ``"lognormal"``: ``exp(lognormal_scale * g)``.
    """
    if coefficient not in ("threshold", "lognormal"):
        raise ValueError(f"coefficient={coefficient!r} must be 'threshold' or 'lognormal'")
    sigma = None if sigma is None else float(sigma)
    n_modes = None if n_modes is None else int(n_modes)
    field = CosineRandomField(shape, float(alpha), float(tau), sigma, n_modes)
    if coefficient == "threshold":
        return ThresholdedField(field, float(high), float(low), float(threshold))
    return LognormalField(field, 0.0, float(lognormal_scale))


def darcy(
    *,
    name: str,
    resolution: int,
    upsample: int,
    coefficient: str,
    forcing: float,
    face_average: FaceAverage,
    method: Method,
    solver: dict | None = None,
    **law: float | None,
) -> SteadyProblem | LinearProblem:
    """Darcy flow ``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary: ``a -> u`` pairs.

    Solved by second-order finite differences (``Darcy``) on ``(resolution - 1) * upsample + 1`` nodes per
    side and stored at every ``upsample``-th node (FNO: 421 nodes stored at 85 or 141). ``law`` are the
    arguments of :func:`coefficient_field` after ``shape``. ``solver`` (``--solver``, ``--set solver.KEY=V``):
    the ``LinearSolverOptions`` of ``specops.solvers.linear``, which then replace ``method`` (a
    :class:`LinearProblem` with per-sample solver statistics); ``None`` keeps Darcy's own solvers.
    """
    resolution = check_positive("resolution", resolution, integer=True)
    if resolution < 3:
        raise ValueError(f"resolution={resolution} must be at least 3 nodes")
    n = (resolution - 1) * check_positive("upsample", upsample, integer=True) + 1
    if solver is not None:
        system = Poisson(
            Darcy(n, face_average=face_average),
            source_field=False,
            forcing=forcing,
            descriptions=("permeability a at the nodes", "pressure u, zero on the boundary"),
        )
        a = coefficient_field(coefficient, (n, n), **law)
        return LinearProblem(name, {"a": a}, system, solver_options(solver), upsample=upsample)
    return SteadyProblem(
        name,
        coefficient_field(coefficient, (n, n), **law),
        Darcy(n, face_average=face_average, method=method),
        forcing=forcing,
        upsample=upsample,
        input_field=("a", "permeability a at the nodes"),
        output_field=("u", "pressure u, zero on the boundary"),
    )


DARCY = {
    "resolution": 64,
    "upsample": 1,
    "coefficient": "threshold",
    "forcing": 1.0,
    "face_average": "harmonic",
    "method": "direct",
    "alpha": 2.0,
    "tau": 3.0,
    "sigma": None,
    "n_modes": None,
    "high": 12.0,
    "low": 3.0,
    "threshold": 0.0,
    "lognormal_scale": 1.0,
    "solver": None,
}
PROBLEMS.register(
    "darcy", darcy, defaults=DARCY, description="2D Darcy, 12/3 thresholded coefficients, 64^2 nodes"
)
PROBLEMS.register(
    "darcy-fno",
    darcy,
    defaults={**DARCY, "resolution": 85, "upsample": 5},
    description="FNO Darcy: 12/3 coefficients (GRF alpha 2, tau 3), f = 1, 421^2 solve stored at 85^2",
    family="darcy",
)
