"""The exact solutions satisfy their equations (residuals by automatic differentiation)."""

import torch

from specops.solvers.reference import (
    burgers_cole_hopf,
    darcy_manufactured,
    kdv_soliton,
    taylor_green_vorticity,
)
from tests.helpers import assert_close


def _grad(y, x):
    return torch.autograd.grad(y.sum(), x, create_graph=True)[0]


def _points(n=50, seed=0):
    return torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).requires_grad_()


def test_cole_hopf_solves_burgers():
    x, nu, eps = _points(), 0.07, 1e-5
    for t in (0.1, 0.4):
        u = burgers_cole_hopf(x, t, nu)
        u_t = (burgers_cole_hopf(x, t + eps, nu) - burgers_cole_hopf(x, t - eps, nu)) / (2 * eps)
        u_x = _grad(u, x)
        u_xx = _grad(u_x, x)
        assert_close(u_t + u * u_x - nu * u_xx, torch.zeros(50, dtype=torch.float64), atol=1e-7, rtol=0)


def test_kdv_soliton_solves_kdv():
    x = (40 * _points()).detach().requires_grad_()
    for a, b, c in ((6.0, 1.0, 2.0), (1.0, 0.02, 0.5)):
        u = kdv_soliton(x, 0.3, c, x0=20.0, nonlinearity=a, dispersion=b)
        u_x = _grad(u, x)
        u_xxx = _grad(_grad(u_x, x), x)
        u_t = -c * u_x  # a travelling wave u(x - c t)
        assert_close(u_t + a * u * u_x + b * u_xxx, torch.zeros(50, dtype=torch.float64), atol=1e-10, rtol=0)


def test_taylor_green_is_a_laplacian_eigenfunction():
    x, y = _points(), _points(seed=2)
    w = taylor_green_vorticity(x, y, 0.0, 0.1, wavenumber=2)
    lap = _grad(_grad(w, x), x) + _grad(_grad(w, y), y)
    k2 = 2 * (4 * torch.pi) ** 2
    assert_close(lap, -k2 * w, atol=1e-10, rtol=0)


def test_darcy_manufactured_solution():
    x, y = _points(), _points(seed=3)
    a, f, u = darcy_manufactured(x, y)
    flux_x, flux_y = a * _grad(u, x), a * _grad(u, y)
    residual = -(_grad(flux_x, x) + _grad(flux_y, y)) - f
    assert_close(residual, torch.zeros(50, dtype=torch.float64), atol=1e-10, rtol=0)
    edge = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert_close(
        darcy_manufactured(edge, torch.tensor([0.3, 0.7], dtype=torch.float64))[2],
        torch.zeros(2, dtype=torch.float64),
        atol=1e-15,
        rtol=0,
    )
