import torch
from tests.helpers import assert_close

from specops.spectral import gradient, laplacian, meshgrid, spectral_derivative


def test_derivative_of_sin_is_cos():
    length = 2.0
    x = torch.arange(64, dtype=torch.float64) * length / 64
    k = 2 * torch.pi * 3 / length
    u = torch.sin(k * x)
    assert_close(spectral_derivative(u, 1, length=length), k * torch.cos(k * x), atol=1e-11, rtol=0)
    assert_close(spectral_derivative(u, 2, length=length), -(k**2) * u, atol=1e-9, rtol=0)
    assert_close(spectral_derivative(u, 0, length=length), u, atol=1e-14, rtol=0)


def test_gradient_and_laplacian_2d():
    xx, yy = meshgrid((32, 24), dtype=torch.float64)
    u = torch.sin(2 * torch.pi * xx) * torch.cos(4 * torch.pi * yy)
    gx, gy = gradient(u, 2)
    assert_close(
        gx, 2 * torch.pi * torch.cos(2 * torch.pi * xx) * torch.cos(4 * torch.pi * yy), atol=1e-11, rtol=0
    )
    assert_close(
        gy, -4 * torch.pi * torch.sin(2 * torch.pi * xx) * torch.sin(4 * torch.pi * yy), atol=1e-11, rtol=0
    )
    assert_close(laplacian(u, 2), -(4 * torch.pi**2 + 16 * torch.pi**2) * u, atol=1e-9, rtol=0)


def test_odd_derivative_drops_nyquist_mode():
    # The Nyquist mode cos(pi n x) has no real derivative on the grid: it is zeroed.
    n = 16
    x = torch.arange(n, dtype=torch.float64) / n
    u = torch.cos(torch.pi * n * x)
    assert_close(spectral_derivative(u, 1), torch.zeros(n, dtype=torch.float64), atol=1e-10, rtol=0)
