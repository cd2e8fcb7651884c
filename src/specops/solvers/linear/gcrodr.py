"""GCRO-DR(m, k): GMRES with deflated restarting and subspace recycling across systems; GMRES(m) is k = 0.

Parks, de Sturler, Mackey, Johnson, Maiti, "Recycling Krylov subspaces for sequences of linear systems",
SIAM J. Sci. Comput. 28 (2006) 1651-1674, Algorithm 2 (notation kept). Right preconditioning: the Krylov
method runs on ``B = A M^{-1}`` and ``x = x_0 + M^{-1} y``.

The recycled space is ``U`` (``n x k``) with ``C = B U`` orthonormal. For a new system (a new matrix):
``C~ = B U``, ``C~ = Q R``, ``C = Q``, ``U = U R^{-1}``, then ``x += M^{-1} U C^H r``, ``r -= C C^H r``. Each
cycle runs ``m - k`` Arnoldi steps with ``(I - C C^H) B``: ``(I - C C^H) B V_j = V_{j+1} H_j``, and
``B_j = C^H B V_j``. With ``U~ = U D`` (``D`` scales ``U``'s columns to unit norm),
``W = [U~, V_j]`` and ``V^ = [C, V_{j+1}]`` (orthonormal), ``B W = V^ G`` with

    G = [[D, B_j], [0, H_j]]

and the cycle minimises ``||r - B W y|| = ||V^^H r - G y||`` over ``y``. The new ``U`` is spanned by the
``k`` harmonic Ritz vectors of smallest magnitude, ``G^H G z = theta G^H V^^H W z`` (Parks et al. eq. 2.13):
``Y = W P_k``, ``G P_k = Q R``, ``C = V^ Q``, ``U = Y R^{-1}``. The first cycle of the first system (no
``U`` yet) is a GMRES(m) cycle, which is the same formula with no ``C``. With the same matrix as the previous
solve, ``C`` is kept (no products); for another matrix it is rebuilt from ``U`` (``k`` products), so the
space recycled from the previous matrix deflates the new one where they are close (the premise of SKR:
Wang et al., ICLR 2024).

Real systems keep real arithmetic: a complex pair of harmonic Ritz vectors contributes its real and
imaginary parts. The small dense problems (least squares, eigenvalues) run in NumPy/SciPy, the long
vectors in torch on the matrix's device. Orthogonalisation is classical Gram-Schmidt, repeated once when
the norm drops below 0.7 of its value (Daniel, Gragg, Kaufman, Stewart, Math. Comp. 30 (1976) 772-795;
"twice is enough": Giraud, Langou, Rozloznik 2005).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
import torch

from specops.solvers.linear.base import LinearSolver, SolveInfo, relative_residual
from specops.solvers.linear.operators import Preconditioner, SystemMatrix


class GCRODR(LinearSolver):
    """GCRO-DR(m, k) with the recycled space carried from one ``solve`` to the next (``reuse``).

    Parameters
    ----------
    restart : int
        ``m``: dimension of the search space per cycle, recycled vectors included.
    recycle : int
        ``k``: recycled harmonic Ritz vectors, ``0 <= k < m``; ``0`` is restarted GMRES(m).
    reuse : bool
        Carry ``U`` to the next system (recycling across systems); ``False`` deflates within one solve only.
    rtol, maxiter, preconditioner
        Stop at ``||b - A x|| <= rtol ||b||`` or after ``maxiter`` products with ``A``.
    """

    name = "gcrodr"

    def __init__(
        self,
        restart: int = 40,
        recycle: int = 10,
        *,
        reuse: bool = True,
        rtol: float = 1e-8,
        maxiter: int = 2000,
        preconditioner: Preconditioner | None = None,
    ) -> None:
        super().__init__(rtol=rtol, maxiter=maxiter, preconditioner=preconditioner)
        if int(restart) != restart or restart < 2:
            raise ValueError(f"solver.restart={restart} must be an integer of at least 2 (Krylov vectors)")
        if int(recycle) != recycle or not 0 <= recycle < restart:
            raise ValueError(
                f"solver.recycle={recycle} must be an integer with 0 <= recycle < solver.restart={restart}; "
                f"lower it or raise restart"
            )
        self.restart, self.recycle, self.reuse = int(restart), int(recycle), bool(reuse)
        self.reset()

    def reset(self) -> None:
        self._U: torch.Tensor | None = None
        self._C: torch.Tensor | None = None
        self._matrix: SystemMatrix | None = None

    # ------------------------------------------------------------------------------------------ solve
    def solve(self, matrix, b, x0=None):
        precond = self.preconditioner.prepare(matrix)
        self._count = 0

        def op(v: torch.Tensor) -> torch.Tensor:
            self._count += 1
            return matrix.matvec(precond(v))

        b_norm = float(torch.linalg.vector_norm(b))
        x = torch.zeros_like(b) if x0 is None else x0.clone()
        if b_norm == 0:
            return torch.zeros_like(b), SolveInfo(0, 0, 0.0, True)
        r = b.clone() if x0 is None else b - matrix.matvec(x)
        self._count += x0 is not None
        target = self.rtol * b_norm
        U, C = self._recycled(matrix, precond)
        if U is not None:
            coef = C.mH @ r
            x = x + precond(U @ coef)
            r = r - C @ coef
        iterations = 0
        while True:
            while float(torch.linalg.vector_norm(r)) > target and self._count < self.maxiter:
                dx, r, U, C, steps = self._cycle(op, r, U, C, target)
                x = x + precond(dx)
                iterations += steps
            residual = relative_residual(matrix, x, b)
            self._count += 1
            if residual <= self.rtol or self._count >= self.maxiter:
                break
            r = b - matrix.matvec(x)  # the updated residual drifted from the true one: continue from it
            self._count += 1
        if self.recycle > 0 and U is not None:
            self._U, self._C, self._matrix = U, C, matrix
        return x, SolveInfo(iterations, self._count, residual, residual <= self.rtol)

    def _recycled(self, matrix: SystemMatrix, precond) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(U, C)`` for this matrix from the previous solve: kept for the same matrix, else ``C = B U``."""
        if not self.reuse or self._U is None or self._U.shape[0] != matrix.n or self._U.dtype != matrix.dtype:
            return None, None
        U = self._U.to(matrix.device)
        if matrix is self._matrix:
            return U, self._C
        C = matrix.matvec(precond(U))  # k products, as one sparse block product
        self._count += U.shape[1]
        Q, R = torch.linalg.qr(C)
        return torch.linalg.solve_triangular(R, U, upper=True, left=False), Q

    # ------------------------------------------------------------------------------------------ cycle
    def _cycle(self, op, r, U, C, target):
        """One cycle: Arnoldi with ``(I - C C^H) B`` until the least-squares residual meets ``target``.

        Returns the correction ``W y`` (before ``M^{-1}``), the new residual, the new ``(U, C)`` and the
        number of Arnoldi steps.
        """
        n_c = 0 if C is None else C.shape[1]
        steps_max = self.restart - n_c
        n, dtype, device = r.shape[0], r.dtype, r.device
        npdtype = np.complex128 if dtype.is_complex else np.float64
        beta = float(torch.linalg.vector_norm(r))
        V = torch.zeros(steps_max + 1, n, dtype=dtype, device=device)  # rows: contiguous basis vectors
        V[0] = r / beta
        H = np.zeros((steps_max + 1, steps_max), dtype=npdtype)
        Bk = np.zeros((n_c, steps_max), dtype=npdtype)
        rhs = np.zeros(n_c + steps_max + 1, dtype=npdtype)
        rhs[:n_c] = (C.mH @ r).cpu().numpy() if n_c else 0.0
        rhs[n_c] = beta
        d = None if U is None else 1.0 / torch.linalg.vector_norm(U, dim=0)
        C_rows = C.mH.contiguous() if n_c else None  # C^H as rows: products without conjugate views
        givens = _GivensResidual(beta, steps_max)
        for j in range(steps_max):
            w = op(V[j])
            if n_c:
                for _ in range(2):
                    c = C_rows @ w
                    w = w - C @ c
                    Bk[:, j] += c.cpu().numpy()
            basis = V[: j + 1]
            before = float(torch.linalg.vector_norm(w))
            h = (basis @ w.conj()).conj()
            w = w - h @ basis
            after = float(torch.linalg.vector_norm(w))
            if after < 0.7 * before:  # cancellation: a second pass restores orthogonality (DGKS 1976)
                again = (basis @ w.conj()).conj()
                w = w - again @ basis
                h = h + again
                after = float(torch.linalg.vector_norm(w))
            H[: j + 1, j] = h.resolve_conj().cpu().numpy()
            H[j + 1, j] = after
            breakdown = H[j + 1, j] <= 1e-14 * beta
            if not breakdown:
                V[j + 1] = w / H[j + 1, j]
            res = givens.add(H[: j + 2, j])
            if res <= target or breakdown or self._count >= self.maxiter:
                break
        s = j + 1
        V = V.T  # columns, as in the formulas
        G = _assemble(d, Bk, H, s)
        y = np.linalg.lstsq(G, rhs[: n_c + s + 1], rcond=None)[0]
        W = V[:, :s] if n_c == 0 else torch.cat([U * d, V[:, :s]], dim=1)
        Vhat = V[:, : s + 1] if n_c == 0 else torch.cat([C, V[:, : s + 1]], dim=1)
        y_t = torch.from_numpy(y).to(device)
        r_new = Vhat @ torch.from_numpy(rhs[: n_c + s + 1] - G @ y).to(device)
        if self.recycle > 0:
            U, C = self._harmonic_ritz(W, Vhat, G, V[:, : s + 1], U, C, d)
        return W @ y_t, r_new, U, C, s

    def _harmonic_ritz(self, W, Vhat, G, V, U_old, C_old, d):
        """New ``(U, C)`` from the ``k`` harmonic Ritz vectors of smallest magnitude (Parks et al. eq. 2.13)."""
        n_c = 0 if C_old is None else C_old.shape[1]
        s = W.shape[1] - n_c
        VhW = np.zeros(G.shape, dtype=G.dtype)
        if n_c:
            VhW[:n_c, :n_c] = (C_old.mH @ (U_old * d)).cpu().numpy()
            VhW[n_c:, :n_c] = (V.mH @ (U_old * d)).cpu().numpy()
        VhW[n_c : n_c + s, n_c:] = np.eye(s)
        k = min(self.recycle, W.shape[1])
        P = _smallest_eigenvectors(G.conj().T @ G, G.conj().T @ VhW, k, real=not np.iscomplexobj(G))
        if P is None:
            return U_old, C_old
        Q, R = np.linalg.qr(G @ P)
        diag = np.abs(np.diag(R))
        if diag.min() <= 1e-12 * diag.max():
            return U_old, C_old
        device = W.device
        C_new = Vhat @ torch.from_numpy(Q).to(device)
        U_new = W @ torch.from_numpy(scipy.linalg.solve_triangular(R.T, P.T, lower=True).T).to(device)
        return U_new, C_new

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "restart": self.restart, "recycle": self.recycle, "reuse": self.reuse}


class _GivensResidual:
    """The least-squares residual ``min_y ||beta e_1 - H_j y||`` after each Arnoldi step, by Givens rotations.

    With a recycled space the top rows ``[D, B_j]`` of ``G`` can always be fitted (``D`` is invertible), so
    the residual of the whole problem is that of the Hessenberg part (Saad, *Iterative Methods*, §6.5.3).
    """

    def __init__(self, beta: float, steps: int) -> None:
        self.g = beta  # the last entry of the rotated right-hand side
        self.rotations: list[tuple[complex, complex]] = []

    def add(self, column: np.ndarray) -> float:
        """Rotate the new column ``H[:j+2, j]``, eliminate its last entry, return ``|residual|``."""
        col = column.tolist()  # Python scalars: a few times faster than NumPy's for short loops
        for i, (c, s) in enumerate(self.rotations):
            col[i], col[i + 1] = (
                c.conjugate() * col[i] + s.conjugate() * col[i + 1],
                -s * col[i] + c * col[i + 1],
            )
        j = len(self.rotations)
        r = math.hypot(abs(col[j]), abs(col[j + 1]))
        c, s = (col[j] / r, col[j + 1] / r) if r > 0 else (1.0, 0.0)
        self.rotations.append((c, s))
        self.g = -s * self.g
        return abs(self.g)


def _assemble(d: torch.Tensor | None, Bk: np.ndarray, H: np.ndarray, s: int) -> np.ndarray:
    """``G = [[D, B_s], [0, H_s]]`` after ``s`` Arnoldi steps (``H_s`` alone without a recycled space)."""
    n_c = Bk.shape[0]
    G = np.zeros((n_c + s + 1, n_c + s), dtype=H.dtype)
    if n_c:
        G[:n_c, :n_c] = np.diag(d.cpu().numpy())
        G[:n_c, n_c:] = Bk[:, :s]
    G[n_c:, n_c:] = H[: s + 1, :s]
    return G


def _smallest_eigenvectors(A: np.ndarray, B: np.ndarray, k: int, *, real: bool) -> np.ndarray | None:
    """An orthonormal basis of the eigenvectors of ``A z = theta B z`` with the ``k`` smallest ``|theta|``.

    For ``real`` problems a complex eigenvector contributes its real and imaginary parts (its conjugate
    pair spans the same real plane), and the basis is real.
    """
    try:
        theta, Z = scipy.linalg.eig(A, B)
    except (np.linalg.LinAlgError, ValueError):
        return None
    finite = np.isfinite(theta)
    if finite.sum() < k:
        return None
    order = np.argsort(np.where(finite, np.abs(theta), np.inf), kind="stable")
    columns = []
    for i in order[: min(len(order), 2 * k)]:
        if not finite[i]:
            break
        z = Z[:, i]
        if real:
            columns.append(z.real)
            if np.abs(z.imag).max() > 1e-12 * np.abs(z).max():
                columns.append(z.imag)
        else:
            columns.append(z)
        if len(columns) >= k:
            break
    Q, R = np.linalg.qr(np.stack(columns[:k], axis=1))
    keep = np.abs(np.diag(R)) > 1e-12 * np.abs(np.diag(R)).max()
    return Q[:, keep] if keep.any() else None
