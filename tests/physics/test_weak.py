import math

import pytest
import torch

from specops.physics.weak import WeakDarcyResidual, disc_quadrature, wendland
from tests.helpers import assert_close


def test_quadrature_integrates_the_test_function_exactly():
    nodes, weights = disc_quadrature(7)
    # int_{|xi|<1} phi(|xi|) = 2 pi int_0^1 (1 - r)^4 (4 r + 1) r dr = 2 pi / 14
    assert_close(
        weights @ wendland(nodes.norm(dim=-1)), torch.tensor(math.pi / 7, dtype=torch.float64), rtol=1e-13
    )
    assert_close(weights.sum(), torch.tensor(math.pi, dtype=torch.float64), rtol=1e-13)


def test_manufactured_solution_has_zero_weak_residual_and_a_wrong_source_does_not():
    # u = sin(pi x) sin(pi y), a = 1 + x y: f = -div(a grad u) computed by hand
    def grad_u(p):
        x, y = p[:, 0], p[:, 1]
        pi = math.pi
        return torch.stack(
            [pi * torch.cos(pi * x) * torch.sin(pi * y), pi * torch.sin(pi * x) * torch.cos(pi * y)], -1
        )

    def a_of(p):
        return 1 + p[:, 0] * p[:, 1]

    def f(p):
        x, y = p[:, 0], p[:, 1]
        pi = math.pi
        u = torch.sin(pi * x) * torch.sin(pi * y)
        g = grad_u(p)
        return 2 * pi**2 * a_of(p) * u - (y * g[:, 0] + x * g[:, 1])

    res = WeakDarcyResidual(f, n_centres=20, radius=0.1, n_radial=7)
    pts = res.sample_points(torch.Generator().manual_seed(0), torch.float64)
    flux = (a_of(pts)[:, None] * grad_u(pts))[None]
    t = res.terms(pts, flux, grad_u(pts)[None], a_of(pts)[None])
    assert t["flux"].abs().max() < 1e-28
    assert t["weak"].abs().max() < 1e-6 * 20  # relative to f ~ 20 (the weak residual is per unit test mass)
    wrong = WeakDarcyResidual(lambda p: f(p) + 1.0, n_centres=20, radius=0.1, n_radial=7)
    tw = wrong.terms(pts, flux, grad_u(pts)[None], a_of(pts)[None])
    # f + 1 adds -int v = -pi R^2 / 7, divided by the same mass: exactly -1
    assert_close(tw["weak"], torch.full_like(tw["weak"], -1.0), rtol=1e-6)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match=r"radius=0\.6"):
        WeakDarcyResidual(radius=0.6)
    with pytest.raises(ValueError, match="n_centres=0"):
        WeakDarcyResidual(n_centres=0)


def test_flux_weight_scales_only_the_flux_residual():
    pts = WeakDarcyResidual(n_centres=5, radius=0.1).sample_points(
        torch.Generator().manual_seed(0), torch.float64
    )
    gen = torch.Generator().manual_seed(1)
    flux, grad_u = torch.randn(2, len(pts), 2, generator=gen, dtype=torch.float64).unbind(0)
    a = 1 + torch.rand(len(pts), generator=gen, dtype=torch.float64)
    args = (pts, flux[None], grad_u[None], a[None])
    plain, heavy = (
        WeakDarcyResidual(n_centres=5, radius=0.1),
        WeakDarcyResidual(n_centres=5, radius=0.1, flux_weight=30),
    )
    t = plain.terms(*args)
    assert_close(heavy.loss(*args) - plain.loss(*args), 29 * t["flux"].mean(), rtol=1e-12)
    assert_close(plain.loss(*args), t["flux"].mean() + math.sqrt(5) * t["weak"].pow(2).mean(), rtol=1e-12)
    with pytest.raises(ValueError, match="flux_weight=-1"):
        WeakDarcyResidual(flux_weight=-1)
