import math

import pytest
import torch

from specops.solvers.base import cmul, irfftn, rfftn
from specops.solvers.burgers import Burgers
from specops.solvers.navier_stokes import NavierStokes2D
from tests.helpers import assert_close


@pytest.mark.parametrize("shape", [(64,), (33,), (16, 16), (64, 64), (32, 18)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fft_wrappers_round_a_sample_identically_in_any_batch(shape, dtype):
    x = torch.randn(7, 3, *shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    ndim = len(shape)
    batch_hat = rfftn(x, ndim)
    batch_back = irfftn(batch_hat, shape)
    for i in (0, 4):
        for j in range(3):
            assert torch.equal(rfftn(x[i : i + 1, j : j + 1], ndim), batch_hat[i : i + 1, j : j + 1])
            assert torch.equal(
                irfftn(batch_hat[i : i + 1, j : j + 1], shape), batch_back[i : i + 1, j : j + 1]
            )
    dims = tuple(range(-ndim, 0))
    assert_close(batch_hat, torch.fft.rfftn(x, dim=dims), rtol=0, atol=0, what="rfftn")
    assert_close(batch_back, x, atol=1e-5 if dtype == torch.float32 else 1e-13, rtol=0, what="round trip")


def test_cmul_matches_complex_product_and_is_size_independent():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1001, dtype=torch.complex128, generator=g)
    w = torch.randn(1001, dtype=torch.complex128, generator=g)
    full = cmul(z, w)
    assert_close(full, z * w, rtol=1e-15, atol=1e-15, what="cmul")
    parts = torch.cat([cmul(z[i : i + 7], w[i : i + 7]) for i in range(0, 1001, 7)])
    assert torch.equal(parts, full)
    real = torch.randn(1001, dtype=torch.float64, generator=g)
    assert torch.equal(cmul(z, real), z * real)


def test_state_checks_name_the_problem():
    eq = Burgers(32, 0.1)
    with pytest.raises(ValueError, match=r"expects \(batch, 1, 32\).*unsqueeze\(1\)"):
        eq.check_state(torch.zeros(2, 32))
    bad = torch.zeros(3, 1, 32)
    bad[1, 0, 5] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or inf in samples \[1\]"):
        eq.check_state(bad)
    with pytest.raises(ValueError, match=r"float32 or torch\.float64"):
        eq.check_state(torch.zeros(1, 1, 32, dtype=torch.float16))


def test_constructor_arguments_are_validated():
    with pytest.raises(ValueError, match="viscosity"):
        Burgers(32, -1.0)
    with pytest.raises(ValueError, match="at least 4 grid points"):
        Burgers(2)
    with pytest.raises(ValueError, match=r"dealias mask .*expected a bool tensor of shape \(16, 9\)"):
        NavierStokes2D(16, dealias=torch.ones(16, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"dealias=1\.5"):
        Burgers(32, dealias=1.5)


def test_wavenumbers_and_nyquist_convention():
    eq = NavierStokes2D((8, 6), lengths=(2.0, 3.0))
    kx, ky = eq.wavenumbers()
    assert kx.shape == (8, 1) and ky.shape == (1, 4)
    assert_close(
        kx.flatten(),
        torch.tensor([0, 1, 2, 3, -4, -3, -2, -1.0], dtype=torch.float64) * math.pi,
        atol=0,
        rtol=1e-15,
    )
    assert_close(
        ky.flatten(), torch.tensor([0, 1, 2, 3.0], dtype=torch.float64) * 2 * math.pi / 3, atol=0, rtol=1e-15
    )
    kx_odd, ky_odd = eq.wavenumbers(odd=True)
    assert kx_odd[4, 0] == 0 and ky_odd[0, 3] == 0 and kx_odd[3, 0] == kx[3, 0]
