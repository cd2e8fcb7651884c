"""2D Helmholtz ``-Δu - k(x)^2 u = f`` on the unit square with an impedance (first-order absorbing) boundary.

The boundary condition is ``∂u/∂n - i k u = g`` (outward normal ``n``), the first-order absorbing
condition of Engquist and Majda (Math. Comp. 31 (1977) 629-651), i.e. the Sommerfeld radiation condition
imposed at the boundary; ``g = 0`` lets outgoing waves leave. The system is complex, non-Hermitian and,
for ``k h`` not small, strongly indefinite: the hard case for Krylov methods that SKR targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from specops.solvers.linear.operators import SystemMatrix


class Helmholtz:
    """Second-order finite differences for ``-Δu - k^2 u = f``, ``∂u/∂n - i k u = g`` on ``[0, 1]^2``.

    Every node ``x_i = i h``, ``h = 1 / (n - 1)``, boundary included, is an unknown (row-major, ``x``
    first). The five-point Laplacian at a boundary node uses a ghost node eliminated by the centred boundary
    condition, e.g. on ``x = 0``: ``u_{-1} = u_1 + 2h (g + i k u_0)``, so the row there reads

        ``(2 u_0 - 2 u_1) / h^2 + (y terms) - 2 i k u_0 / h - k^2 u_0 = f + 2 g / h``

    (corners take both directions). Second order in ``h`` (checked against a manufactured solution in the
    tests); accurate for about 10 or more nodes per wavelength, ``k h <~ 0.6``.

    Parameters
    ----------
    n : int
        Nodes per side, at least 3.
    source : Tensor, optional
        The right-hand side ``f`` at the nodes ``(n, n)``; default zero.
    """

    name = "helmholtz"
    formula = "-lap u - k^2 u = f, du/dn - i k u = 0 on the boundary"
    order = 2
    boundary = "impedance"
    symmetric = False
    inputs = (("k", "wavenumber k at the nodes"),)
    outputs = (("u", "real and imaginary part of the wave field u", 2),)

    def __init__(self, n: int, source: torch.Tensor | None = None) -> None:
        if int(n) != n or n < 3:
            raise ValueError(f"n={n}: Helmholtz needs at least 3 nodes per side")
        self.n, self.h = int(n), 1.0 / (int(n) - 1)
        if source is None:
            source = torch.zeros(self.n, self.n, dtype=torch.float64)
        if tuple(source.shape) != (self.n, self.n):
            raise ValueError(f"source has shape {tuple(source.shape)}; expected ({self.n}, {self.n})")
        self.source = source.to(torch.float64)
        m, h = self.n, self.h
        second = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1], format="lil")
        second[0, 1] = second[m - 1, m - 2] = -2.0  # ghost nodes of the boundary condition
        second = sp.csr_matrix(second) / h**2
        eye = sp.identity(m, format="csr")
        self._laplacian = (sp.kron(second, eye) + sp.kron(eye, second)).tocsr()
        edges = np.zeros((m, m))
        edges[0, :] += 1
        edges[-1, :] += 1
        edges[:, 0] += 1
        edges[:, -1] += 1
        self._edges = edges.ravel()  # sides a node lies on: 0 inside, 1 on an edge, 2 at a corner

    def matrix(self, k: torch.Tensor) -> sp.csr_matrix:
        """The complex system matrix for the wavenumber field ``k`` ``(n, n)``."""
        kv = self._check(k).numpy().ravel()
        diag = -(kv**2) - 2j * kv * self._edges / self.h
        return (self._laplacian + sp.diags(diag)).tocsr()

    def rhs(self, f: torch.Tensor | None = None, g: dict[str, torch.Tensor] | None = None) -> np.ndarray:
        """``f + 2 g / h`` on the boundary nodes; ``g`` maps sides ``x0, x1, y0, y1`` to ``(n,)`` values."""
        b = (self.source if f is None else f.to(torch.float64)).numpy().astype(np.complex128)
        for side, values in (g or {}).items():
            index = {
                "x0": (0, slice(None)),
                "x1": (-1, slice(None)),
                "y0": (slice(None), 0),
                "y1": (slice(None), -1),
            }
            if side not in index:
                raise ValueError(f"boundary side {side!r} must be one of x0, x1, y0, y1")
            b[index[side]] += 2.0 * np.asarray(values, dtype=np.complex128) / self.h
        return b.ravel()

    def solve(self, inputs: dict[str, torch.Tensor], solver: Any, device=None) -> dict[str, torch.Tensor]:
        """The field ``u`` for ``inputs["k"]``, as ``(2, n, n)`` real and imaginary parts (float64)."""
        matrix = SystemMatrix(self.matrix(inputs["k"]), device=device)
        u = solver.solve(matrix, matrix.vector(self.rhs())).cpu().reshape(self.n, self.n)
        return {"u": torch.stack([u.real, u.imag])}

    def _check(self, k: torch.Tensor) -> torch.Tensor:
        k = torch.as_tensor(k, dtype=torch.float64).cpu()
        if tuple(k.shape) != (self.n, self.n):
            raise ValueError(f"k has shape {tuple(k.shape)}; expected ({self.n}, {self.n})")
        if not bool(torch.isfinite(k).all()) or bool((k <= 0).any()):
            raise ValueError("the wavenumber k must be finite and positive at every node")
        return k

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.n)

    def describe(self) -> str:
        return "second-order finite differences, impedance boundary by ghost nodes"

    def parameters(self) -> dict[str, Any]:
        return {
            "pde": self.name,
            "n": self.n,
            "discretization": "five-point finite differences, node-centred, ghost-node impedance boundary",
        }

    def __repr__(self) -> str:
        return f"Helmholtz(n={self.n})"


def gaussian_source(n: int, center: tuple[float, float], width: float, amplitude: float) -> torch.Tensor:
    """``amplitude exp(-|x - center|^2 / (2 width^2))`` at the nodes of ``[0, 1]^2`` ``(n, n)`` (a point source)."""
    if not width > 0:
        raise ValueError(f"source_width={width} must be positive")
    x = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    r2 = (x[:, None] - center[0]) ** 2 + (x[None, :] - center[1]) ** 2
    return amplitude * torch.exp(-r2 / (2 * width**2))
