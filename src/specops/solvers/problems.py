"""Dataset kinds: a ``Problem`` turns seeds into samples and describes them (the data layer's contract).

``make_problem(name, **overrides)`` builds a registered problem or preset. Every problem has

- ``name``, ``input_fields``, ``output_fields``;
- ``generate(seeds, *, device=None, dtype=torch.float32) -> dict[str, Tensor]``: one sample per seed,
  sample ``i`` a function of ``seeds[i]`` alone (batches, shards and single-sample regeneration agree bit
  for bit on CPU). Operator pairs are ``(sample, channel, *space)``, trajectories
  ``(sample, time, channel, *space)``;
- ``fields()``: per field, its ``layout``, per-sample ``shape`` and ``description``;
- ``coords()``: ``x`` (and ``y``) of the stored grid, ``t`` (save times) for trajectories;
- ``metadata()``: everything needed to regenerate, JSON-serializable;
- ``solver_seconds_per_sample`` / ``time_solver()``: the solver's wall time per sample at the stored output.

Presets: ``burgers-fno``, ``darcy-fno``, ``ns-fno-1e-3``, ``ns-fno-1e-4``, ``ns-fno-1e-5`` reproduce the FNO
benchmarks (Li et al., ICLR 2021); ``burgers``, ``kdv``, ``ks``, ``ns``, ``ns-kolmogorov``, ``darcy`` have
moderate defaults. ``resolution``, ``upsample`` (solver grid = ``upsample`` times finer), ``t_final``,
``save_interval`` and ``dt`` are overridable on every evolution problem.
"""

from __future__ import annotations

import itertools
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from specops.registry import PROBLEMS
from specops.solvers.base import PeriodicEquation
from specops.solvers.burgers import Burgers
from specops.solvers.darcy import Darcy
from specops.solvers.integrate import integrate
from specops.solvers.kdv import KdV
from specops.solvers.ks import KuramotoSivashinsky
from specops.solvers.navier_stokes import FNOForcing, KolmogorovForcing, NavierStokes2D
from specops.solvers.random_fields import (
    CosineRandomField,
    GaussianRandomField,
    LognormalField,
    RandomSines,
    ThresholdedField,
)
from specops.solvers.steppers import Stepper, make_stepper


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    try:
        out = [int(s) for s in seeds]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seeds={seeds!r} must be a sequence of integers, one per sample") from exc
    if not out:
        raise ValueError("seeds is empty; pass one integer seed per sample")
    if any(s < 0 or s >= 2**63 for s in out):
        raise ValueError("seeds must be non-negative integers below 2**63")
    return out


def _positive(name: str, value, integer: bool = False):
    if integer:
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value} must be a positive integer")
        return int(value)
    if not (float(value) > 0 and math.isfinite(float(value))):
        raise ValueError(f"{name}={value} must be a positive finite number")
    return float(value)


class Problem(ABC):
    """A dataset kind: how to make samples from seeds, and how to describe them."""

    name: str
    input_fields: tuple[str, ...]
    output_fields: tuple[str, ...]

    @abstractmethod
    def generate(
        self,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, torch.Tensor]:
        """One sample per seed, as a dict of field name to tensor (layouts in ``fields()``)."""

    @abstractmethod
    def fields(self) -> dict[str, dict[str, Any]]:
        """Per generated field: ``layout`` ("sample,channel,x" ...), per-sample ``shape``, ``description``."""

    @abstractmethod
    def coords(self) -> dict[str, np.ndarray]:
        """Coordinates of the stored grid (``x``, ``y``) and, for trajectories, the save times ``t``."""

    @abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Everything needed to regenerate the data (JSON-serializable)."""

    def time_solver(
        self, n_samples: int = 1, *, seed: int = 0, device=None, dtype: torch.dtype = torch.float32
    ) -> float:
        """Wall-clock seconds per sample to generate ``n_samples`` samples (solver and sampling)."""
        seeds = list(range(seed, seed + _positive("n_samples", n_samples, integer=True)))
        if device is not None and torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        self.generate(seeds, device=device, dtype=dtype)
        if device is not None and torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - start) / len(seeds)

    @property
    def solver_seconds_per_sample(self) -> float:
        """Seconds to generate one sample on the CPU at the stored resolution (measured once, cached)."""
        if getattr(self, "_solver_seconds", None) is None:
            self._solver_seconds = self.time_solver(1)
        return self._solver_seconds

    def estimate_seconds_per_sample(self, batch_size: int = 8, *, device=None) -> float:
        """Solver wall time per sample for a batch of ``batch_size`` samples (float32), at the stored output.

        Problems whose full solve is long override this with an extrapolation from a short one.
        """
        return self.time_solver(batch_size, device=device)

    def _dtype(self, dtype: torch.dtype) -> torch.dtype:
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} is not supported; use torch.float32 or torch.float64")
        return dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class EvolutionProblem(Problem):
    """A periodic evolution equation from random initial states: trajectories or ``u0 -> u(T)`` pairs.

    The initial state is sampled and the equation solved on a grid ``upsample`` times finer than
    ``resolution``; the stored fields are the solver's values at the coarse nodes (exact point values, no
    filtering). With ``save_interval`` the problem stores the trajectory at ``0, save_interval, ...,
    t_final``; without, the pair (initial state, state at ``t_final``).
    """

    pde: str = "equation"
    field: str = "u"
    ndim: int = 1

    def __init__(
        self,
        *,
        name: str,
        resolution: int,
        upsample: int,
        t_final: float,
        save_interval: float | None,
        dt: float,
        stepper: str | Stepper,
        lengths: float,
    ) -> None:
        self.name = str(name)
        self.resolution = _positive("resolution", resolution, integer=True)
        if self.resolution < 4:
            raise ValueError(f"resolution={resolution} must be at least 4 grid points")
        self.upsample = _positive("upsample", upsample, integer=True)
        self.t_final = _positive("t_final", t_final)
        self.dt = _positive("dt", dt)
        self.stepper = make_stepper(stepper)
        self.lengths = float(lengths)
        if save_interval is None:
            self.save_times = [0.0, self.t_final]
            self.input_fields, self.output_fields = (f"{self.field}0",), (self.field,)
        else:
            save_interval = _positive("save_interval", save_interval)
            n = round(self.t_final / save_interval)
            if n < 1 or abs(n * save_interval - self.t_final) > 1e-9 * self.t_final:
                raise ValueError(
                    f"t_final={t_final} must be a whole number of save_interval={save_interval}; adjust either"
                )
            self.save_times = [i * save_interval for i in range(n)] + [self.t_final]
            self.input_fields = self.output_fields = (self.field,)
        self.save_interval = save_interval
        self.solver_resolution = self.resolution * self.upsample
        self._equation: PeriodicEquation | None = None

    @property
    def trajectory(self) -> bool:
        return self.save_interval is not None

    # ----- to define per equation
    @abstractmethod
    def make_equation(self, n: int) -> PeriodicEquation:
        """The equation on a grid of ``n`` points per side."""

    @abstractmethod
    def make_sampler(self, n: int):
        """The initial-state sampler on a grid of ``n`` points per side."""

    @abstractmethod
    def pde_parameters(self) -> dict[str, Any]:
        """The PDE's parameters for ``metadata``."""

    # ----- contract
    @property
    def equation(self) -> PeriodicEquation:
        if self._equation is None:
            self._equation = self.make_equation(self.solver_resolution)
        return self._equation

    def generate(self, seeds, *, device=None, dtype=torch.float32):
        seeds = _check_seeds(seeds)
        dtype = self._dtype(dtype)
        n = self.solver_resolution
        sampler = self.make_sampler(n)
        u0 = sampler.sample(seeds, dtype=dtype, device=device).unsqueeze(1)  # (B, 1, *grid)
        traj = integrate(self.equation, u0, self.save_times, stepper=self.stepper, dt=self.dt).states
        stride = (slice(None), slice(None), slice(None)) + (slice(None, None, self.upsample),) * self.ndim
        traj = traj[stride].contiguous()
        if self.trajectory:
            return {self.field: traj}
        return {f"{self.field}0": traj[:, 0].contiguous(), self.field: traj[:, -1].contiguous()}

    def n_steps(self) -> int:
        """Time steps of the full solve: each save interval is split into ``ceil(interval / dt)`` steps."""
        return sum(math.ceil((b - a) / self.dt - 1e-9) for a, b in itertools.pairwise(self.save_times))

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
            if device is not None and torch.device(device).type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            u0 = self.make_sampler(self.solver_resolution).sample(seeds, device=device).unsqueeze(1)
            integrate(self.equation, u0, [0.0, n * self.dt], stepper=self.stepper, dt=self.dt)
            if device is not None and torch.device(device).type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter() - start

        timed(4)  # warm-up: first calls build plans and caches
        n1, n2 = 16, 48
        t1, t2 = min(timed(n1) for _ in range(2)), min(timed(n2) for _ in range(2))
        per_step = max(t2 - t1, 0.0) / (n2 - n1)
        setup = max(t1 - n1 * per_step, 0.0)
        return (setup + total * per_step) / batch_size

    def _space(self) -> tuple[str, tuple[int, ...]]:
        axes = ",".join("xy"[: self.ndim])
        return axes, (self.resolution,) * self.ndim

    def fields(self) -> dict[str, dict[str, Any]]:
        axes, shape = self._space()
        name = self.field
        if self.trajectory:
            return {
                name: {
                    "layout": f"sample,time,channel,{axes}",
                    "shape": (len(self.save_times), 1, *shape),
                    "description": f"{self.pde} solution {name} at the save times t",
                }
            }
        return {
            f"{name}0": {
                "layout": f"sample,channel,{axes}",
                "shape": (1, *shape),
                "description": f"{self.pde} initial state {name}(t=0)",
            },
            name: {
                "layout": f"sample,channel,{axes}",
                "shape": (1, *shape),
                "description": f"{self.pde} solution {name}(t={self.t_final:g})",
            },
        }

    def coords(self) -> dict[str, np.ndarray]:
        x = np.arange(self.resolution, dtype=np.float64) * (self.lengths / self.resolution)
        out = {"x": x}
        if self.ndim == 2:
            out["y"] = x.copy()
        if self.trajectory:
            out["t"] = np.asarray(self.save_times, dtype=np.float64)
        return out

    def metadata(self) -> dict[str, Any]:
        sampler = self.make_sampler(self.solver_resolution)
        return {
            "problem": self.name,
            "pde": self.pde,
            "solver": "pseudo-spectral Fourier, 2/3 de-aliasing of the nonlinear term",
            "stepper": self.stepper.name,
            "stepper_order": self.stepper.order,
            "dt": self.dt,
            "domain": [[0.0, self.lengths]] * self.ndim,
            "resolution": [self.resolution] * self.ndim,
            "solver_resolution": [self.solver_resolution] * self.ndim,
            "boundary": "periodic",
            "parameters": self.pde_parameters(),
            "stepping": {
                "stepper": self.stepper.parameters(),
                "time_steps": "each save interval split into ceil(interval / dt) equal steps",
            },
            "grid": {
                "boundary": "periodic",
                "lengths": [self.lengths] * self.ndim,
                "resolution": [self.resolution] * self.ndim,
                "solver_resolution": [self.solver_resolution] * self.ndim,
                "subsampling": f"every {self.upsample}th solver node",
                "nodes": "x_j = j L / n, j = 0 .. n-1",
            },
            "time": {
                "t_final": self.t_final,
                "save_interval": self.save_interval,
                "save_times": self.save_times,
            },
            "initial_condition": sampler.parameters(),
            "seeding": "sample i uses torch.Generator().manual_seed(seeds[i]) for its initial state",
        }


class BurgersProblem(EvolutionProblem):
    """Viscous Burgers ``u_t + u u_x = nu u_xx`` on ``[0, L)`` from GRF initial states ``N(0, sigma^2 (-Delta + tau^2)^-alpha)``.

    The ``burgers-fno`` preset is the FNO paper's setting (sec. 5.1): ``nu = 0.1``, ``u0 ~ N(0, 625 (-Delta
    + 25 I)^-2)`` (alpha 2, tau 5, sigma 25), ``u0 -> u(1)``, solved on 8192 points and subsampled. Their
    released MATLAB generator used ``alpha = 2.5, tau = 7, sigma = 49, nu = 1e-3`` instead: pass those to
    reproduce it.
    """

    pde = "burgers"

    def __init__(
        self,
        name: str = "burgers",
        resolution: int = 256,
        upsample: int = 4,
        viscosity: float = 0.01,
        length: float = 1.0,
        t_final: float = 1.0,
        save_interval: float | None = 0.05,
        dt: float = 1e-3,
        stepper: str | Stepper = "etdrk4",
        alpha: float = 2.0,
        tau: float = 5.0,
        sigma: float = 25.0,
    ) -> None:
        self.viscosity = _positive("viscosity", viscosity)
        self.alpha, self.tau, self.sigma = float(alpha), float(tau), float(sigma)
        super().__init__(
            name=name,
            resolution=resolution,
            upsample=upsample,
            t_final=t_final,
            save_interval=save_interval,
            dt=dt,
            stepper=stepper,
            lengths=length,
        )

    def make_equation(self, n: int) -> PeriodicEquation:
        return Burgers(n, self.viscosity, self.lengths)

    def make_sampler(self, n: int):
        return GaussianRandomField((n,), self.alpha, self.tau, self.sigma, self.lengths)

    def pde_parameters(self) -> dict[str, Any]:
        return {"equation": "u_t + u u_x = nu u_xx", **self.equation.parameters()}


class KdVProblem(EvolutionProblem):
    """KdV ``u_t + a u u_x + b u_xxx = 0`` on ``[0, L)`` from random sums of sines (Brandstetter et al. 2022)."""

    pde = "kdv"

    def __init__(
        self,
        name: str = "kdv",
        resolution: int = 128,
        upsample: int = 2,
        nonlinearity: float = 6.0,
        dispersion: float = 1.0,
        length: float = 64.0,
        t_final: float = 10.0,
        save_interval: float | None = 0.5,
        dt: float = 1e-3,
        stepper: str | Stepper = "etdrk4",
        n_waves: int = 5,
        max_wavenumber: int = 3,
        amplitude: float = 0.5,
    ) -> None:
        self.nonlinearity, self.dispersion = float(nonlinearity), float(dispersion)
        self.n_waves, self.max_wavenumber, self.amplitude = (
            int(n_waves),
            int(max_wavenumber),
            float(amplitude),
        )
        super().__init__(
            name=name,
            resolution=resolution,
            upsample=upsample,
            t_final=t_final,
            save_interval=save_interval,
            dt=dt,
            stepper=stepper,
            lengths=length,
        )

    def make_equation(self, n: int) -> PeriodicEquation:
        return KdV(n, self.nonlinearity, self.dispersion, self.lengths)

    def make_sampler(self, n: int):
        return RandomSines(n, self.lengths, self.n_waves, self.max_wavenumber, self.amplitude)

    def pde_parameters(self) -> dict[str, Any]:
        return {"equation": "u_t + a u u_x + b u_xxx = 0", **self.equation.parameters()}


class KSProblem(EvolutionProblem):
    """Kuramoto-Sivashinsky ``u_t + u u_x + u_xx + nu u_xxxx = 0`` on ``[0, L)`` from random sums of sines."""

    pde = "ks"

    def __init__(
        self,
        name: str = "ks",
        resolution: int = 128,
        upsample: int = 1,
        hyperviscosity: float = 1.0,
        length: float = 32 * math.pi,
        t_final: float = 100.0,
        save_interval: float | None = 1.0,
        dt: float = 0.05,
        stepper: str | Stepper = "etdrk4",
        n_waves: int = 5,
        max_wavenumber: int = 8,
        amplitude: float = 1.0,
    ) -> None:
        self.hyperviscosity = float(hyperviscosity)
        self.n_waves, self.max_wavenumber, self.amplitude = (
            int(n_waves),
            int(max_wavenumber),
            float(amplitude),
        )
        super().__init__(
            name=name,
            resolution=resolution,
            upsample=upsample,
            t_final=t_final,
            save_interval=save_interval,
            dt=dt,
            stepper=stepper,
            lengths=length,
        )

    def make_equation(self, n: int) -> PeriodicEquation:
        return KuramotoSivashinsky(n, self.lengths, self.hyperviscosity)

    def make_sampler(self, n: int):
        return RandomSines(n, self.lengths, self.n_waves, self.max_wavenumber, self.amplitude)

    def pde_parameters(self) -> dict[str, Any]:
        return {"equation": "u_t + u u_x + u_xx + nu u_xxxx = 0", **self.equation.parameters()}


class NavierStokesProblem(EvolutionProblem):
    """2D incompressible Navier-Stokes (vorticity) on ``[0, L)^2`` from GRF initial vorticity, as trajectories.

    ``forcing``: ``"fno"`` (``a (sin 2 pi k (x + y) / L + cos ...)``, amplitude 0.1, k = 1: the FNO data),
    ``"kolmogorov"`` (body force ``a sin(2 pi k y / L)`` along x) or ``"none"`` (free decay). The
    ``ns-fno-*`` presets are the FNO benchmarks (sec. 5.3): unit torus, ``w0 ~ GRF(alpha 2.5, tau 7)``,
    solved on 256^2 with the original generator's scheme (Crank-Nicolson viscosity, forward-Euler
    advection, dt = 1e-4), stored at 64^2 every time unit.
    """

    pde = "navier_stokes"
    field = "w"
    ndim = 2

    def __init__(
        self,
        name: str = "ns",
        resolution: int = 64,
        upsample: int = 1,
        viscosity: float = 1e-3,
        forcing: str = "fno",
        forcing_amplitude: float = 0.1,
        forcing_wavenumber: int = 1,
        drag: float = 0.0,
        length: float = 1.0,
        t_final: float = 10.0,
        save_interval: float | None = 1.0,
        dt: float = 1e-3,
        stepper: str | Stepper = "crank_nicolson_rk4",
        alpha: float = 2.5,
        tau: float = 7.0,
        sigma: float | None = None,
    ) -> None:
        if forcing not in ("fno", "kolmogorov", "none"):
            raise ValueError(f"forcing={forcing!r} must be 'fno', 'kolmogorov' or 'none'")
        self.viscosity, self.drag = float(viscosity), float(drag)
        self.forcing_kind = forcing
        self.forcing_amplitude, self.forcing_wavenumber = float(forcing_amplitude), int(forcing_wavenumber)
        self.alpha, self.tau = float(alpha), float(tau)
        self.sigma = None if sigma is None else float(sigma)
        super().__init__(
            name=name,
            resolution=resolution,
            upsample=upsample,
            t_final=t_final,
            save_interval=save_interval,
            dt=dt,
            stepper=stepper,
            lengths=length,
        )

    def _forcing(self):
        if self.forcing_kind == "fno":
            return FNOForcing(self.forcing_amplitude, self.forcing_wavenumber)
        if self.forcing_kind == "kolmogorov":
            return KolmogorovForcing(self.forcing_amplitude, self.forcing_wavenumber)
        return None

    def make_equation(self, n: int) -> PeriodicEquation:
        return NavierStokes2D(n, self.viscosity, self._forcing(), self.drag, self.lengths)

    def make_sampler(self, n: int):
        return GaussianRandomField((n, n), self.alpha, self.tau, self.sigma, self.lengths)

    def pde_parameters(self) -> dict[str, Any]:
        return {
            "equation": "w_t + u . grad w = nu lap w - mu w + f, u = curl psi, -lap psi = w",
            **self.equation.parameters(),
        }


class DarcyProblem(Problem):
    """Darcy flow ``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary: ``a -> u`` pairs.

    Coefficients: ``"threshold"`` (``high`` where a Neumann GRF ``>= threshold``, ``low`` elsewhere: the FNO
    12/3 fields with ``alpha = 2, tau = 3``) or ``"lognormal"`` (``exp(scale * GRF)``). Solved by
    second-order finite differences on ``(resolution - 1) * upsample + 1`` nodes per side and stored at
    every ``upsample``-th node (FNO: 421 nodes stored at 85 or 141).
    """

    pde = "darcy"

    def __init__(
        self,
        name: str = "darcy",
        resolution: int = 64,
        upsample: int = 1,
        coefficient: str = "threshold",
        alpha: float = 2.0,
        tau: float = 3.0,
        sigma: float | None = None,
        n_modes: int | None = None,
        high: float = 12.0,
        low: float = 3.0,
        threshold: float = 0.0,
        lognormal_scale: float = 1.0,
        forcing: float = 1.0,
        face_average: str = "harmonic",
        method: str = "direct",
    ) -> None:
        if coefficient not in ("threshold", "lognormal"):
            raise ValueError(f"coefficient={coefficient!r} must be 'threshold' or 'lognormal'")
        self.name = str(name)
        self.resolution = _positive("resolution", resolution, integer=True)
        if self.resolution < 3:
            raise ValueError(f"resolution={resolution} must be at least 3 nodes")
        self.upsample = _positive("upsample", upsample, integer=True)
        self.solver_resolution = (self.resolution - 1) * self.upsample + 1
        self.coefficient = coefficient
        self.alpha, self.tau = float(alpha), float(tau)
        self.sigma = None if sigma is None else float(sigma)
        self.n_modes = None if n_modes is None else int(n_modes)
        self.high, self.low, self.threshold = float(high), float(low), float(threshold)
        self.lognormal_scale = float(lognormal_scale)
        self.forcing = float(forcing)
        self.solver = Darcy(self.solver_resolution, face_average=face_average, method=method)
        self.input_fields, self.output_fields = ("a",), ("u",)

    def make_sampler(self):
        n = self.solver_resolution
        field = CosineRandomField((n, n), self.alpha, self.tau, self.sigma, self.n_modes)
        if self.coefficient == "threshold":
            return ThresholdedField(field, self.high, self.low, self.threshold)
        return LognormalField(field, 0.0, self.lognormal_scale)

    def generate(self, seeds, *, device=None, dtype=torch.float32):
        seeds = _check_seeds(seeds)
        dtype = self._dtype(dtype)
        a = self.make_sampler().sample(seeds, dtype=torch.float64).unsqueeze(1)
        u = self.solver.solve(a, self.forcing)
        s = self.upsample
        return {
            "a": a[..., ::s, ::s].to(device=device, dtype=dtype).contiguous(),
            "u": u[..., ::s, ::s].to(device=device, dtype=dtype).contiguous(),
        }

    def fields(self) -> dict[str, dict[str, Any]]:
        shape = (1, self.resolution, self.resolution)
        return {
            "a": {
                "layout": "sample,channel,x,y",
                "shape": shape,
                "description": "permeability a at the nodes",
            },
            "u": {
                "layout": "sample,channel,x,y",
                "shape": shape,
                "description": "pressure u, zero on the boundary",
            },
        }

    def coords(self) -> dict[str, np.ndarray]:
        x = np.linspace(0.0, 1.0, self.resolution)
        return {"x": x, "y": x.copy()}

    def metadata(self) -> dict[str, Any]:
        return {
            "problem": self.name,
            "pde": self.pde,
            "solver": f"second-order finite differences, {self.solver.face_average} face averages, "
            f"{'sparse LU (SuperLU)' if self.solver.method == 'direct' else 'Jacobi-preconditioned CG'}",
            "solver_order": self.solver.order,
            "domain": [[0.0, 1.0], [0.0, 1.0]],
            "resolution": [self.resolution] * 2,
            "solver_resolution": [self.solver_resolution] * 2,
            "boundary": "dirichlet",
            "parameters": {"equation": "-div(a grad u) = f", "forcing": self.forcing},
            "discretization": self.solver.parameters(),
            "grid": {
                "boundary": "dirichlet",
                "lengths": [1.0, 1.0],
                "resolution": [self.resolution] * 2,
                "solver_resolution": [self.solver_resolution] * 2,
                "subsampling": f"every {self.upsample}th solver node",
                "nodes": "x_i = i / (n - 1), i = 0 .. n-1 (boundary included)",
            },
            "initial_condition": self.make_sampler().parameters(),
            "seeding": "sample i uses torch.Generator().manual_seed(seeds[i]) for its coefficient field",
        }


def make_problem(name: str, **overrides: Any) -> Problem:
    """Build the registered problem or preset ``name``; keyword arguments override its defaults.

    >>> problem = make_problem("ns-fno-1e-3", resolution=16, upsample=1, t_final=0.02, save_interval=0.01)
    """
    entry = PROBLEMS.get(name)
    return entry.target(**{**entry.defaults, "name": entry.name, **overrides})


_FNO_NS = {
    "resolution": 64,
    "upsample": 4,
    "forcing": "fno",
    "save_interval": 1.0,
    "dt": 1e-4,
    "stepper": "fno_crank_nicolson",
    "alpha": 2.5,
    "tau": 7.0,
}

PROBLEMS.register("burgers", BurgersProblem, description="1D viscous Burgers trajectories, nu = 0.01")
PROBLEMS.register(
    "burgers-fno",
    BurgersProblem,
    defaults={
        "resolution": 1024,
        "upsample": 8,
        "viscosity": 0.1,
        "save_interval": None,
        "dt": 2e-3,
        "alpha": 2.0,
        "tau": 5.0,
        "sigma": 25.0,
    },
    description="FNO Burgers: nu = 0.1, u0 -> u(1), solved on 8192 points, stored at 1024",
    family="burgers",
)
PROBLEMS.register("kdv", KdVProblem, description="KdV trajectories from random sines, L = 64")
PROBLEMS.register("ks", KSProblem, description="Kuramoto-Sivashinsky trajectories, L = 32 pi, ETDRK4")
PROBLEMS.register("ns", NavierStokesProblem, description="2D Navier-Stokes, FNO forcing, nu = 1e-3, 64^2")
PROBLEMS.register(
    "ns-kolmogorov",
    NavierStokesProblem,
    defaults={
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
        NavierStokesProblem,
        defaults={**_FNO_NS, "viscosity": float(_nu), "t_final": _t},
        description=f"FNO Navier-Stokes nu = {_nu}, T = {_t:g}: 256^2 solve, 64^2 every time unit",
        family="ns",
    )
PROBLEMS.register("darcy", DarcyProblem, description="2D Darcy, 12/3 thresholded coefficients, 64^2 nodes")
PROBLEMS.register(
    "darcy-fno",
    DarcyProblem,
    defaults={"resolution": 85, "upsample": 5},
    description="FNO Darcy: 12/3 coefficients (GRF alpha 2, tau 3), f = 1, 421^2 solve stored at 85^2",
    family="darcy",
)
