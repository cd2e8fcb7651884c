"""2D Darcy flow ``-div(a grad u) = f`` on the unit square with ``u = 0`` on the boundary."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
import torch

from specops.registry import STEADY_SOLVERS

FaceAverage = Literal["harmonic", "arithmetic"]
Method = Literal["direct", "cg"]


class Darcy:
    """Second-order finite differences for ``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary.

    Nodes ``x_i = i h``, ``h = 1 / (n - 1)``, boundary included; ``a`` and ``f`` are given at the nodes.
    The flux between neighbouring nodes uses the face coefficient ``a_{i+1/2} = 2 a_i a_{i+1} / (a_i +
    a_{i+1})`` (harmonic, default) or ``(a_i + a_{i+1}) / 2`` (arithmetic), giving the five-point scheme

    ``-[a_{i+1/2,j} (u_{i+1,j} - u_ij) - a_{i-1/2,j} (u_ij - u_{i-1,j}) + (same in y)] / h^2 = f_ij``.

    Both averages are second order for smooth ``a``. The harmonic one is the default because it is the
    exact conductance of two half-cells in series: across a jump of a piecewise-constant coefficient (the
    FNO 12/3 fields) it keeps the flux continuous and the low-conductivity side limiting, where the
    arithmetic mean lets flux leak through thin low-permeability layers. The matrix is symmetric positive
    definite (an M-matrix), so the maximum principle holds: ``f >= 0`` gives ``u >= 0``.

    Linear solves, one per sample:

    - ``"direct"``: sparse LU (SuperLU through scipy) in symmetric mode with a minimum-degree ordering of
      ``A + A^T``; the sparsity structure and its CSC index arrays are built once and only the values
      change per sample (SuperLU exposes no reusable symbolic factorisation).
    - ``"cg"``: matrix-free conjugate gradients with a Jacobi preconditioner in torch, all samples at once
      on any device, float64, stopping at ``||r|| <= rtol ||f||`` per sample.

    Parameters
    ----------
    n : int
        Nodes per side (boundary included), at least 3. FNO's data use 421.
    face_average : "harmonic" or "arithmetic"
    method : "direct" or "cg"
    rtol : float
        CG tolerance on the relative residual.
    maxiter : int, optional
        CG iteration limit (default ``20 n``).
    """

    name = "darcy"
    formula = "-div(a grad u) = f"
    order = 2

    def __init__(
        self,
        n: int,
        face_average: FaceAverage = "harmonic",
        method: Method = "direct",
        rtol: float = 1e-10,
        maxiter: int | None = None,
    ) -> None:
        if n < 3:
            raise ValueError(f"n={n}: Darcy needs at least 3 nodes per side (one interior node)")
        if face_average not in ("harmonic", "arithmetic"):
            raise ValueError(f"face_average={face_average!r} must be 'harmonic' or 'arithmetic'")
        if method not in ("direct", "cg"):
            raise ValueError(f"method={method!r} must be 'direct' or 'cg'")
        self.n = int(n)
        self.h = 1.0 / (self.n - 1)
        self.face_average = face_average
        self.method = method
        self.rtol = float(rtol)
        self.maxiter = int(maxiter) if maxiter is not None else 20 * self.n
        self._structure: dict[str, np.ndarray] | None = None

    # ----- coefficients
    def _faces(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Face coefficients ``(x faces (B, n-1, n), y faces (B, n, n-1))`` from node values."""
        ax0, ax1 = a[:, :-1, :], a[:, 1:, :]
        ay0, ay1 = a[:, :, :-1], a[:, :, 1:]
        if self.face_average == "harmonic":
            return 2 * ax0 * ax1 / (ax0 + ax1), 2 * ay0 * ay1 / (ay0 + ay1)
        return 0.5 * (ax0 + ax1), 0.5 * (ay0 + ay1)

    def _check(self, a: torch.Tensor, f) -> tuple[torch.Tensor, torch.Tensor]:
        if a.dim() == 4 and a.shape[1] == 1:
            a = a[:, 0]
        n = self.n
        if a.dim() != 3 or tuple(a.shape[1:]) != (n, n):
            raise ValueError(
                f"a has shape {tuple(a.shape)}; expected (batch, 1, {n}, {n}) or (batch, {n}, {n})"
            )
        a64 = a.to(torch.float64)
        if not bool(torch.isfinite(a64).all()) or bool((a64 <= 0).any()):
            raise ValueError("a must be finite and strictly positive at every node (a permeability)")
        f64 = torch.as_tensor(f, dtype=torch.float64, device=a.device)
        if f64.dim() == 4 and f64.shape[1] == 1:
            f64 = f64[:, 0]
        if f64.dim() not in (0, 2, 3) or (f64.dim() > 0 and tuple(f64.shape[-2:]) != (n, n)):
            raise ValueError(
                f"f has shape {tuple(f64.shape)}; expected a number, ({n}, {n}) or (batch, {n}, {n})"
            )
        if not bool(torch.isfinite(f64).all()):
            raise ValueError("f holds NaN or inf; pass a finite source term")
        return a64, f64.expand(a64.shape).contiguous()

    # ----- solve
    def solve(self, a: torch.Tensor, f: float | torch.Tensor = 1.0) -> torch.Tensor:
        """Solve for every sample: ``a`` of shape ``(batch, 1, n, n)``, returns ``u`` of the same shape.

        ``f`` is a number, an ``(n, n)`` field or one field per sample. Computed in float64, returned in
        ``a``'s dtype (float32 or float64), boundary values zero.
        """
        out_dtype = a.dtype if a.dtype in (torch.float32, torch.float64) else torch.float32
        a64, f64 = self._check(a, f)
        u = self._solve_direct(a64, f64) if self.method == "direct" else self._solve_cg(a64, f64)
        return u.unsqueeze(1).to(out_dtype)

    def _build_structure(self) -> dict[str, np.ndarray]:
        n, m = self.n, self.n - 2
        node = np.arange(m * m).reshape(m, m)  # interior node (i, j) -> unknown, i, j = 1..n-2
        n_xfaces = (n - 1) * n
        xface = np.arange(n_xfaces).reshape(n - 1, n)  # between nodes (i, j) and (i + 1, j)
        yface = n_xfaces + np.arange(n * (n - 1)).reshape(n, n - 1)  # between (i, j) and (i, j + 1)
        ii, jj = np.meshgrid(np.arange(1, n - 1), np.arange(1, n - 1), indexing="ij")
        diag_faces = np.stack([xface[ii - 1, jj], xface[ii, jj], yface[ii, jj - 1], yface[ii, jj]]).reshape(
            4, -1
        )
        # Off-diagonal couplings between two interior nodes, each stored twice (symmetric).
        ox = xface[1 : n - 2, 1 : n - 1].ravel()
        px, qx = node[:-1, :].ravel(), node[1:, :].ravel()
        oy = yface[1 : n - 1, 1 : n - 2].ravel()
        py, qy = node[:, :-1].ravel(), node[:, 1:].ravel()
        rows = np.concatenate([node.ravel(), px, qx, py, qy])
        cols = np.concatenate([node.ravel(), qx, px, qy, py])
        order = np.lexsort((rows, cols))  # CSC order: by column, then row
        indptr = np.searchsorted(cols[order], np.arange(m * m + 1))
        return {
            "diag_faces": diag_faces,
            "off_faces": np.concatenate([ox, ox, oy, oy]),
            "order": order,
            "indices": rows[order].astype(np.int32),
            "indptr": indptr.astype(np.int32),
        }

    def matrix(self, a: torch.Tensor) -> sp.csc_matrix:
        """The sparse system matrix (interior unknowns, row-major) for one coefficient field ``(n, n)``."""
        a64, _ = self._check(a.reshape(1, self.n, self.n), 0.0)
        return self._matrix(a64[0])

    def _matrix(self, a: torch.Tensor) -> sp.csc_matrix:
        if self._structure is None:
            self._structure = self._build_structure()
        s = self._structure
        fx, fy = self._faces(a.unsqueeze(0))
        faces = np.concatenate([fx[0].cpu().numpy().ravel(), fy[0].cpu().numpy().ravel()]) / self.h**2
        data = np.concatenate([faces[s["diag_faces"]].sum(axis=0), -faces[s["off_faces"]]])
        m2 = (self.n - 2) ** 2
        return sp.csc_matrix((data[s["order"]], s["indices"], s["indptr"]), shape=(m2, m2))

    def _solve_direct(self, a: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        n = self.n
        out = torch.zeros(a.shape, dtype=torch.float64)
        for b in range(a.shape[0]):
            lu = sla.splu(
                self._matrix(a[b]),
                permc_spec="MMD_AT_PLUS_A",
                diag_pivot_thresh=0.0,
                options={"SymmetricMode": True},
            )
            rhs = f[b, 1 : n - 1, 1 : n - 1].cpu().numpy().ravel()
            out[b, 1 : n - 1, 1 : n - 1] = torch.from_numpy(lu.solve(rhs).reshape(n - 2, n - 2))
        return out.to(a.device)

    def apply(self, a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``-div(a grad u)`` at the interior nodes (zero on the boundary), ``(batch, n, n)``, float64."""
        fx, fy = self._faces(a)
        return self._apply(fx, fy, u)

    def _apply(self, fx: torch.Tensor, fy: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        gx = fx * (u[:, 1:, :] - u[:, :-1, :])  # flux through x faces
        gy = fy * (u[:, :, 1:] - u[:, :, :-1])
        out = torch.zeros_like(u)
        out[:, 1:-1, 1:-1] = (
            -(gx[:, 1:, 1:-1] - gx[:, :-1, 1:-1]) - (gy[:, 1:-1, 1:] - gy[:, 1:-1, :-1])
        ) / self.h**2
        return out

    def _solve_cg(self, a: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        fx, fy = self._faces(a)
        interior = torch.zeros_like(a)
        interior[:, 1:-1, 1:-1] = 1.0
        diag = torch.ones_like(a)
        diag[:, 1:-1, 1:-1] = (
            fx[:, :-1, 1:-1] + fx[:, 1:, 1:-1] + fy[:, 1:-1, :-1] + fy[:, 1:-1, 1:]
        ) / self.h**2
        inv_diag = interior / diag
        b = f * interior
        x = torch.zeros_like(b)
        r = b.clone()
        z = inv_diag * r
        p = z.clone()
        rz = (r * z).sum(dim=(1, 2))
        b_norm = b.norm(dim=(1, 2)).clamp_min(torch.finfo(torch.float64).tiny)
        for _ in range(self.maxiter):
            if bool((r.norm(dim=(1, 2)) <= self.rtol * b_norm).all()):
                return x
            ap = self._apply(fx, fy, p)
            alpha = rz / (p * ap).sum(dim=(1, 2)).clamp_min(torch.finfo(torch.float64).tiny)
            x = x + alpha[:, None, None] * p
            r = r - alpha[:, None, None] * ap
            z = inv_diag * r
            rz_new = (r * z).sum(dim=(1, 2))
            p = z + (rz_new / rz.clamp_min(torch.finfo(torch.float64).tiny))[:, None, None] * p
            rz = rz_new
        residual = (r.norm(dim=(1, 2)) / b_norm).max().item()
        if residual > self.rtol:
            raise RuntimeError(
                f"Darcy CG did not reach rtol={self.rtol} in {self.maxiter} iterations (relative residual "
                f"{residual:.2e}); raise maxiter or use method='direct'"
            )
        return x

    @property
    def shape(self) -> tuple[int, int]:
        """Nodes per axis, boundary included."""
        return (self.n, self.n)

    def describe(self) -> str:
        """The method in words: scheme, face average and linear solver."""
        solve = "sparse LU (SuperLU)" if self.method == "direct" else "Jacobi-preconditioned CG"
        return f"second-order finite differences, {self.face_average} face averages, {solve}"

    def parameters(self) -> dict[str, Any]:
        return {
            "pde": self.name,
            "n": self.n,
            "face_average": self.face_average,
            "method": self.method,
            "discretization": "five-point finite differences, node-centred",
        }

    def __repr__(self) -> str:
        return f"Darcy(n={self.n}, face_average={self.face_average!r}, method={self.method!r})"


STEADY_SOLVERS.register("darcy", Darcy)
