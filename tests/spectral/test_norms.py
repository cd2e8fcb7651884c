import math

import pytest
import torch
from tests.helpers import assert_close

from specops.spectral import grid_coordinates, meshgrid, sobolev_norm, wavenumbers


@pytest.mark.parametrize("s", [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
def test_single_mode_closed_form_1d(s):
    # ||A cos(2 pi k x / L)||^2_{H^s} = (alpha + (2 pi k / L)^2)^s * A^2 * L / 2
    length, k, amp, alpha = 2.0, 3, 1.7, 0.1
    x = grid_coordinates((64,), length, dtype=torch.float64)[0]
    u = amp * torch.cos(2 * math.pi * k * x / length)
    expected = math.sqrt((alpha + (2 * math.pi * k / length) ** 2) ** s * amp**2 * length / 2)
    got = sobolev_norm(u[None, None], s, lengths=length, alpha=alpha)
    assert_close(got, torch.tensor([[expected]], dtype=torch.float64), rtol=1e-12, atol=0)


@pytest.mark.parametrize("s", [-1.0, 1.0, 1.5])
def test_single_mode_closed_form_2d_and_3d(s):
    xx, yy = meshgrid((16, 20), dtype=torch.float64)
    u = torch.sin(2 * math.pi * (2 * xx + 3 * yy))
    expected = math.sqrt((1 + 4 * math.pi**2 * 13) ** s / 2)
    assert_close(
        sobolev_norm(u[None, None], s), torch.tensor([[expected]], dtype=torch.float64), rtol=1e-12, atol=0
    )
    xx, yy, zz = meshgrid((8, 10, 12), dtype=torch.float64)
    u = torch.cos(2 * math.pi * (xx - 2 * yy + zz))
    expected = math.sqrt((1 + 4 * math.pi**2 * 6) ** s / 2)
    assert_close(
        sobolev_norm(u[None, None], s), torch.tensor([[expected]], dtype=torch.float64), rtol=1e-12, atol=0
    )


def test_h0_equals_l2_and_h1_equals_gradient_form():
    u = torch.randn(3, 2, 24, 24, dtype=torch.float64)
    l2 = (u.pow(2).mean(dim=(-2, -1))).sqrt()  # unit square: volume-weighted sum = mean
    assert_close(sobolev_norm(u, 0.0), l2, rtol=1e-12, atol=0)
    # H1 (alpha=1) = sqrt(||u||^2 + ||grad u||^2) with exact spectral gradients
    k = wavenumbers(24)
    uh = torch.fft.fft2(u)
    gx = torch.fft.ifft2(1j * k[:, None] * uh).real
    gy = torch.fft.ifft2(1j * k[None, :] * uh).real
    # the Nyquist column has no real derivative, but contributes |k|^2 |u_hat|^2 to the norm, so compare
    # on a field without Nyquist content
    u2 = torch.fft.irfft2(torch.fft.rfft2(u)[..., :12], s=(24, 24))
    u2 = torch.fft.ifft2(torch.fft.fft2(u2) * (torch.fft.fftfreq(24, 1 / 24).abs() < 12)[:, None]).real
    uh = torch.fft.fft2(u2)
    gx = torch.fft.ifft2(1j * k[:, None] * uh).real
    gy = torch.fft.ifft2(1j * k[None, :] * uh).real
    h1 = (u2.pow(2) + gx.pow(2) + gy.pow(2)).mean(dim=(-2, -1)).sqrt()
    assert_close(sobolev_norm(u2, 1.0), h1, rtol=1e-10, atol=0)


def test_negative_order_needs_positive_alpha():
    with pytest.raises(ValueError, match="alpha"):
        sobolev_norm(torch.randn(1, 1, 8), -1.0, alpha=0.0)
