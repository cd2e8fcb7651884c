"""KdV trajectories from random sums of sines (``kdv``, after Brandstetter et al., ICLR 2022)."""

from __future__ import annotations

from typing import Any

from specops.registry import PROBLEMS
from specops.solvers.evolution import EvolutionProblem
from specops.solvers.kdv import KdV
from specops.solvers.random_fields import RandomSines


def kdv(
    *,
    name: str,
    nonlinearity: float,
    dispersion: float,
    length: float,
    n_waves: int,
    max_wavenumber: int,
    amplitude: float,
    **options: Any,
) -> EvolutionProblem:
    """KdV ``u_t + a u u_x + b u_xxx = 0`` on ``[0, L)`` from ``RandomSines`` initial states.

    ``options`` are those of :meth:`EvolutionProblem.from_resolution`.
    """
    length = float(length)
    return EvolutionProblem.from_resolution(
        name,
        lambda n: KdV(n, float(nonlinearity), float(dispersion), length),
        lambda n: RandomSines(n, length, int(n_waves), int(max_wavenumber), float(amplitude)),
        **options,
    )


PROBLEMS.register(
    "kdv",
    kdv,
    defaults={
        "nonlinearity": 6.0,
        "dispersion": 1.0,
        "length": 64.0,
        "n_waves": 5,
        "max_wavenumber": 3,
        "amplitude": 0.5,
        "resolution": 128,
        "upsample": 2,
        "t_final": 10.0,
        "save_interval": 0.5,
        "dt": 1e-3,
        "stepper": "etdrk4",
    },
    description="KdV trajectories from random sines, L = 64",
)
