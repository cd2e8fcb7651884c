"""Kuramoto-Sivashinsky trajectories from random sums of sines (``ks``, Kassam and Trefethen's domain)."""

from __future__ import annotations

import math
from typing import Any

from specops.registry import PROBLEMS
from specops.solvers.evolution import EvolutionProblem
from specops.solvers.ks import KuramotoSivashinsky
from specops.solvers.random_fields import RandomSines


def ks(
    *,
    name: str,
    hyperviscosity: float,
    length: float,
    n_waves: int,
    max_wavenumber: int,
    amplitude: float,
    **options: Any,
) -> EvolutionProblem:
    """Kuramoto-Sivashinsky ``u_t + u u_x + u_xx + nu u_xxxx = 0`` on ``[0, L)`` from ``RandomSines``.

    ``options`` are those of :meth:`EvolutionProblem.from_resolution`.
    """
    length = float(length)
    return EvolutionProblem.from_resolution(
        name,
        lambda n: KuramotoSivashinsky(n, length, float(hyperviscosity)),
        lambda n: RandomSines(n, length, int(n_waves), int(max_wavenumber), float(amplitude)),
        **options,
    )


PROBLEMS.register(
    "ks",
    ks,
    defaults={
        "hyperviscosity": 1.0,
        "length": 32 * math.pi,
        "n_waves": 5,
        "max_wavenumber": 8,
        "amplitude": 1.0,
        "resolution": 128,
        "upsample": 1,
        "t_final": 100.0,
        "save_interval": 1.0,
        "dt": 0.05,
        "stepper": "etdrk4",
    },
    description="Kuramoto-Sivashinsky trajectories, L = 32 pi, ETDRK4",
)
