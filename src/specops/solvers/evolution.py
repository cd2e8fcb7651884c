"""Evolution problems: a periodic equation from random initial states, as trajectories or ``u0 -> u(T)`` pairs.

A problem is the composition (as jax-cfd composes equation, grid and stepper)

    equation (a ``PeriodicEquation``, which owns the solver grid)
    x initial condition (a sampler on that grid, one seed per sample)
    x save times (``SaveTimes``)
    x stepper and time step
    x the stored grid (every ``upsample``-th solver node).

``EvolutionProblem.from_resolution`` builds the equation and the sampler from factories of the solver's
grid size, for presets given as flat arguments (``resolution``, ``upsample``, ``t_final`` ...).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from specops.seeding import check_seeds
from specops.solvers.base import PeriodicEquation
from specops.solvers.integrate import integrate
from specops.solvers.problem import (
    Problem,
    check_dtype,
    check_positive,
    field_layout,
    synchronize,
)
from specops.solvers.steppers import Stepper, make_stepper


@dataclass(frozen=True, init=False)
class SaveTimes:
    """When an evolution is stored: every ``save_interval`` from 0 to ``t_final``, or only at 0 and ``t_final``.

    With ``save_interval`` the problem stores the trajectory at ``0, save_interval, ..., t_final`` (its
    ``kind`` is ``"trajectory"``); without, the pair (initial state, state at ``t_final``) (``"operator"``).
    ``t_final`` must be a whole number of save intervals (to a relative 1e-9).
    """

    t_final: float
    save_interval: float | None
    times: tuple[float, ...]

    def __init__(self, t_final: float, save_interval: float | None = None) -> None:
        t_final = check_positive("t_final", t_final)
        if save_interval is None:
            times = (0.0, t_final)
        else:
            save_interval = check_positive("save_interval", save_interval)
            n = round(t_final / save_interval)
            if n < 1 or abs(n * save_interval - t_final) > 1e-9 * t_final:
                raise ValueError(
                    f"t_final={t_final} must be a whole number of save_interval={save_interval}; adjust either"
                )
            times = (*(i * save_interval for i in range(n)), t_final)
        object.__setattr__(self, "t_final", t_final)
        object.__setattr__(self, "save_interval", save_interval)
        object.__setattr__(self, "times", times)

    @property
    def trajectory(self) -> bool:
        """Whether every save time is stored (else only the initial and the final state)."""
        return self.save_interval is not None

    def parameters(self) -> dict[str, Any]:
        return {"t_final": self.t_final, "save_interval": self.save_interval, "save_times": list(self.times)}


def _dealiasing(equation: PeriodicEquation) -> str:
    dealias = equation.dealias
    if isinstance(dealias, torch.Tensor):
        return "a custom de-aliasing mask on the nonlinear term"
    if dealias is None:
        return "no de-aliasing"
    if dealias == 2.0 / 3.0:
        return "2/3 de-aliasing of the nonlinear term"
    return f"{dealias:g} de-aliasing of the nonlinear term"


class EvolutionProblem(Problem):
    """Trajectories or ``u0 -> u(t_final)`` pairs of a periodic evolution equation from random initial states.

    The initial state is drawn by ``initial_condition`` and integrated by ``integrate`` on the equation's
    grid; the stored fields are the solver's values at every ``upsample``-th node (exact point values, no
    filtering), so the stored grid has ``equation.shape / upsample`` points per axis.

    Parameters
    ----------
    name : str
        The registry name (stored in the files).
    equation : PeriodicEquation
        The equation on the solver grid, e.g. ``Burgers(1024, viscosity=0.1)``.
    initial_condition : sampler
        ``sample(seeds, *, dtype, device) -> (len(seeds), *equation.shape)`` and ``parameters()``, e.g.
        ``GaussianRandomField((1024,), 2, 5, 25)``; sample ``i`` must depend on ``seeds[i]`` alone.
    times : SaveTimes
    stepper : Stepper or str
        An instance or a registered name (``"etdrk4"``).
    dt : float
        Largest time step: each save interval is split into ``ceil(interval / dt)`` equal steps.
    upsample : int
        Stride of the stored nodes on the solver grid.
    field : str
        Name of the stored field (``"u"``; the initial state of a pair is ``field + "0"``).
    """

    def __init__(
        self,
        name: str,
        equation: PeriodicEquation,
        initial_condition: Any,
        times: SaveTimes,
        *,
        stepper: str | Stepper,
        dt: float,
        upsample: int = 1,
        field: str = "u",
    ) -> None:
        if not isinstance(equation, PeriodicEquation):
            raise TypeError(
                f"equation={type(equation).__name__} is not a PeriodicEquation; time-independent problems "
                f"such as Darcy are SteadyProblems (specops.solvers.steady)"
            )
        if not isinstance(times, SaveTimes):
            raise TypeError(
                f"times={times!r} must be a SaveTimes, e.g. SaveTimes(t_final=1.0, save_interval=0.1)"
            )
        self.name = str(name)
        self.equation = equation
        self.upsample = check_positive("upsample", upsample, integer=True)
        if any(n % self.upsample for n in equation.shape):
            raise ValueError(f"upsample={upsample} must divide the solver grid {equation.shape}")
        self.shape = tuple(n // self.upsample for n in equation.shape)
        if min(self.shape) < 4:
            raise ValueError(f"the stored grid {self.shape} must have at least 4 points per axis")
        if tuple(getattr(initial_condition, "shape", ())) != equation.shape:
            raise ValueError(
                f"initial_condition samples on {getattr(initial_condition, 'shape', None)}, the equation's grid "
                f"is {equation.shape}; build both on the same grid"
            )
        self.initial_condition = initial_condition
        self.times = times
        self.stepper = make_stepper(stepper)
        self.dt = check_positive("dt", dt)
        self.field = str(field)
        if times.trajectory:
            self.input_fields = self.output_fields = (self.field,)
        else:
            self.input_fields, self.output_fields = (f"{self.field}0",), (self.field,)

    @classmethod
    def from_resolution(
        cls,
        name: str,
        equation: Callable[[int], PeriodicEquation],
        initial_condition: Callable[[int], Any],
        *,
        resolution: int,
        upsample: int,
        t_final: float,
        save_interval: float | None,
        dt: float,
        stepper: str | Stepper,
        field: str = "u",
    ) -> EvolutionProblem:
        """The problem with ``resolution`` stored points per axis, solved on ``resolution * upsample``.

        ``equation(n)`` and ``initial_condition(n)`` build the equation and the sampler on ``n`` points per
        axis; the other arguments are those of :class:`EvolutionProblem` and :class:`SaveTimes`.
        """
        resolution = check_positive("resolution", resolution, integer=True)
        if resolution < 4:
            raise ValueError(f"resolution={resolution} must be at least 4 grid points")
        n = resolution * check_positive("upsample", upsample, integer=True)
        return cls(
            name,
            equation(n),
            initial_condition(n),
            SaveTimes(t_final, save_interval),
            stepper=stepper,
            dt=dt,
            upsample=upsample,
            field=field,
        )

    @property
    def trajectory(self) -> bool:
        return self.times.trajectory

    @property
    def ndim(self) -> int:
        return self.equation.ndim

    def generate(self, seeds, *, device=None, dtype=torch.float32):
        seeds = check_seeds(seeds)
        dtype = check_dtype(dtype)
        u0 = self.initial_condition.sample(seeds, dtype=dtype, device=device)
        if u0.dim() == self.ndim + 1:  # scalar samplers give (B, *grid); vector ones (B, C, *grid)
            u0 = u0.unsqueeze(1)
        traj = integrate(self.equation, u0, self.times.times, stepper=self.stepper, dt=self.dt).states
        stride = (slice(None), slice(None), slice(None)) + (slice(None, None, self.upsample),) * self.ndim
        traj = self.store(traj[stride].contiguous())
        if self.trajectory:
            return {self.field: traj}
        return {f"{self.field}0": traj[:, 0].contiguous(), self.field: traj[:, -1].contiguous()}

    def store(self, traj: torch.Tensor) -> torch.Tensor:
        """The stored fields of the subsampled solver trajectory ``(B, T, C, *grid)`` (identity here; filtered-DNS
        problems coarse-grain instead)."""
        return traj

    def n_steps(self) -> int:
        """Time steps of the full solve: each save interval is split into ``ceil(interval / dt)`` steps."""
        return sum(math.ceil((b - a) / self.dt - 1e-9) for a, b in itertools.pairwise(self.times.times))

    def estimate_seconds_per_sample(self, batch_size: int = 8, *, device=None) -> float:
        """Solver wall time per sample for a batch, extrapolated from two short solves.

        ``t(n) = setup + n * per_step`` is fitted to solves of ``n1 < n2`` steps (the sampling of the initial
        states is in ``setup``) and evaluated at the full :meth:`n_steps`; short problems are timed directly.
        """
        total = self.n_steps()
        if total <= 64:
            return self.time_solver(batch_size, device=device)
        seeds = list(range(batch_size))

        def timed(n: int) -> float:
            synchronize(device)
            start = time.perf_counter()
            u0 = self.initial_condition.sample(seeds, device=device).unsqueeze(1)
            integrate(self.equation, u0, [0.0, n * self.dt], stepper=self.stepper, dt=self.dt)
            synchronize(device)
            return time.perf_counter() - start

        timed(4)  # warm-up: first calls build plans and caches
        n1, n2 = 16, 48
        t1, t2 = min(timed(n1) for _ in range(2)), min(timed(n2) for _ in range(2))
        per_step = max(t2 - t1, 0.0) / (n2 - n1)
        setup = max(t1 - n1 * per_step, 0.0)
        return (setup + total * per_step) / batch_size

    def fields(self) -> dict[str, dict[str, Any]]:
        pde, name = self.equation.name, self.field
        if self.trajectory:
            return {
                name: {
                    "layout": field_layout("trajectory", self.ndim),
                    "shape": (len(self.times.times), self.equation.n_channels, *self.shape),
                    "description": f"{pde} solution {name} at the save times t",
                }
            }
        layout = field_layout("operator", self.ndim)
        return {
            f"{name}0": {
                "layout": layout,
                "shape": (self.equation.n_channels, *self.shape),
                "description": f"{pde} initial state {name}(t=0)",
            },
            name: {
                "layout": layout,
                "shape": (self.equation.n_channels, *self.shape),
                "description": f"{pde} solution {name}(t={self.times.t_final:g})",
            },
        }

    def coords(self) -> dict[str, np.ndarray]:
        """Stored nodes ``x_j = j L / n`` per axis (``x``, ``y``, ``z``) and, for trajectories, the times ``t``."""
        out = {
            "xyz"[axis]: np.arange(n, dtype=np.float64) * (length / n)
            for axis, (n, length) in enumerate(zip(self.shape, self.equation.lengths))
        }
        if self.trajectory:
            out["t"] = np.asarray(self.times.times, dtype=np.float64)
        return out

    def metadata(self) -> dict[str, Any]:
        eq = self.equation
        lengths = list(eq.lengths)
        return {
            "problem": self.name,
            "pde": eq.name,
            "solver": f"pseudo-spectral Fourier, {_dealiasing(eq)}",
            "stepper": self.stepper.name,
            "stepper_order": self.stepper.order,
            "dt": self.dt,
            "domain": [[0.0, length] for length in lengths],
            "resolution": list(self.shape),
            "solver_resolution": list(eq.shape),
            "boundary": "periodic",
            "parameters": {"equation": eq.formula, **eq.parameters()},
            "stepping": {
                "stepper": self.stepper.parameters(),
                "time_steps": "each save interval split into ceil(interval / dt) equal steps",
            },
            "grid": {
                "boundary": "periodic",
                "lengths": lengths,
                "resolution": list(self.shape),
                "solver_resolution": list(eq.shape),
                "subsampling": f"every {self.upsample}th solver node",
                "nodes": "x_j = j L / n, j = 0 .. n-1",
            },
            "time": self.times.parameters(),
            "initial_condition": self.initial_condition.parameters(),
            "seeding": "sample i uses torch.Generator().manual_seed(seeds[i]) for its initial state",
        }
