"""Exact solutions the solvers are validated against (float64)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def burgers_cole_hopf(
    x: torch.Tensor,
    t: float,
    viscosity: float,
    modes: Sequence[tuple[int, float, float]] = ((1, 0.6, 0.0), (2, 0.25, 1.0)),
    offset: float = 1.0,
    length: float = 1.0,
) -> torch.Tensor:
    """Exact periodic solution of ``u_t + u u_x = nu u_xx`` by the Cole-Hopf transform.

    ``u = -2 nu phi_x / phi`` where ``phi = offset + sum_j b_j exp(-nu k_j^2 t) cos(k_j x + theta_j)``,
    ``k_j = 2 pi m_j / L``, solves the heat equation ``phi_t = nu phi_xx`` (Cole 1951, Hopf 1950).
    ``offset > sum |b_j|`` keeps ``phi`` positive.

    Parameters
    ----------
    x : Tensor
        Points.
    modes : sequence of ``(m_j, b_j, theta_j)``
    """
    if offset <= sum(abs(b) for _, b, _ in modes):
        raise ValueError(f"offset={offset} must exceed sum |b_j| so that phi stays positive")
    x = x.to(torch.float64)
    phi = torch.full_like(x, float(offset))
    phi_x = torch.zeros_like(x)
    for m, b, theta in modes:
        k = 2 * math.pi * m / length
        decay = b * math.exp(-viscosity * k * k * t)
        phi = phi + decay * torch.cos(k * x + theta)
        phi_x = phi_x - decay * k * torch.sin(k * x + theta)
    return -2 * viscosity * phi_x / phi


def taylor_green_vorticity(
    x: torch.Tensor,
    y: torch.Tensor,
    t: float,
    viscosity: float,
    wavenumber: int = 1,
    amplitude: float = 1.0,
    drag: float = 0.0,
    length: float = 1.0,
) -> torch.Tensor:
    """Taylor-Green vortex: ``w = A sin(k x) sin(k y) exp(-(2 nu k^2 + mu) t)``, ``k = 2 pi m / L``.

    ``w`` is an eigenfunction of the Laplacian and a function of the stream function, so ``u . grad w``
    vanishes and the vortex only decays, at the viscous rate (Taylor & Green 1937).
    """
    k = 2 * math.pi * wavenumber / length
    decay = math.exp(-(2 * viscosity * k * k + drag) * t)
    return amplitude * decay * torch.sin(k * x.to(torch.float64)) * torch.sin(k * y.to(torch.float64))


def kdv_soliton(
    x: torch.Tensor,
    t: float,
    speed: float,
    x0: float = 0.0,
    nonlinearity: float = 6.0,
    dispersion: float = 1.0,
    length: float | None = None,
) -> torch.Tensor:
    """KdV soliton ``u = (3 c / a) sech^2(sqrt(c / b) (x - c t - x0) / 2)`` of ``u_t + a u u_x + b u_xxx = 0``.

    With ``length`` the soliton is wrapped to the periodic interval ``[0, L)`` (nearest image), which is
    exact to within its tail ``~ (12 c / a) exp(-sqrt(c / b) L / 2)``.
    """
    xi = x.to(torch.float64) - speed * t - x0
    if length is not None:
        xi = torch.remainder(xi + length / 2, length) - length / 2
    arg = 0.5 * math.sqrt(speed / dispersion) * xi
    return (3 * speed / nonlinearity) / torch.cosh(arg) ** 2


def darcy_manufactured(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Manufactured Darcy problem on ``[0, 1]^2``: ``(a, f, u)`` with ``-div(a grad u) = f``, ``u = 0`` on the boundary.

    ``u = sin(pi x) sin(2 pi y)``, ``a = 2 + sin(2 pi x) cos(3 pi y)``, and
    ``f = -(a_x u_x + a_y u_y) + 5 pi^2 a u`` by differentiation.
    """
    x, y = x.to(torch.float64), y.to(torch.float64)
    pi = math.pi
    u = torch.sin(pi * x) * torch.sin(2 * pi * y)
    ux = pi * torch.cos(pi * x) * torch.sin(2 * pi * y)
    uy = 2 * pi * torch.sin(pi * x) * torch.cos(2 * pi * y)
    a = 2 + torch.sin(2 * pi * x) * torch.cos(3 * pi * y)
    ax = 2 * pi * torch.cos(2 * pi * x) * torch.cos(3 * pi * y)
    ay = -3 * pi * torch.sin(2 * pi * x) * torch.sin(3 * pi * y)
    f = -(ax * ux + ay * uy) + 5 * pi**2 * a * u
    return a, f, u
