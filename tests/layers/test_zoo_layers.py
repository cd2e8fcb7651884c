"""Layers of the operator zoo against references: resampling identities, the cosine transform's quadrature
order, T1's layer formula, the factorized convolution, kernel interpolation, LSM's patches."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from specops.layers.interp_conv import InterpConv
from specops.layers.latent_spectral import NeuralSpectralBlock, patchify, unpatchify
from specops.layers.resample import NativeGrid, fourier_interpolate, fourier_resample
from specops.layers.separable import FactorizedSpectralConv
from specops.layers.t1 import CosineTransform, FourierTransform, T1Layer, split_complex
from tests.helpers import assert_close, fitted_slope


def band_limited(shape, k_max, seed=0):
    """A real periodic field with frequencies |k| <= k_max per axis, float64."""
    g = torch.Generator().manual_seed(seed)
    c = torch.zeros(shape, dtype=torch.complex128)
    full = torch.fft.fftn(torch.randn(shape, generator=g, dtype=torch.float64), dim=(-2, -1))
    idx = [torch.fft.fftfreq(n, 1 / n).abs() <= k_max for n in shape[-2:]]
    mask = idx[0][:, None] & idx[1][None, :]
    c[..., mask] = full[..., mask]
    return torch.fft.ifftn(c, dim=(-2, -1)).real


def test_fourier_resampling_is_exact_for_band_limited_fields_and_keeps_coarse_values():
    u = band_limited((2, 3, 12, 10), 4)
    fine = fourier_resample(u, (36, 20))
    assert_close(fine[..., ::3, ::2], u, atol=1e-13, what="coarse nodes of the refined field")
    assert_close(fourier_resample(fine, (12, 10)), u, atol=1e-13, what="refined and back")
    # any field, even size: upsampling splits the Nyquist mode so the coarse values are kept exactly
    r = torch.randn(2, 8, 8, dtype=torch.float64)
    assert_close(fourier_resample(r, (16, 24))[..., ::2, ::3], r, atol=1e-13, what="Nyquist split")


def test_fourier_interpolation_samples_the_interpolant():
    r = torch.randn(2, 12, 10, dtype=torch.float64)
    assert torch.equal(fourier_interpolate(r, (6, 5)), r[..., ::2, ::2])
    # off the input nodes: the same as refining to a common multiple and sampling there
    assert_close(fourier_interpolate(r, (8, 4)), fourier_resample(r, (24, 20))[..., ::3, ::5], atol=1e-13)


def test_native_grid_refuses_sizes_it_cannot_divide():
    with pytest.raises(
        ValueError, match=r"mgno: resolution=\[24, 24\].*multiple of 16.*resolution=\[32, 32\]"
    ):
        NativeGrid("mgno", [24, 24], 16, "5 levels")


def test_cosine_transform_is_exact_on_periodic_cosine_series():
    x = torch.arange(32, dtype=torch.float64) / 32
    b = torch.tensor([0.7, 0.0, -1.3, 0.0, 0.4, 0.0], dtype=torch.float64)  # even k: periodic on [0, 1)
    u = sum(bk * torch.cos(math.pi * k * x) for k, bk in enumerate(b))
    t = CosineTransform([6])
    assert_close(t(u[None]), b[None], atol=1e-13, what="coefficients")
    assert_close(t.inverse(t(u[None]), [32])[0], u, atol=1e-13, what="synthesis")


def test_cosine_coefficients_converge_at_second_order():
    # sin(2 pi x) on [0, 1]: a_k = 8 / (pi (4 - k^2)) for odd k (a_k = 2 int sin(2 pi x) cos(pi k x) dx)
    errors, sizes = [], [16, 32, 64, 128]
    for n in sizes:
        x = torch.arange(n, dtype=torch.float64) / n
        a = CosineTransform([4])(torch.sin(2 * math.pi * x)[None])[0]
        exact = torch.tensor([0.0, 8 / (3 * math.pi), 0.0, -8 / (5 * math.pi)], dtype=torch.float64)
        errors.append((a - exact).abs().max().item())
    assert fitted_slope([1 / n for n in sizes], errors) == pytest.approx(2.0, abs=0.15)


def test_fourier_transform_round_trip_and_scale():
    u = band_limited((1, 2, 16, 16), 3)
    t = FourierTransform([8, 8], scale=16.0)
    assert_close(t.inverse(t(u), [16, 16]), u, atol=1e-12)
    assert_close(
        t(u)[..., 4, 0].real,
        16.0 * u.mean(dim=(-2, -1)),
        atol=1e-12,
        what="mean mode (centered layout: frequency 0 at index 4)",
    )


@pytest.mark.parametrize("complex_", [False, True])
def test_t1_layer_is_its_formula(complex_):
    torch.manual_seed(0)
    act = split_complex(torch.tanh) if complex_ else torch.tanh
    layer = T1Layer(3, (4, 5), complex_, act, 0.3).double()
    dtype = torch.complex128 if complex_ else torch.float64
    z = torch.randn(2, 3, 4, 5, dtype=dtype)
    w = layer._w(layer.channel_weight)
    s1, s2 = (layer._w(s) for s in layer.mode_weights)
    expected = torch.empty_like(z)
    for b in range(2):
        for o in range(3):
            h = [act(sum(z[b, i] * w[i, c] for i in range(3))) for c in range(3)]
            expected[b, o] = z[b, o] + s1[o].T @ h[o] @ s2[o]
    assert_close(layer(z), expected, rtol=1e-12, atol=1e-12)


def test_factorized_conv_is_the_sum_of_its_axis_convolutions():
    torch.manual_seed(0)
    conv = FactorizedSpectralConv(2, 2, [5, 5]).double()
    with torch.no_grad():  # identity channel mixing on every kept mode
        for w in conv.weights:
            w.zero_()
            w[..., 0] = torch.eye(2)[:, :, None]
    x = torch.arange(16, dtype=torch.float64) / 16
    ux = torch.cos(2 * math.pi * x)[:, None].expand(16, 16)  # frequency 1 along axis 0, 0 along axis 1
    high = torch.cos(2 * math.pi * 7 * x)[None, :].expand(16, 16)  # frequency 7 along axis 1, 0 along axis 0
    u = torch.stack([ux, ux + high])[None]
    # axis 0 keeps frequencies 0..4 along axis 0 (all of u); axis 1 keeps 0..4 along axis 1 (drops `high`)
    assert_close(conv(u), torch.stack([2 * ux, 2 * ux + high])[None], atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda v: conv(v), (torch.randn(1, 2, 8, 10, dtype=torch.float64, requires_grad=True),)
    )


def test_interp_conv_is_a_convolution_on_its_grid_and_second_order_consistent_on_finer_grids():
    torch.manual_seed(0)
    conv = InterpConv(1, 1, 5, 1, "circular").double()
    u = torch.randn(1, 1, 16, dtype=torch.float64)
    plain = F.conv1d(F.pad(u, (2, 2), mode="circular"), conv.weight, conv.bias)
    assert_close(conv(u, [1.0]), plain, atol=1e-13, what="scale 1")
    x = torch.arange(32, dtype=torch.float64) / 32
    v = torch.sin(2 * math.pi * x) + 0.5 * torch.cos(4 * math.pi * x)
    ref = conv(v[None, None], [1.0])
    errors = []
    for s in (2, 4, 8):
        fine = conv(fourier_resample(v, [32 * s])[None, None], [float(s)])
        errors.append((fine[..., ::s] - ref).abs().max().item())
    # the gap to the coarse layer shrinks like h^2 of the finer grid (a limit exists, approached at 2nd order)
    gaps = [abs(a - b) for a, b in itertools.pairwise(errors)]
    assert gaps[1] < gaps[0] / 3


def test_patches_round_trip_and_are_processed_independently():
    x = torch.randn(2, 8, 8, 12)
    assert torch.equal(unpatchify(patchify(x, 4), 4, 2, (8, 12)), x)
    y3 = torch.randn(1, 3, 4, 4, 8)
    assert torch.equal(unpatchify(patchify(y3, 2), 2, 1, (4, 4, 8)), y3)
    torch.manual_seed(0)
    block = NeuralSpectralBlock(8, 4, num_tokens=2, num_basis=4, heads=2)
    u = torch.randn(1, 8, 8, 8)
    v = u.clone()
    v[..., :4, :4] += 1.0  # change one patch only
    changed = (block(u) - block(v)).abs().amax(dim=(0, 1)) > 0
    assert changed[:4, :4].all() and not changed[4:].any() and not changed[:, 4:].any()
