"""Linear problems: random parameter fields, one or more sparse linear systems per sample, a chosen solver.

A problem is the composition

    parameter samplers (one per input field, one seed per sample)
    x a system (``Poisson``, ``Heat``, ``Helmholtz``: ``solve(inputs, solver, device) -> outputs``)
    x linear-solver options (``LinearSolverOptions``: direct, cg, gmres, gcrodr, skr; preconditioner; order)
    x the stored grid (every ``upsample``-th node).

The samples of one ``generate`` call are solved one after the other, in the order the options choose (a
greedy tour of their parameter fields for ``skr``), with one solver object, so a recycling solver carries
its subspace from sample to sample. Each sample keeps its own seed and index; what each needed (Krylov
iterations, products with ``A``, the worst relative residual, whether it converged, its position in the
solve order) comes back per sample from :meth:`LinearProblem.generate_with_info` and is stored in the file
(``/sample_info``). A sample that does not converge is kept and flagged, not an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from specops.seeding import check_seeds
from specops.solvers.linear.sequence import LinearSolverOptions, SampleSolver
from specops.solvers.problem import Problem, check_dtype, check_positive, field_layout

SAMPLE_INFO = {
    "iterations": "Krylov iterations of the sample's solves (0 for the direct solver)",
    "matvecs": "products with the system matrix, recycling and residual checks included",
    "residual": "largest relative residual ||b - A x|| / ||b|| of the sample's solves",
    "converged": "1 if every solve of the sample met the tolerance, 0 if it hit the iteration cap",
    "solve_order": "position of the sample in the order its batch was solved",
}


class LinearProblem(Problem):
    """Pairs ``inputs -> outputs`` from parameter fields and linear solves.

    Parameters
    ----------
    name : str
        The registry name.
    samplers : mapping of input field name to sampler
        ``sample(seeds, *, dtype, device) -> (len(seeds), *system.shape)`` and ``parameters()``; the keys
        are the system's input fields, and each sampler draws from the sample's own seed.
    system : Poisson, Heat, Helmholtz, ...
        ``inputs``, ``outputs`` (name, description, channels), ``shape``, ``name``, ``formula``, ``order``,
        ``boundary``, ``symmetric``, ``describe()``, ``parameters()`` and ``solve(inputs, solver, device)``.
    solver : LinearSolverOptions
    upsample : int
        Stride of the stored nodes; must divide ``n - 1``.
    """

    def __init__(
        self,
        name: str,
        samplers: dict[str, Any],
        system: Any,
        solver: LinearSolverOptions,
        *,
        upsample: int = 1,
    ) -> None:
        self.name, self.system, self.options = str(name), system, solver
        names = tuple(field for field, _ in system.inputs)
        if tuple(samplers) != names:
            raise ValueError(f"samplers are given for {tuple(samplers)}; the system's inputs are {names}")
        for key, sampler in samplers.items():
            if tuple(sampler.shape) != tuple(system.shape):
                raise ValueError(f"sampler of {key!r} samples on {sampler.shape}, the grid is {system.shape}")
        if solver.method == "cg" or (solver.method == "skr" and solver.recycler == "cg"):
            if not system.symmetric:
                raise ValueError(
                    f"solver.method={solver.method!r} with conjugate gradients needs a symmetric positive "
                    f"definite system; {system.name} is not: use gmres, gcrodr or skr (recycler=gcrodr)"
                )
        self.samplers = dict(samplers)
        self.upsample = check_positive("upsample", upsample, integer=True)
        if any((n - 1) % self.upsample for n in system.shape):
            raise ValueError(f"upsample={upsample} must divide n - 1 for the {system.shape} nodes")
        self.shape = tuple((n - 1) // self.upsample + 1 for n in system.shape)
        self.input_fields = names
        self.output_fields = tuple(field for field, _, _ in system.outputs)

    @property
    def solver_resolution(self) -> int:
        return self.system.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def generate(self, seeds, *, device=None, dtype=torch.float32):
        return self.generate_with_info(seeds, device=device, dtype=dtype)[0]

    def generate_with_info(
        self, seeds, *, device=None, dtype=torch.float32
    ) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
        """The samples (as ``generate``) and per-sample solver statistics (keys of ``SAMPLE_INFO``)."""
        seeds = check_seeds(seeds)
        dtype = check_dtype(dtype)
        params = {key: s.sample(seeds, dtype=torch.float64) for key, s in self.samplers.items()}
        solver, ordering = self.options.build()
        runner = SampleSolver(solver)
        order = ordering.order(list(params.values()))
        outputs: dict[int, dict[str, torch.Tensor]] = {}
        n = len(seeds)
        info = {
            "iterations": np.zeros(n, np.int64),
            "matvecs": np.zeros(n, np.int64),
            "residual": np.zeros(n, np.float64),
            "converged": np.zeros(n, np.int64),
            "solve_order": np.zeros(n, np.int64),
        }
        solver.reset()  # each call starts afresh: a batch depends on its own seeds only
        for rank, i in enumerate(order):
            outputs[i] = self.system.solve({k: v[i] for k, v in params.items()}, runner, device)
            stats = runner.take()
            info["iterations"][i], info["matvecs"][i] = stats.iterations, stats.matvecs
            info["residual"][i], info["converged"][i] = stats.residual, int(stats.converged)
            info["solve_order"][i] = rank
        stored = (Ellipsis,) + (slice(None, None, self.upsample),) * self.ndim
        data = {k: v.unsqueeze(1)[stored] for k, v in params.items()}
        for name in self.output_fields:
            data[name] = torch.stack([outputs[i][name] for i in range(n)])[stored]
        data = {k: v.to(device=device, dtype=dtype).contiguous() for k, v in data.items()}
        return data, info

    def sample_info(self) -> dict[str, str]:
        """What ``generate_with_info`` reports per sample: name -> description."""
        return dict(SAMPLE_INFO)

    def fields(self) -> dict[str, dict[str, Any]]:
        layout = field_layout("operator", self.ndim)
        out = {
            k: {"layout": layout, "shape": (1, *self.shape), "description": d} for k, d in self.system.inputs
        }
        for k, d, channels in self.system.outputs:
            out[k] = {"layout": layout, "shape": (channels, *self.shape), "description": d}
        return out

    def coords(self) -> dict[str, np.ndarray]:
        """Stored nodes ``x_i = i / (m - 1)`` per axis, boundary included."""
        return {"xyz"[axis]: np.linspace(0.0, 1.0, m) for axis, m in enumerate(self.shape)}

    def metadata(self) -> dict[str, Any]:
        solver_shape = list(self.system.shape)
        options = self.options.to_plain()
        return {
            "problem": self.name,
            "pde": self.system.name,
            "solver": f"{self.system.describe()}; linear solver {self.options.method}",
            "solver_order": self.system.order,
            "linear_solver": options,
            "domain": [[0.0, 1.0]] * self.ndim,
            "resolution": list(self.shape),
            "solver_resolution": solver_shape,
            "boundary": self.system.boundary,
            "parameters": {"equation": self.system.formula},
            "discretization": self.system.parameters(),
            "grid": {
                "boundary": self.system.boundary,
                "lengths": [1.0] * self.ndim,
                "resolution": list(self.shape),
                "solver_resolution": solver_shape,
                "subsampling": f"every {self.upsample}th solver node",
                "nodes": "x_i = i / (n - 1), i = 0 .. n-1 (boundary included)",
            },
            "initial_condition": {key: s.parameters() for key, s in self.samplers.items()},
            "seeding": "sample i draws its first input field from seeds[i], each further one from "
            "splitmix64(seeds[i] + stream) mod 2^63 (see the samplers' stream)",
        }


def splitmix64(value: int) -> int:
    """The splitmix64 output function (Steele, Lea, Flood, OOPSLA 2014) on ``value`` mod ``2^64``."""
    z = (value + 0x9E3779B97F4A7C15) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return z ^ (z >> 31)


class SeedStream:
    """A sampler drawing from a seed derived from the sample's: ``splitmix64(seed + stream) mod 2^63``.

    Gives the second input field of a sample (a source next to a coefficient) its own random numbers, a
    function of the sample's seed alone, uncorrelated with the first field's and with other samples'.
    """

    def __init__(self, sampler: Any, stream: int) -> None:
        self.sampler, self.stream = sampler, int(stream)
        self.shape = sampler.shape

    def sample(self, seeds, *, dtype=torch.float32, device=None) -> torch.Tensor:
        derived = [splitmix64(int(s) + self.stream) % 2**63 for s in check_seeds(seeds)]
        return self.sampler.sample(derived, dtype=dtype, device=device)

    def parameters(self) -> dict[str, Any]:
        return {**self.sampler.parameters(), "seed_stream": self.stream}


class ConstantField:
    """The same field for every seed: ``value`` at every node of ``shape``."""

    def __init__(self, shape, value: float = 1.0) -> None:
        self.shape, self.value = tuple(int(n) for n in shape), float(value)

    def sample(self, seeds, *, dtype=torch.float32, device=None) -> torch.Tensor:
        return torch.full((len(check_seeds(seeds)), *self.shape), self.value, dtype=dtype, device=device)

    def parameters(self) -> dict[str, Any]:
        return {"sampler": "constant", "value": self.value, "shape": list(self.shape)}
