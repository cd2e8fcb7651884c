"""Linear diffusion problems as sparse systems: Poisson/Darcy ``-div(a grad u) = f`` and the implicit heat equation.

Both use the five-point matrix of :class:`~specops.solvers.darcy.Darcy` (harmonic or arithmetic face
averages, ``u = 0`` on the boundary, interior unknowns), symmetric positive definite: every method of
``specops.solvers.linear`` applies, recycled CG included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import scipy.sparse as sp
import torch

from specops.solvers.darcy import Darcy
from specops.solvers.linear.operators import SystemMatrix

THETAS = {"backward_euler": 1.0, "crank_nicolson": 0.5}


class Poisson:
    """``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary, as one sparse system per sample.

    Inputs ``a`` (and ``f`` when ``source_field``; otherwise ``f = forcing`` everywhere), output ``u``;
    ``descriptions`` of ``a`` and ``u`` as stored (Darcy: permeability, pressure). Second order
    (Darcy's scheme). A sample whose ``a`` equals the previous sample's reuses its matrix object, so a
    constant coefficient is factored (or preconditioned) once.
    """

    name = "poisson"
    formula = "-div(a grad u) = f"
    order = 2
    boundary = "dirichlet"
    symmetric = True

    def __init__(
        self,
        darcy: Darcy,
        *,
        source_field: bool = True,
        forcing: float = 1.0,
        descriptions: tuple[str, str] = ("coefficient a at the nodes", "solution u, zero on the boundary"),
    ) -> None:
        self.darcy, self.source_field, self.forcing = darcy, bool(source_field), float(forcing)
        self.inputs = (("a", descriptions[0]),)
        self.outputs = (("u", descriptions[1], 1),)
        if self.source_field:
            self.inputs += (("f", "source f at the nodes"),)
        self._last: tuple[torch.Tensor, SystemMatrix] | None = None

    def system(self, a: torch.Tensor, device=None) -> SystemMatrix:
        """The matrix for coefficient ``a`` ``(n, n)`` (the previous one when ``a`` is the same)."""
        if (
            self._last is not None
            and torch.equal(self._last[0], a)
            and self._last[1].device == torch.device(device or "cpu")
        ):
            return self._last[1]
        matrix = SystemMatrix(self.darcy.matrix(a), device=device, symmetric=True)
        self._last = (a.clone(), matrix)
        return matrix

    def solve(self, inputs: dict[str, torch.Tensor], solver: Any, device=None) -> dict[str, torch.Tensor]:
        """``u`` ``(1, n, n)`` for ``inputs["a"]`` (and ``inputs["f"]``), float64."""
        n = self.darcy.n
        matrix = self.system(inputs["a"], device)
        f = inputs["f"] if self.source_field else torch.full((n, n), self.forcing, dtype=torch.float64)
        x = solver.solve(matrix, matrix.vector(f[1:-1, 1:-1].reshape(-1)))
        u = torch.zeros(n, n, dtype=torch.float64)
        u[1:-1, 1:-1] = x.cpu().reshape(n - 2, n - 2)
        return {"u": u[None]}

    @property
    def shape(self) -> tuple[int, int]:
        return self.darcy.shape

    def describe(self) -> str:
        return f"second-order finite differences, {self.darcy.face_average} face averages"

    def parameters(self) -> dict[str, Any]:
        return {**self.darcy.parameters(), "pde": self.name, "source_field": self.source_field}


class Heat:
    """``u_t = div(kappa grad u) + f`` on ``[0, 1]^2``, ``u = 0`` on the boundary, by the theta method.

    With ``A`` the five-point matrix of ``-div(kappa grad .)`` (``Darcy``) and ``n_steps`` steps of
    ``dt = t_final / n_steps``, each step solves one system with the same matrix

        ``(I + theta dt A) u^{n+1} = (I - (1 - theta) dt A) u^n + dt (theta f^{n+1} + (1 - theta) f^n)``,

    ``theta = 1`` backward Euler (first order, L-stable), ``theta = 1/2`` Crank-Nicolson (second order,
    A-stable); second order in space. Unconditionally stable for both. The previous state is the initial
    guess of each step, and the systems of one sample share their matrix, so a recycling solver keeps its
    space from step to step without rebuilding it.

    Parameters
    ----------
    darcy : Darcy
        The spatial operator (grid, face averages).
    t_final : float
    n_steps : int
    scheme : "backward_euler" or "crank_nicolson"
    forcing : float
        ``f``, constant in space and time (the problem's source); ``u(0) = 0``.
    """

    name = "heat"
    formula = "u_t = div(kappa grad u) + f"
    order = 2
    boundary = "dirichlet"
    symmetric = True
    inputs = (("kappa", "conductivity kappa at the nodes"),)
    outputs = (("u", "temperature u at t_final, zero on the boundary", 1),)

    def __init__(
        self,
        darcy: Darcy,
        *,
        t_final: float,
        n_steps: int,
        scheme: str = "backward_euler",
        forcing: float = 1.0,
    ) -> None:
        if scheme not in THETAS:
            raise ValueError(f"scheme={scheme!r} must be one of {', '.join(THETAS)}")
        if not float(t_final) > 0:
            raise ValueError(f"t_final={t_final} must be positive")
        if int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"n_steps={n_steps} must be a positive integer")
        self.darcy, self.t_final, self.n_steps = darcy, float(t_final), int(n_steps)
        self.scheme, self.theta, self.forcing = scheme, THETAS[scheme], float(forcing)
        self.time_order = 2 if self.theta == 0.5 else 1

    def march(
        self,
        kappa: torch.Tensor,
        solver: Any,
        *,
        u0: torch.Tensor | None = None,
        source: Callable[[float], torch.Tensor] | None = None,
        device=None,
    ) -> torch.Tensor:
        """``u(t_final)`` ``(n, n)`` from ``u0`` (default 0) with the source ``source(t)`` ``(n, n)`` (default ``forcing``)."""
        n, dt, theta = self.darcy.n, self.t_final / self.n_steps, self.theta
        stiffness = self.darcy.matrix(kappa)
        eye = sp.identity(stiffness.shape[0], format="csc")
        matrix = SystemMatrix(eye + theta * dt * stiffness, device=device, symmetric=True)
        explicit = SystemMatrix(eye - (1 - theta) * dt * stiffness, device=device) if theta < 1 else None
        const = torch.full((n, n), self.forcing, dtype=torch.float64)

        def f(t: float) -> torch.Tensor:
            return matrix.vector((const if source is None else source(t))[1:-1, 1:-1].reshape(-1))

        u = matrix.vector(torch.zeros((n - 2) ** 2) if u0 is None else u0[1:-1, 1:-1].reshape(-1))
        for step in range(self.n_steps):
            t = step * dt
            rhs = explicit.matvec(u) if explicit is not None else u
            rhs = rhs + dt * (theta * f(t + dt) + ((1 - theta) * f(t) if theta < 1 else 0))
            u = solver.solve(matrix, rhs, u)
        out = torch.zeros(n, n, dtype=torch.float64)
        out[1:-1, 1:-1] = u.cpu().reshape(n - 2, n - 2)
        return out

    def solve(self, inputs: dict[str, torch.Tensor], solver: Any, device=None) -> dict[str, torch.Tensor]:
        """``u(t_final)`` ``(1, n, n)`` for ``inputs["kappa"]``, from ``u(0) = 0`` with the constant source."""
        return {"u": self.march(inputs["kappa"], solver, device=device)[None]}

    @property
    def shape(self) -> tuple[int, int]:
        return self.darcy.shape

    def describe(self) -> str:
        return (
            f"second-order finite differences, {self.darcy.face_average} face averages, "
            f"{self.scheme.replace('_', '-')} steps"
        )

    def parameters(self) -> dict[str, Any]:
        return {
            **self.darcy.parameters(),
            "pde": self.name,
            "t_final": self.t_final,
            "n_steps": self.n_steps,
            "scheme": self.scheme,
            "time_order": self.time_order,
        }
