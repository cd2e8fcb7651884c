"""3D periodic turbulence: decaying and linearly forced HIT, the Taylor-Green vortex, filtered DNS and LES.

Velocity ``(u, v, w)`` is stored as 3 channels. Presets (small defaults; raise ``resolution`` for real runs):

- ``hit-decaying``: DNS of decaying homogeneous isotropic turbulence from a random solenoidal field with
  ``E(k) ~ k^4 exp(-2 (k / k_p)^2)`` (``SolenoidalRandomField``), ``nu = 0.01`` on ``[0, 2 pi)^3``;
- ``hit-forced``: the same with Lundgren's linear forcing ``A u`` on the modes ``|k| <= 2``;
- ``taylor-green-3d``: the 3D Taylor-Green vortex, ``nu = 0.01`` (Re = 100);
- ``hit-fdns``: ``hit-decaying`` solved on 64^3 and stored as filtered DNS on the LES grid 32^3;
- ``hit-les-smagorinsky``, ``hit-les-dynamic``: the LES equations on 32^3 (Smagorinsky ``C_s^2 = 0.01``,
  dynamic Smagorinsky) from the filtered initial field of ``hit-fdns`` (same seed, same field).

Filtered DNS: ``les_filter`` (``cutoff``, ``box``, ``gaussian``; ``none`` stores the DNS) with ``les_grid``
points per axis (``--set les_filter=box --set les_grid=32``); the DNS grid ``resolution * upsample`` must
be a multiple of ``les_grid``. LES: ``closure`` (``smagorinsky``, ``dynamic_smagorinsky``) solves on
``les_grid`` from the filtered DNS initial field (``resolution * upsample`` points); ``none`` is DNS.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from specops.registry import PROBLEMS
from specops.solvers.evolution import EvolutionProblem, SaveTimes
from specops.solvers.les import make_closure
from specops.solvers.navier_stokes3d import NavierStokes3D
from specops.solvers.turbulence import SolenoidalRandomField, TaylorGreen3D
from specops.spectral.filters import FILTERS, coarse_grain


class FilteredField:
    """A sampler on a fine grid, filtered and sampled on a coarser grid (``spectral.filters.coarse_grain``)."""

    def __init__(self, sampler: Any, kind: str, ratio: int) -> None:
        self.sampler, self.kind, self.ratio = sampler, kind, int(ratio)
        self.shape = tuple(n // self.ratio for n in sampler.shape)

    def sample(self, seeds, *, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        fine = self.sampler.sample(seeds, dtype=torch.float64, device=device)
        return coarse_grain(fine, self.kind, self.ratio, 3, self.sampler.lengths).to(dtype)

    def parameters(self) -> dict[str, Any]:
        return {**self.sampler.parameters(), "les_filter": self.kind, "filter_ratio": self.ratio}


class FilteredDNSProblem(EvolutionProblem):
    """DNS trajectories stored as filtered DNS: each saved state is ``coarse_grain``-ed onto the LES grid."""

    def __init__(self, *args: Any, les_filter: str, les_grid: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ratio, rest = divmod(self.shape[0], int(les_grid))
        if les_grid < 4 or rest or any(n != self.shape[0] for n in self.shape):
            raise ValueError(
                f"les_grid={les_grid} must divide the DNS grid {self.shape} (the filter ratio is a whole number); "
                f"choose les_grid among the divisors of {self.shape[0]}"
            )
        self.les_filter, self.ratio = les_filter, ratio
        self.dns_shape, self.shape = self.shape, (int(les_grid),) * 3

    def store(self, traj: torch.Tensor) -> torch.Tensor:
        return coarse_grain(traj, self.les_filter, self.ratio, 3, self.equation.lengths).contiguous()

    def metadata(self) -> dict[str, Any]:
        meta = super().metadata()
        meta["grid"]["subsampling"] = (
            f"filtered DNS: {self.les_filter} filter of width {self.ratio} DNS cells on {list(self.dns_shape)}, "
            f"sampled on the LES grid {list(self.shape)}"
        )
        meta["les"] = {"filter": self.les_filter, "ratio": self.ratio, "grid": list(self.shape)}
        return meta


def turbulence(
    *,
    name: str,
    initial: str,
    viscosity: float,
    peak: float,
    energy: float,
    forcing: float,
    forcing_band: float | None,
    closure: str,
    smagorinsky_coefficient: float,
    les_filter: str,
    les_grid: int,
    resolution: int,
    upsample: int,
    **options: Any,
) -> EvolutionProblem:
    """3D incompressible Navier-Stokes (velocity, 3 channels) on ``[0, 2 pi)^3`` (see the module docstring).

    ``initial``: ``"hit"`` (random solenoidal field, peak wavenumber ``peak``, energy ``energy`` per unit
    volume) or ``"taylor_green"`` (amplitude 1; ``peak`` and ``energy`` unused). ``options`` are ``t_final``,
    ``save_interval``, ``dt``, ``stepper`` of :class:`EvolutionProblem`.
    """
    if initial not in ("hit", "taylor_green"):
        raise ValueError(f"initial={initial!r} must be 'hit' or 'taylor_green'")
    if les_filter not in ("none", *FILTERS):
        raise ValueError(f"les_filter={les_filter!r} must be 'none' or one of {FILTERS}")
    length = 2 * math.pi
    n = int(resolution) * int(upsample)
    band = None if forcing_band is None else float(forcing_band)

    def sampler(m: int) -> Any:
        if initial == "hit":
            return SolenoidalRandomField((m,) * 3, float(peak), float(energy), length)
        return TaylorGreen3D((m,) * 3, 1.0, length)

    times = SaveTimes(options.pop("t_final"), options.pop("save_interval"))
    model = make_closure(closure, float(smagorinsky_coefficient))
    if model is not None:
        if n % int(les_grid):
            raise ValueError(
                f"les_grid={les_grid} does not divide the DNS grid {n} of the initial field; choose a divisor"
            )
        kind = "cutoff" if les_filter == "none" else les_filter
        equation = NavierStokes3D(int(les_grid), float(viscosity), model, float(forcing), band, length)
        initial_field = FilteredField(sampler(n), kind, n // int(les_grid))
        return EvolutionProblem(name, equation, initial_field, times, field="u", **options)
    equation = NavierStokes3D(n, float(viscosity), None, float(forcing), band, length)
    if les_filter == "none":
        return EvolutionProblem(
            name, equation, sampler(n), times, upsample=int(upsample), field="u", **options
        )
    return FilteredDNSProblem(
        name, equation, sampler(n), times, field="u", les_filter=les_filter, les_grid=int(les_grid), **options
    )


HIT = {
    "initial": "hit",
    "viscosity": 0.01,
    "peak": 4.0,
    "energy": 0.5,
    "forcing": 0.0,
    "forcing_band": None,
    "closure": "none",
    "smagorinsky_coefficient": 0.01,
    "les_filter": "none",
    "les_grid": 32,
    "resolution": 32,
    "upsample": 1,
    "t_final": 2.0,
    "save_interval": 0.1,
    "dt": 0.01,
    "stepper": "crank_nicolson_rk4",
}
PROBLEMS.register(
    "hit-decaying", turbulence, defaults=HIT, description="decaying isotropic turbulence, nu = 0.01, 32^3 DNS"
)
PROBLEMS.register(
    "hit-forced",
    turbulence,
    defaults={**HIT, "forcing": 0.1, "forcing_band": 2.0, "t_final": 5.0},
    description="linearly forced isotropic turbulence (A = 0.1 on |k| <= 2), nu = 0.01, 32^3 DNS",
    family="hit-decaying",
)
PROBLEMS.register(
    "taylor-green-3d",
    turbulence,
    defaults={**HIT, "initial": "taylor_green", "t_final": 5.0, "save_interval": 0.25},
    description="3D Taylor-Green vortex, nu = 0.01 (Re = 100), 32^3 DNS",
    family="hit-decaying",
)
PROBLEMS.register(
    "hit-fdns",
    turbulence,
    defaults={**HIT, "resolution": 64, "les_filter": "box", "dt": 0.005},
    description="decaying HIT solved on 64^3, stored as box-filtered DNS on 32^3",
    family="hit-decaying",
)
for _preset, _closure in (("hit-les-smagorinsky", "smagorinsky"), ("hit-les-dynamic", "dynamic_smagorinsky")):
    PROBLEMS.register(
        _preset,
        turbulence,
        defaults={**HIT, "resolution": 64, "les_filter": "box", "closure": _closure},
        description=f"LES ({_closure.replace('_', ' ')}) on 32^3 from hit-fdns' filtered initial field",
        family="hit-decaying",
    )
