"""2D Navier-Stokes vorticity trajectories: FNO forcing, Kolmogorov flow and the FNO benchmarks.

``ns`` (FNO forcing, moderate defaults), ``ns-kolmogorov`` (Kochkov et al., PNAS 2021) and
``ns-fno-1e-3``, ``ns-fno-1e-4``, ``ns-fno-1e-5``: the FNO benchmarks (Li et al., ICLR 2021, sec. 5.3) on
the unit torus, ``w0 ~ GRF(alpha 2.5, tau 7)``, solved on 256^2 with the original generator's scheme
(Crank-Nicolson viscosity, forward-Euler advection, dt = 1e-4), stored at 64^2 every time unit.
"""

from __future__ import annotations

import math
from typing import Any

from specops.registry import PROBLEMS
from specops.solvers.evolution import EvolutionProblem
from specops.solvers.navier_stokes import FNOForcing, KolmogorovForcing, NavierStokes2D
from specops.solvers.random_fields import GaussianRandomField

FORCINGS = {"fno": FNOForcing, "kolmogorov": KolmogorovForcing, "none": None}


def make_forcing(forcing: str, amplitude: float, wavenumber: int) -> FNOForcing | KolmogorovForcing | None:
    """The vorticity forcing named ``forcing``: ``"fno"``, ``"kolmogorov"`` or ``"none"`` (free decay)."""
    if forcing not in FORCINGS:
        raise ValueError(f"forcing={forcing!r} must be 'fno', 'kolmogorov' or 'none'")
    kind = FORCINGS[forcing]
    return None if kind is None else kind(float(amplitude), int(wavenumber))


def navier_stokes(
    *,
    name: str,
    viscosity: float,
    drag: float,
    forcing: str,
    forcing_amplitude: float,
    forcing_wavenumber: int,
    length: float,
    alpha: float,
    tau: float,
    sigma: float | None,
    **options: Any,
) -> EvolutionProblem:
    """2D incompressible Navier-Stokes (vorticity ``w``) on ``[0, L)^2`` from GRF initial vorticity.

    ``forcing``: ``"fno"`` (``a (sin 2 pi k (x + y) / L + cos ...)``, the FNO data with ``a = 0.1, k =
    1``), ``"kolmogorov"`` (body force ``a sin(2 pi k y / L)`` along x) or ``"none"``; ``a`` and ``k`` are
    ``forcing_amplitude`` and ``forcing_wavenumber``. ``sigma=None`` takes the GRF default ``tau^(alpha -
    1)``. ``options`` are those of :meth:`EvolutionProblem.from_resolution`.
    """
    force = make_forcing(forcing, forcing_amplitude, forcing_wavenumber)
    viscosity, drag, length = float(viscosity), float(drag), float(length)
    sigma = None if sigma is None else float(sigma)
    return EvolutionProblem.from_resolution(
        name,
        lambda n: NavierStokes2D(n, viscosity, force, drag, length),
        lambda n: GaussianRandomField((n, n), float(alpha), float(tau), sigma, length),
        field="w",
        **options,
    )


NS = {
    "viscosity": 1e-3,
    "drag": 0.0,
    "forcing": "fno",
    "forcing_amplitude": 0.1,
    "forcing_wavenumber": 1,
    "length": 1.0,
    "alpha": 2.5,
    "tau": 7.0,
    "sigma": None,
    "resolution": 64,
    "upsample": 1,
    "t_final": 10.0,
    "save_interval": 1.0,
    "dt": 1e-3,
    "stepper": "crank_nicolson_rk4",
}
PROBLEMS.register(
    "ns", navier_stokes, defaults=NS, description="2D Navier-Stokes, FNO forcing, nu = 1e-3, 64^2"
)
PROBLEMS.register(
    "ns-kolmogorov",
    navier_stokes,
    defaults={
        **NS,
        "forcing": "kolmogorov",
        "forcing_amplitude": 1.0,
        "forcing_wavenumber": 4,
        "drag": 0.1,
        "length": 2 * math.pi,
        "upsample": 2,
        "dt": 2e-3,
        "save_interval": 0.5,
    },
    description="Kolmogorov flow (Kochkov et al. 2021): k = 4, drag 0.1, nu = 1e-3, [0, 2 pi)^2",
    family="ns",
)
for _nu, _t in (("1e-3", 50.0), ("1e-4", 30.0), ("1e-5", 20.0)):
    PROBLEMS.register(
        f"ns-fno-{_nu}",
        navier_stokes,
        defaults={
            **NS,
            "viscosity": float(_nu),
            "t_final": _t,
            "upsample": 4,
            "dt": 1e-4,
            "stepper": "fno_crank_nicolson",
        },
        description=f"FNO Navier-Stokes nu = {_nu}, T = {_t:g}: 256^2 solve, 64^2 every time unit",
        family="ns",
    )
