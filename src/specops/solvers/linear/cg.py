"""Recycled (deflated) preconditioned conjugate gradients for sequences of symmetric positive definite systems.

Deflated CG (Saad, Yeung, Erhel, Guyomarc'h, SIAM J. Sci. Comput. 21 (2000) 1909-1926, Algorithm 3.6)
with the recycled space ``U`` (``n x k``) of approximate eigenvectors of the smallest eigenvalues, as in
recycled CG (Parks et al. 2006 §6; Wang, Hao et al., SKR, ICLR 2024). With ``E = U^T A U``:

    x_0 = x + U E^{-1} U^T r,   r_0 = b - A x_0,   z = M^{-1} r,   p_0 = z - U E^{-1} (A U)^T z,
    alpha = (r, z) / (p, A p),  x += alpha p,  r -= alpha A p,  z = M^{-1} r,
    beta = (r_new, z_new) / (r, z),  p = z + beta p - U E^{-1} (A U)^T z,

so every direction is ``A``-orthogonal to ``U`` and CG runs on the part of the spectrum ``U`` leaves. After
each solve ``U`` is replaced by the ``k`` Ritz vectors of smallest Ritz value of ``A`` on
``span[U, p_0, ..., p_{l-1}]`` (the first ``l = keep`` directions): ``W^T A W y = theta W^T W y``, solved
in an orthonormal basis of ``W`` (directions nearly dependent on ``U`` are dropped). ``A U`` is kept for the
same matrix and recomputed (``k`` products) for a new one. ``k = 0`` is plain preconditioned CG. ``M`` must
be symmetric positive definite for CG's theory (Jacobi, AMG); ILU of a symmetric matrix is close to it.
"""

from __future__ import annotations

from typing import Any

import torch

from specops.solvers.linear.base import LinearSolver, SolveInfo, relative_residual
from specops.solvers.linear.operators import Preconditioner, SystemMatrix


class RecycledCG(LinearSolver):
    """Preconditioned CG, deflated by the recycled space of the previous solves (``recycle`` vectors).

    Parameters
    ----------
    recycle : int
        ``k``, recycled Ritz vectors (0: plain PCG).
    keep : int
        Search directions of a solve kept for the Ritz extraction (the first ``keep``).
    reuse : bool
        Carry ``U`` to the next system.
    rtol, maxiter, preconditioner
        Stop at ``||b - A x|| <= rtol ||b||`` or after ``maxiter`` products with ``A``.
    """

    name = "cg"

    def __init__(
        self,
        recycle: int = 0,
        keep: int = 40,
        *,
        reuse: bool = True,
        rtol: float = 1e-8,
        maxiter: int = 2000,
        preconditioner: Preconditioner | None = None,
    ) -> None:
        super().__init__(rtol=rtol, maxiter=maxiter, preconditioner=preconditioner)
        if int(recycle) != recycle or recycle < 0:
            raise ValueError(f"solver.recycle={recycle} must be a non-negative integer")
        if int(keep) != keep or keep < max(1, recycle):
            raise ValueError(f"solver.restart={keep} must be an integer of at least recycle={recycle} and 1")
        self.recycle, self.keep, self.reuse = int(recycle), int(keep), bool(reuse)
        self.reset()

    def reset(self) -> None:
        self._U: torch.Tensor | None = None
        self._AU: torch.Tensor | None = None
        self._matrix: SystemMatrix | None = None

    def solve(self, matrix, b, x0=None):
        if not matrix.symmetric:
            raise ValueError(
                "method 'cg' needs a symmetric positive definite system and this one is not (e.g. Helmholtz): "
                "use --solver gmres, gcrodr or skr"
            )
        precond = self.preconditioner.prepare(matrix)
        count = 0
        b_norm = float(torch.linalg.vector_norm(b))
        if b_norm == 0:
            return torch.zeros_like(b), SolveInfo(0, 0, 0.0, True)
        x = torch.zeros_like(b) if x0 is None else x0.clone()
        r = b.clone() if x0 is None else b - matrix.matvec(x)
        count += x0 is not None
        U, AU = (None, None)
        if self.reuse and self._U is not None and self._U.shape[0] == matrix.n:
            U = self._U
            if matrix is self._matrix:
                AU = self._AU
            else:
                AU = matrix.matvec(U)  # k products, one sparse block product
                count += U.shape[1]
            E_inv = torch.linalg.inv(U.T @ AU)
            mu = E_inv @ (U.T @ r)
            x, r = x + U @ mu, r - AU @ mu

        def deflate(z: torch.Tensor) -> torch.Tensor:
            return z if U is None else z - U @ (E_inv @ (AU.T @ z))

        target = self.rtol * b_norm
        z = precond(r)
        p = deflate(z)
        rz = torch.dot(r, z)
        P, AP = [], []
        iterations = 0
        while True:
            while float(torch.linalg.vector_norm(r)) > target and count < self.maxiter:
                Ap = matrix.matvec(p)
                count += 1
                iterations += 1
                if len(P) < self.keep:
                    P.append(p)
                    AP.append(Ap)
                alpha = rz / torch.dot(p, Ap)
                x, r = x + alpha * p, r - alpha * Ap
                z = precond(r)
                rz_new = torch.dot(r, z)
                p = deflate(z) + (rz_new / rz) * p
                rz = rz_new
            residual = relative_residual(matrix, x, b)
            count += 1
            if residual <= self.rtol or count >= self.maxiter:
                break
            r = b - matrix.matvec(x)  # restart from the true residual
            count += 1
            z = precond(r)
            p, rz = deflate(z), torch.dot(r, z)
        if self.recycle > 0:
            self._update(matrix, U, AU, P, AP)
        return x, SolveInfo(iterations, count, residual, residual <= self.rtol)

    def _update(self, matrix, U, AU, P, AP) -> None:
        """``U`` <- Ritz vectors of the ``k`` smallest Ritz values of ``A`` on ``span[U, P]``."""
        cols = ([U] if U is not None else []) + ([torch.stack(P, dim=1)] if P else [])
        if not cols:
            return
        W = torch.cat(cols, dim=1)
        AW = torch.cat(([AU] if U is not None else []) + ([torch.stack(AP, dim=1)] if AP else []), dim=1)
        # Orthonormal basis of span W from the eigenvectors of W^T W, dropping nearly dependent directions.
        gram, basis = torch.linalg.eigh(W.T @ W)
        keep = gram > 1e-12 * gram.max()
        T = basis[:, keep] / gram[keep].sqrt()
        Q, AQ = W @ T, AW @ T
        small = AQ.T @ Q
        _, Y = torch.linalg.eigh(0.5 * (small + small.T))
        k = min(self.recycle, Y.shape[1])
        self._U, self._AU, self._matrix = Q @ Y[:, :k], AQ @ Y[:, :k], matrix

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "recycle": self.recycle, "keep": self.keep, "reuse": self.reuse}
