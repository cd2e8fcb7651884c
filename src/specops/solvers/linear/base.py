"""What every linear solver of a sequence of systems shares: the result record, the checks, the direct solver.

A solver is an object with ``solve(A, b, x0=None) -> (x, SolveInfo)`` for a :class:`SystemMatrix` ``A`` and
torch vectors, and ``reset()``, which forgets what it carried from earlier systems (a recycled subspace, a
cached factorization). Solvers are stateful on purpose: solving ``A_1 x = b_1, A_2 x = b_2, ...`` one
after the other lets a Krylov solver reuse the subspace of the previous solve (``gcrodr.py``, ``cg.py``).
Every solver reports the true relative residual ``||b - A x|| / ||b||`` of the ``x`` it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import scipy.sparse as sp
import scipy.sparse.linalg as sla
import torch

from specops.solvers.linear.operators import Preconditioner, SystemMatrix


@dataclass
class SolveInfo:
    """How one solve went.

    ``iterations``: Krylov steps (one product with the preconditioned matrix each); ``matvecs``: every
    product with ``A`` (Krylov steps, rebuilding the recycled space ``C = A U`` for a new matrix, the final
    true residual); ``residual``: ``||b - A x|| / ||b||`` of the returned ``x``; ``converged``: residual at
    most the tolerance.
    """

    iterations: int = 0
    matvecs: int = 0
    residual: float = 0.0
    converged: bool = True


def relative_residual(matrix: SystemMatrix, x: torch.Tensor, b: torch.Tensor) -> float:
    """``||b - A x|| / ||b||`` (``||r||`` when ``b = 0``), computed with one product."""
    r = b - matrix.matvec(x)
    b_norm = float(torch.linalg.vector_norm(b))
    return float(torch.linalg.vector_norm(r)) / (b_norm if b_norm > 0 else 1.0)


def check_rtol(rtol: float) -> float:
    """``rtol`` if ``0 < rtol < 1``; a ValueError naming it otherwise."""
    if not (0 < float(rtol) < 1) or not math.isfinite(float(rtol)):
        raise ValueError(f"solver.rtol={rtol} must be in (0, 1), e.g. 1e-6 or 1e-8")
    return float(rtol)


class LinearSolver:
    """Base of the solvers of sequences of systems: tolerance, iteration cap and preconditioner."""

    name = "solver"

    def __init__(self, *, rtol: float = 1e-8, maxiter: int = 2000, preconditioner: Preconditioner | None):
        self.rtol = check_rtol(rtol)
        if int(maxiter) != maxiter or maxiter < 1:
            raise ValueError(
                f"solver.maxiter={maxiter} must be a positive integer (products with A per system)"
            )
        self.maxiter = int(maxiter)
        self.preconditioner = preconditioner if preconditioner is not None else Preconditioner()

    def reset(self) -> None:
        """Forget everything carried over from earlier systems."""

    def solve(
        self, matrix: SystemMatrix, b: torch.Tensor, x0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, SolveInfo]:
        raise NotImplementedError

    def parameters(self) -> dict[str, Any]:
        return {
            "method": self.name,
            "rtol": self.rtol,
            "maxiter": self.maxiter,
            "preconditioner": self.preconditioner.parameters(),
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items() if k != "method")
        return f"{type(self).__name__}({args})"


class DirectSolver(LinearSolver):
    """Sparse LU (SuperLU through SciPy, COLAMD ordering); the factorization is kept for the same matrix.

    Exact up to rounding: the reference the iterative solvers are checked against.
    """

    name = "direct"

    def __init__(self) -> None:
        super().__init__(rtol=0.5, maxiter=1, preconditioner=None)
        self._lu: tuple[SystemMatrix, Any] | None = None

    def reset(self) -> None:
        self._lu = None

    def solve(self, matrix, b, x0=None):
        if self._lu is None or self._lu[0] is not matrix:
            self._lu = (matrix, sla.splu(sp.csc_matrix(matrix.csr)))
        x = matrix.vector(self._lu[1].solve(b.detach().cpu().numpy()))
        return x, SolveInfo(0, 1, relative_residual(matrix, x, b), True)

    def parameters(self) -> dict[str, Any]:
        return {"method": self.name, "factorization": "SuperLU, COLAMD ordering"}
