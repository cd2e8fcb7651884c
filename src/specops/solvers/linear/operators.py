"""Sparse system matrices whose matvecs run on torch tensors, and the preconditioners of the Krylov solvers.

A :class:`SystemMatrix` holds one sparse matrix ``A`` as SciPy CSR (assembly, factorizations, ILU, AMG)
and, on a CUDA device, as a torch sparse CSR copy: ``A.matvec(x)`` takes and returns a torch vector on the
solver's device either way, so the Krylov methods (``gcrodr.py``, ``cg.py``) are the same code on CPU and
GPU. On the CPU the SciPy product reads the torch vector's memory without a copy.

Preconditioners (right preconditioning ``A M^{-1} y = b``, ``x = M^{-1} y``):

========== ================================================ ======================================
name       ``M``                                            reference
========== ================================================ ======================================
``none``   ``I``
``jacobi`` ``diag(A)``                                      Saad, *Iterative Methods* (2003) §10.2
``ilu``    incomplete LU with threshold (SuperLU ``spilu``)  Saad (2003) §10.4 (ILUT)
``amg``    smoothed-aggregation AMG V-cycle (``pyamg``)     Vanek, Mandel, Brezina (1996)
========== ================================================ ======================================

``prepare(A)`` builds ``M^{-1}`` for one matrix and returns a callable; it is cached by the matrix
object, so the implicit steps of one sample (the same matrix each step) factor once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
import torch

from specops.registry import Registry

PRECONDITIONERS = Registry("preconditioner")
Apply = Callable[[torch.Tensor], torch.Tensor]


class SystemMatrix:
    """A sparse ``A`` (float64 or complex128) with ``matvec`` on torch vectors on ``device``.

    Parameters
    ----------
    matrix : scipy sparse matrix, square
    device : torch device of the Krylov vectors (default CPU)
    symmetric : bool
        Whether ``A`` is symmetric positive definite (recycled CG is allowed only then).
    torch_matvec : bool, optional
        Multiply with a torch sparse CSR copy (default: on a GPU only; SciPy's product on the CPU).
    """

    def __init__(
        self,
        matrix: sp.spmatrix,
        *,
        device: torch.device | str | None = None,
        symmetric: bool = False,
        torch_matvec: bool | None = None,
    ) -> None:
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix has shape {matrix.shape}; a linear system needs a square matrix")
        self.csr = sp.csr_matrix(matrix)
        if self.csr.dtype not in (np.float64, np.complex128):
            self.csr = self.csr.astype(np.complex128 if np.iscomplexobj(self.csr.data) else np.float64)
        self.device = torch.device(device or "cpu")
        self.dtype = torch.complex128 if self.csr.dtype == np.complex128 else torch.float64
        self.symmetric = bool(symmetric)
        self.n = int(self.csr.shape[0])
        self._torch = None
        if torch_matvec or (torch_matvec is None and self.device.type != "cpu"):
            with warnings.catch_warnings():  # "sparse CSR support is in beta": products are all we use
                warnings.simplefilter("ignore", UserWarning)
                self._torch = torch.sparse_csr_tensor(
                    torch.from_numpy(self.csr.indptr.astype(np.int64)),
                    torch.from_numpy(self.csr.indices.astype(np.int64)),
                    torch.from_numpy(self.csr.data),
                    size=self.csr.shape,
                    check_invariants=False,
                ).to(self.device)

    def matvec(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for a vector ``x`` ``(n,)`` or a block of vectors ``(n, k)`` (one sparse product) on ``device``."""
        if self._torch is not None:
            return (self._torch @ x.unsqueeze(1)).squeeze(1) if x.dim() == 1 else self._torch @ x
        return torch.from_numpy(np.asarray(self.csr @ x.numpy()))

    def vector(self, values: Any) -> torch.Tensor:
        """``values`` as a Krylov vector: this matrix's dtype, on its device."""
        return torch.as_tensor(np.asarray(values), dtype=self.dtype).to(self.device)

    def __repr__(self) -> str:
        return f"SystemMatrix(n={self.n}, nnz={self.csr.nnz}, dtype={self.csr.dtype}, device={self.device})"


def _on_cpu(apply: Callable[[np.ndarray], np.ndarray], matrix: SystemMatrix) -> Apply:
    """A NumPy preconditioner as a torch one (through the CPU when the vectors live on a GPU)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        y = apply(np.ascontiguousarray(x.detach().cpu().numpy()))
        return torch.from_numpy(np.asarray(y, dtype=matrix.csr.dtype)).to(matrix.device)

    return run


class Preconditioner:
    """Base: ``prepare(A)`` returns ``x -> M^{-1} x`` for one matrix, built once per matrix object.

    ``x`` is a vector ``(n,)`` or a block ``(n, k)`` (the recycled space: one call for all its columns).
    """

    name = "none"

    def __init__(self) -> None:
        self._cache: tuple[SystemMatrix, Apply] | None = None

    def prepare(self, matrix: SystemMatrix) -> Apply:
        if self._cache is None or self._cache[0] is not matrix:
            self._cache = (matrix, self._build(matrix))
        return self._cache[1]

    def _build(self, matrix: SystemMatrix) -> Apply:
        return lambda x: x

    def parameters(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class JacobiPreconditioner(Preconditioner):
    """``M = diag(A)``: one division per unknown, on the vectors' device."""

    name = "jacobi"

    def _build(self, matrix: SystemMatrix) -> Apply:
        diag = matrix.csr.diagonal()
        if np.any(diag == 0):
            raise ValueError("Jacobi preconditioning needs a nonzero diagonal; use precond='ilu' or 'none'")
        inv = matrix.vector(1.0 / diag)
        return lambda x: x * (inv if x.dim() == 1 else inv[:, None])


class ILUPreconditioner(Preconditioner):
    """Incomplete LU with threshold dropping (``scipy.sparse.linalg.spilu``, SuperLU's ILUTP).

    Parameters
    ----------
    drop_tol : float
        Entries below ``drop_tol`` times their column's norm are dropped.
    fill_factor : float
        At most this many times the nonzeros of ``A`` in ``L + U``.
    """

    name = "ilu"

    def __init__(self, drop_tol: float = 1e-4, fill_factor: float = 10.0) -> None:
        super().__init__()
        if not 0 <= float(drop_tol) < 1:
            raise ValueError(f"ilu_drop={drop_tol} must be in [0, 1)")
        if not float(fill_factor) >= 1:
            raise ValueError(f"ilu_fill={fill_factor} must be at least 1")
        self.drop_tol, self.fill_factor = float(drop_tol), float(fill_factor)

    def _build(self, matrix: SystemMatrix) -> Apply:
        ilu = sla.spilu(sp.csc_matrix(matrix.csr), drop_tol=self.drop_tol, fill_factor=self.fill_factor)
        return _on_cpu(ilu.solve, matrix)

    def parameters(self) -> dict[str, Any]:
        return {"name": self.name, "drop_tol": self.drop_tol, "fill_factor": self.fill_factor}


class AMGPreconditioner(Preconditioner):
    """One V-cycle of smoothed-aggregation algebraic multigrid (``pyamg``, optional extra ``specops[amg]``)."""

    name = "amg"

    def __init__(self) -> None:
        super().__init__()
        try:
            import pyamg
        except ImportError as exc:
            raise ImportError(
                "precond='amg' needs pyamg, which is not installed: pip install 'specops[amg]', or choose "
                "precond='ilu' or 'jacobi'"
            ) from exc
        self._pyamg = pyamg

    def _build(self, matrix: SystemMatrix) -> Apply:
        levels = self._pyamg.smoothed_aggregation_solver(matrix.csr)
        cycle = levels.aspreconditioner(cycle="V")
        return _on_cpu(lambda x: cycle.matvec(x) if x.ndim == 1 else cycle.matmat(x), matrix)


PRECONDITIONERS.register("none", Preconditioner, description="no preconditioner")
PRECONDITIONERS.register("jacobi", JacobiPreconditioner, description="M = diag(A)")
PRECONDITIONERS.register("ilu", ILUPreconditioner, description="incomplete LU with threshold (SciPy)")
PRECONDITIONERS.register("amg", AMGPreconditioner, description="smoothed-aggregation AMG (pyamg)")


def make_preconditioner(name: str, **options: Any) -> Preconditioner:
    """The preconditioner registered as ``name`` (``none``, ``jacobi``, ``ilu``, ``amg``)."""
    entry = PRECONDITIONERS.get(name)
    return entry.target(**options)
