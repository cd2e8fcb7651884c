"""Solving sequences of sparse linear systems: direct, CG, GMRES, GCRO-DR with recycling, and SKR ordering.

``operators.py`` (SystemMatrix: matvecs on torch tensors, CPU or GPU; Jacobi / ILU / AMG preconditioners),
``base.py`` (SolveInfo, DirectSolver), ``gcrodr.py`` (GCRO-DR(m, k), GMRES(m) as k = 0), ``cg.py``
(recycled/deflated CG), ``sorting.py`` (greedy nearest-neighbour tour), ``sequence.py`` (the ``solver.*``
options of a problem, per-sample statistics). See ``docs/solvers.md``.
"""

from specops.solvers.linear.base import DirectSolver, LinearSolver, SolveInfo, relative_residual
from specops.solvers.linear.cg import RecycledCG
from specops.solvers.linear.gcrodr import GCRODR
from specops.solvers.linear.operators import (
    PRECONDITIONERS,
    AMGPreconditioner,
    ILUPreconditioner,
    JacobiPreconditioner,
    Preconditioner,
    SystemMatrix,
    make_preconditioner,
)
from specops.solvers.linear.sequence import LinearSolverOptions, SampleSolver, SampleStats, solver_options
from specops.solvers.linear.sorting import GreedyOrder, NaturalOrder, greedy_tour, low_mode_features

__all__ = [
    "GCRODR",
    "PRECONDITIONERS",
    "AMGPreconditioner",
    "DirectSolver",
    "GreedyOrder",
    "ILUPreconditioner",
    "JacobiPreconditioner",
    "LinearSolver",
    "LinearSolverOptions",
    "NaturalOrder",
    "Preconditioner",
    "RecycledCG",
    "SampleSolver",
    "SampleStats",
    "SolveInfo",
    "SystemMatrix",
    "greedy_tour",
    "low_mode_features",
    "make_preconditioner",
    "relative_residual",
    "solver_options",
]
