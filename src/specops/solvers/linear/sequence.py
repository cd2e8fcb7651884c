"""Choosing the linear solver of a problem (``--solver``, ``--set solver.KEY=VALUE``) and recording each sample's solves.

========== ============================================================== =================================
method     solves each system with                                        order of the systems
========== ============================================================== =================================
direct     sparse LU (SuperLU)                                            as sampled
cg         preconditioned CG (symmetric positive definite systems only)   as sampled
gmres      restarted GMRES(m) (``restart`` = m)                           as sampled
gcrodr     GCRO-DR(m, k), ``U`` recycled to the next system (``reuse``)   as sampled
skr        GCRO-DR(m, k) (or recycled CG: ``recycler="cg"``), recycled    greedy nearest-neighbour tour
========== ============================================================== =================================

``skr`` is sorting + Krylov recycling (Wang et al., ICLR 2024). ``sort`` overrides the order of any
iterative method (``"greedy"`` or ``"none"``). Recycling runs within one ``generate`` call (one batch of
samples): the recycled space is dropped between calls, so each batch is a function of its seeds alone and
resumed, sharded and single-batch generations agree bit for bit. A larger ``--batch-size`` gives the tour
more neighbours and the recycled space more systems.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specops.registry import Options
from specops.solvers.linear.base import DirectSolver, LinearSolver, SolveInfo, check_rtol
from specops.solvers.linear.cg import RecycledCG
from specops.solvers.linear.gcrodr import GCRODR
from specops.solvers.linear.operators import PRECONDITIONERS, Preconditioner, make_preconditioner
from specops.solvers.linear.sorting import GreedyOrder, NaturalOrder

METHODS = ("direct", "cg", "gmres", "gcrodr", "skr")
SORTS = ("auto", "none", "greedy")
RECYCLERS = ("gcrodr", "cg")


@dataclass(frozen=True)
class LinearSolverOptions(Options):
    """The ``solver.*`` keys of a linear problem (``specops generate PROBLEM --set solver.recycle=20``).

    ``rtol`` in ``(0, 1)``; ``maxiter``: products with ``A`` per system before a sample is flagged as not
    converged; ``restart`` = m and ``recycle`` = k of GCRO-DR(m, k) (``0 < k < m``; for ``recycler="cg"``,
    ``restart`` is the number of search directions kept for the Ritz vectors); ``reuse``: carry the recycled
    space to the next system; ``precond``: ``none``, ``jacobi``, ``ilu`` or ``amg``; ``ilu_drop``,
    ``ilu_fill``: ILU threshold and fill factor; ``sort``: ``auto`` (greedy for ``skr``), ``none`` or
    ``greedy``; ``sort_modes``: Fourier modes per axis of the sorting features (0: whole fields).
    """

    method: str = "direct"
    rtol: float = 1e-8
    maxiter: int = 5000
    restart: int = 40
    recycle: int = 10
    reuse: bool = True
    precond: str = "ilu"
    ilu_drop: float = 1e-4
    ilu_fill: float = 10.0
    sort: str = "auto"
    sort_modes: int = 8
    recycler: str = "gcrodr"

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, value, valid in (
            ("method", self.method, METHODS),
            ("sort", self.sort, SORTS),
            ("recycler", self.recycler, RECYCLERS),
        ):
            if value not in valid:
                raise ValueError(f"solver.{key}={value!r} is not one of {', '.join(valid)}")
        if self.precond not in PRECONDITIONERS:
            raise ValueError(
                f"solver.precond={self.precond!r} is not one of {', '.join(PRECONDITIONERS.names())}"
            )
        check_rtol(self.rtol)
        if self.maxiter < 1:
            raise ValueError(f"solver.maxiter={self.maxiter} must be at least 1")
        recycles = self.method == "gcrodr" or (self.method == "skr" and self.recycler == "gcrodr")
        if recycles and not 0 < self.recycle < self.restart:
            raise ValueError(
                f"solver.recycle={self.recycle} is out of range for {self.method}: it needs "
                f"0 < recycle < solver.restart={self.restart} (e.g. recycle=10, restart=40)"
            )
        if self.method == "skr" and self.recycler == "cg" and not 0 < self.recycle <= self.restart:
            raise ValueError(f"solver.recycle={self.recycle} must be in 1..solver.restart={self.restart}")
        if self.sort_modes < 0:
            raise ValueError(f"solver.sort_modes={self.sort_modes} must be at least 0 (0: whole fields)")

    def build(self) -> tuple[LinearSolver, NaturalOrder | GreedyOrder]:
        """The solver object and the ordering these options name (strings resolved here, once)."""
        if self.method == "direct":
            solver: LinearSolver = DirectSolver()
        else:
            common = {"rtol": self.rtol, "maxiter": self.maxiter, "preconditioner": self._preconditioner()}
            if self.method == "gmres":
                solver = GCRODR(self.restart, 0, reuse=False, **common)
            elif self.method == "cg":
                solver = RecycledCG(0, self.restart, reuse=False, **common)
            elif self.method == "skr" and self.recycler == "cg":
                solver = RecycledCG(self.recycle, self.restart, reuse=self.reuse, **common)
            else:
                solver = GCRODR(self.restart, self.recycle, reuse=self.reuse, **common)
        sort = ("greedy" if self.method == "skr" else "none") if self.sort == "auto" else self.sort
        order = (
            GreedyOrder(self.sort_modes) if sort == "greedy" and self.method != "direct" else NaturalOrder()
        )
        return solver, order

    def _preconditioner(self) -> Preconditioner:
        if self.precond == "ilu":
            return make_preconditioner("ilu", drop_tol=self.ilu_drop, fill_factor=self.ilu_fill)
        return make_preconditioner(self.precond)


@dataclass
class SampleStats:
    """One sample's solves together: summed ``iterations`` and ``matvecs``, the worst ``residual``."""

    systems: int = 0
    iterations: int = 0
    matvecs: int = 0
    residual: float = 0.0
    converged: bool = True

    def add(self, info: SolveInfo) -> None:
        self.systems += 1
        self.iterations += info.iterations
        self.matvecs += info.matvecs
        self.residual = max(self.residual, info.residual)
        self.converged = self.converged and info.converged


class SampleSolver:
    """A solver used sample after sample: ``solve`` as the solver's, ``take()`` the sample's statistics."""

    def __init__(self, solver: LinearSolver) -> None:
        self.solver = solver
        self._stats = SampleStats()

    def solve(self, matrix, b, x0=None):
        x, info = self.solver.solve(matrix, b, x0)
        self._stats.add(info)
        return x

    def take(self) -> SampleStats:
        """The statistics of the solves since the last ``take`` (one sample's)."""
        stats, self._stats = self._stats, SampleStats()
        return stats


def solver_options(value: Any) -> LinearSolverOptions:
    """``value`` (a mapping of ``solver.*`` keys, an options object or None) as checked options."""
    return LinearSolverOptions.coerce(value, "solver")
