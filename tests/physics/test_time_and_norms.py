"""Time derivatives and residual norms against identities."""

from __future__ import annotations

import math

import pytest
import torch

from specops.physics import (
    CentralDiff,
    FourierTime,
    Trapezoidal,
    dirichlet_sobolev_norm,
    dst1,
    time_derivative,
)
from tests.helpers import assert_close


def frames(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(1, -1, 1, 1)


def test_central_differences_are_exact_for_quadratics():
    t = torch.linspace(0, 1, 7, dtype=torch.float64)
    du = time_derivative(frames(3 * t**2 - t + 2), 1 / 6, CentralDiff())
    assert_close(du.flatten(), 6 * t - 1, rtol=1e-12, atol=1e-12)


def test_trapezoidal_derivative_is_the_difference_quotient_at_midpoints():
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    du = Trapezoidal().derivative(frames(t**3), 0.25)
    mid = (t[1:] + t[:-1]) / 2
    assert_close(du.flatten(), 3 * mid**2 + 0.25**2 / 4, rtol=1e-12)  # exact for cubics: f' + h^2 f''' / 24
    assert Trapezoidal().times(5, 0.0, 0.25) == [0.125, 0.375, 0.625, 0.875]


@pytest.mark.parametrize("n", [8, 9])
def test_fourier_time_derivative_is_exact_for_periodic_trigonometric_polynomials(n):
    period = 2.0
    t = torch.arange(n, dtype=torch.float64) * (period / n)
    omega = 2 * math.pi / period
    u = torch.sin(omega * t) + 0.5 * torch.cos(3 * omega * t)
    du = time_derivative(frames(u), period / n, "fourier")
    expected = omega * torch.cos(omega * t) - 1.5 * omega * torch.sin(3 * omega * t)
    assert_close(du.flatten(), expected, rtol=1e-12, atol=1e-11)
    assert isinstance(FourierTime(), FourierTime)


def test_unknown_scheme_and_bad_dt():
    with pytest.raises(ValueError, match="not one of"):
        time_derivative(torch.zeros(1, 3, 1, 4), 0.1, "euler")
    with pytest.raises(ValueError, match=r"dt=0\.0"):
        time_derivative(torch.zeros(1, 3, 1, 4), 0.0)


def test_dst1_matches_the_sine_sum():
    x = torch.randn(2, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    m = 8
    i = torch.arange(1, m, dtype=torch.float64)
    matrix = torch.sin(math.pi * i[:, None] * i[None, :] / m)
    assert_close(dst1(x), x @ matrix, rtol=1e-12, atol=1e-12)


def test_dirichlet_norm_of_an_eigenfunction_and_the_discrete_l2_identity():
    n = 17  # nodes with boundary; interior values at i h, h = 1/16
    g = torch.linspace(0, 1, n, dtype=torch.float64)[1:-1]
    x, y = torch.meshgrid(g, g, indexing="ij")
    r = torch.sin(math.pi * 2 * x) * torch.sin(math.pi * 3 * y)
    for s, alpha in ((0.0, 1.0), (-1.0, 0.0), (1.0, 0.5)):
        expected = 0.25 * (alpha + math.pi**2 * 13) ** s
        assert_close(
            dirichlet_sobolev_norm(r, s, alpha, squared=True),
            torch.tensor(expected, dtype=torch.float64),
            rtol=1e-12,
        )
    noise = torch.randn(3, 15, 15, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert_close(dirichlet_sobolev_norm(noise, 0.0), (noise.pow(2).sum((-2, -1)) / 16**2).sqrt(), rtol=1e-12)
