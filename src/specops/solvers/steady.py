"""Steady problems: a random coefficient field and the solution of a linear boundary-value problem, ``a -> u``.

A problem is the composition

    coefficient sampler (random ``a`` on the solver's nodes, one seed per sample)
    x linear solver (``solve(a, f) -> u``, e.g. ``Darcy``)
    x the stored grid (every ``upsample``-th node of the solver's grid).

Nodes include the boundary: on ``[0, 1]^d`` a solver grid of ``n`` nodes per axis is stored on
``(n - 1) / upsample + 1`` nodes, ``x_i = i / (m - 1)``, which are solver nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from specops.seeding import check_seeds
from specops.solvers.problem import Problem, check_dtype, check_positive, field_layout


class SteadyProblem(Problem):
    """Pairs ``a -> u`` with ``a`` drawn by a sampler and ``u`` solving a linear problem with zero boundary values.

    ``a`` is sampled in float64 on the CPU and the solve runs in float64 (``Darcy``); both are then cast to
    ``dtype`` and moved to ``device``.

    Parameters
    ----------
    name : str
        The registry name (stored in the files).
    coefficient : sampler
        ``sample(seeds, *, dtype, device) -> (len(seeds), *solver.shape)`` and ``parameters()``, e.g.
        ``ThresholdedField(CosineRandomField((421, 421)), 12, 3)``.
    solver : linear solver
        ``solve(a (B, 1, *shape), f) -> u`` of the same shape, with ``name``, ``formula``, ``order``,
        ``shape``, ``describe()`` and ``parameters()``, e.g. ``Darcy(421)``.
    forcing : float
        The right-hand side ``f``, constant in space.
    upsample : int
        Stride of the stored nodes on the solver grid; must divide ``n - 1``.
    input_field, output_field : (name, description)
        How the coefficient and the solution are stored.
    """

    def __init__(
        self,
        name: str,
        coefficient: Any,
        solver: Any,
        *,
        forcing: float = 1.0,
        upsample: int = 1,
        input_field: tuple[str, str] = ("a", "coefficient a at the nodes"),
        output_field: tuple[str, str] = ("u", "solution u, zero on the boundary"),
    ) -> None:
        self.name = str(name)
        self.solver = solver
        solver_shape = tuple(solver.shape)
        if tuple(getattr(coefficient, "shape", ())) != solver_shape:
            raise ValueError(
                f"coefficient samples on {getattr(coefficient, 'shape', None)}, the solver's grid is "
                f"{solver_shape}; build both on the same grid"
            )
        self.coefficient = coefficient
        self.upsample = check_positive("upsample", upsample, integer=True)
        if any((n - 1) % self.upsample for n in solver_shape):
            raise ValueError(f"upsample={upsample} must divide n - 1 for the solver's {solver_shape} nodes")
        self.shape = tuple((n - 1) // self.upsample + 1 for n in solver_shape)
        self.forcing = float(forcing)
        (a, self._a_description), (u, self._u_description) = input_field, output_field
        self.input_fields, self.output_fields = (a,), (u,)

    @property
    def solver_resolution(self) -> int:
        """Solver nodes per axis, boundary included."""
        return self.solver.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def generate(self, seeds, *, device=None, dtype=torch.float32):
        seeds = check_seeds(seeds)
        dtype = check_dtype(dtype)
        a = self.coefficient.sample(seeds, dtype=torch.float64).unsqueeze(1)
        u = self.solver.solve(a, self.forcing)
        stored = (Ellipsis,) + (slice(None, None, self.upsample),) * self.ndim
        (a_name,), (u_name,) = self.input_fields, self.output_fields
        return {
            a_name: a[stored].to(device=device, dtype=dtype).contiguous(),
            u_name: u[stored].to(device=device, dtype=dtype).contiguous(),
        }

    def fields(self) -> dict[str, dict[str, Any]]:
        layout, shape = field_layout("operator", self.ndim), (1, *self.shape)
        (a_name,), (u_name,) = self.input_fields, self.output_fields
        return {
            a_name: {"layout": layout, "shape": shape, "description": self._a_description},
            u_name: {"layout": layout, "shape": shape, "description": self._u_description},
        }

    def coords(self) -> dict[str, np.ndarray]:
        """Stored nodes ``x_i = i / (m - 1)`` per axis, boundary included."""
        return {"xyz"[axis]: np.linspace(0.0, 1.0, m) for axis, m in enumerate(self.shape)}

    def metadata(self) -> dict[str, Any]:
        solver_shape = list(self.solver.shape)
        return {
            "problem": self.name,
            "pde": self.solver.name,
            "solver": self.solver.describe(),
            "solver_order": self.solver.order,
            "domain": [[0.0, 1.0]] * self.ndim,
            "resolution": list(self.shape),
            "solver_resolution": solver_shape,
            "boundary": "dirichlet",
            "parameters": {"equation": self.solver.formula, "forcing": self.forcing},
            "discretization": self.solver.parameters(),
            "grid": {
                "boundary": "dirichlet",
                "lengths": [1.0] * self.ndim,
                "resolution": list(self.shape),
                "solver_resolution": solver_shape,
                "subsampling": f"every {self.upsample}th solver node",
                "nodes": "x_i = i / (n - 1), i = 0 .. n-1 (boundary included)",
            },
            "initial_condition": self.coefficient.parameters(),
            "seeding": "sample i uses torch.Generator().manual_seed(seeds[i]) for its coefficient field",
        }
