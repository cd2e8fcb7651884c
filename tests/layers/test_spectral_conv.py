import math

import pytest
import torch

from specops.layers import SpectralConv, SpectralConvSpec, SpectralWeightSpec
from specops.layers.spectral_weight import mode_slices
from specops.spectral.fft import irfft_modes, kept_frequencies, modes_shape, rfft_modes, truncate_modes
from tests.helpers import assert_close


def reference_conv(conv: SpectralConv, x: torch.Tensor) -> torch.Tensor:
    """Second implementation: full rfftn, explicit mode selection, einsum with the dense weight."""
    d = conv.dim
    n_modes = conv.n_modes
    space = x.shape[-d:]
    w = conv.weight.to_dense(mode_slices(conv.weight.modes, modes_shape(n_modes)))
    xh = torch.fft.rfftn(x, dim=tuple(range(-d, 0)), norm="forward")
    index = [f.remainder(n) for f, n in zip(kept_frequencies(n_modes), space)]
    sel = xh[(slice(None), slice(None), *torch.meshgrid(*index, indexing="ij"))]
    k = "xyz"[:d]
    y_sel = sel * w if conv.weight.separable else torch.einsum(f"bi{k},io{k}->bo{k}", sel, w)
    out = torch.zeros(x.shape[0], conv.out_channels, *space[:-1], space[-1] // 2 + 1, dtype=xh.dtype)
    out[(slice(None), slice(None), *torch.meshgrid(*index, indexing="ij"))] = y_sel
    y = torch.fft.irfftn(out, s=space, dim=tuple(range(-d, 0)), norm="forward")
    if conv.bias is not None:
        y = y + conv.bias.reshape(-1, *([1] * d))
    return y


WEIGHTS = [
    dict(),
    dict(factorization="cp", rank=0.5),
    dict(factorization="tucker", rank=0.5),
    dict(factorization="tt", rank=0.5),
    dict(separable=True),
    dict(factorization="tucker", rank=0.5, separable=True),
]
GRIDS = [((20,), (7,)), ((12, 10), (6, 8)), ((8, 9, 10), (4, 5, 6))]


@pytest.mark.parametrize("method", ["dft", "fft"])
@pytest.mark.parametrize("options", WEIGHTS)
@pytest.mark.parametrize(("space", "n_modes"), GRIDS)
def test_matches_reference_implementation(method, options, space, n_modes):
    torch.manual_seed(0)
    conv = SpectralConv(3, 3, n_modes, fft_method=method, weight=SpectralWeightSpec(**options)).double()
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 3, *space, dtype=torch.float64)
    assert_close(conv(x), reference_conv(conv, x), atol=1e-12, rtol=0)


def _set_dense(conv: SpectralConv, fn) -> None:
    """Set a dense weight W[i, o, modes] = fn(i, o, freqs...)."""
    w = conv.weight.to_dense()
    freqs = torch.meshgrid(*[f.double() for f in kept_frequencies(conv.n_modes)], indexing="ij")
    new = torch.zeros_like(w)
    for i in range(w.shape[0]):
        for o in range(w.shape[1]):
            new[i, o] = fn(i, o, *freqs)
    with torch.no_grad():
        conv.weight.weight.copy_(torch.view_as_real(new.permute(*range(2, new.dim()), 0, 1).contiguous()))


@pytest.mark.parametrize("method", ["dft", "fft"])
def test_identity_weights_give_fourier_truncation(method):
    conv = SpectralConv(2, 2, (6, 8), bias=False, fft_method=method).double()
    _set_dense(conv, lambda i, o, kx, ky: torch.full_like(kx, float(i == o), dtype=torch.complex128))
    x = torch.randn(3, 2, 16, 14, dtype=torch.float64)
    assert_close(conv(x), truncate_modes(x, (6, 8)), atol=1e-13, rtol=0)


@pytest.mark.parametrize("method", ["dft", "fft"])
def test_derivative_multiplier_reproduces_spectral_derivative(method):
    conv = SpectralConv(1, 1, (9, 9), bias=False, fft_method=method).double()
    _set_dense(conv, lambda i, o, kx, ky: (2j * math.pi * kx).to(torch.complex128))
    g = torch.arange(24, dtype=torch.float64) / 24
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    u = torch.sin(2 * math.pi * (2 * xx + yy)) + torch.cos(2 * math.pi * 3 * xx)
    du = 4 * math.pi * torch.cos(2 * math.pi * (2 * xx + yy)) - 6 * math.pi * torch.sin(2 * math.pi * 3 * xx)
    assert_close(conv(u[None, None])[0, 0], du, atol=1e-11, rtol=0)


@pytest.mark.parametrize("options", WEIGHTS[:4])
def test_resolution_invariance_on_band_limited_input(options):
    torch.manual_seed(1)
    conv = SpectralConv(2, 3, (8, 8), weight=SpectralWeightSpec(**options)).double()
    coarse = truncate_modes(torch.randn(2, 2, 32, 32, dtype=torch.float64), (7, 7))
    # the same band-limited function sampled on a grid twice as fine
    fine = irfft_modes(rfft_modes(coarse, (7, 7)), (64, 64))
    assert_close(fine[..., ::2, ::2], coarse, atol=1e-13, rtol=0)
    assert_close(conv(fine)[..., ::2, ::2], conv(coarse), atol=1e-12, rtol=0)


@pytest.mark.parametrize("options", WEIGHTS[:4])
def test_growing_modes_leaves_output_unchanged_and_shrinking_uses_centered_subset(options):
    torch.manual_seed(2)
    conv = SpectralConv(2, 2, (6, 6), weight=SpectralWeightSpec(**options)).double()
    x = torch.randn(2, 2, 16, 16, dtype=torch.float64)
    before = conv(x)
    conv.n_modes = (10, 12)
    assert conv.max_n_modes == (10, 12)
    assert_close(conv(x), before, atol=1e-13, rtol=0)
    conv.n_modes = (4, 6)
    assert conv.max_n_modes == (10, 12)
    assert_close(conv(x), reference_conv(conv, x), atol=1e-12, rtol=0)
    conv.n_modes = (6, 6)
    assert_close(conv(x), before, atol=1e-13, rtol=0)


@pytest.mark.parametrize("method", ["dft", "fft"])
@pytest.mark.parametrize("options", WEIGHTS)
def test_gradcheck(method, options):
    torch.manual_seed(3)
    conv = SpectralConv(2, 2, (4, 4), fft_method=method, weight=SpectralWeightSpec(**options)).double()
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: conv(t), (x,), eps=1e-6, atol=1e-7)
    params = list(conv.parameters())
    # gradients wrt the weights (through the factors), against central differences along random directions
    loss = conv(x).pow(2).sum()
    grads = torch.autograd.grad(loss, params)
    for p, g in zip(params, grads):
        direction = torch.randn_like(p)
        eps = 1e-6
        with torch.no_grad():
            p.add_(eps * direction)
            up = conv(x).pow(2).sum()
            p.sub_(2 * eps * direction)
            down = conv(x).pow(2).sum()
            p.add_(eps * direction)
        fd = (up - down) / (2 * eps)
        assert abs(fd - (g * direction).sum()) <= 1e-6 * max(1.0, abs(fd.item()))


def test_bad_inputs_name_the_problem():
    conv = SpectralConv(3, 4, (8, 8))
    with pytest.raises(ValueError, match=r"expected \(batch, 3, 2 spatial axes\)"):
        conv(torch.randn(2, 5, 16, 16))
    with pytest.raises(ValueError, match=r"expected \(batch, 3"):
        conv(torch.randn(2, 3, 16))
    with pytest.raises(ValueError, match=r"too coarse"):
        conv(torch.randn(2, 3, 6, 16))
    with pytest.raises(ValueError, match="n_modes"):
        SpectralConv(3, 4, (8, 0))
    with pytest.raises(ValueError, match="separable"):
        SpectralConv(3, 4, (8, 8), weight=SpectralWeightSpec(separable=True))
    with pytest.raises(ValueError, match="fft_method='fast'"):
        SpectralConv(3, 4, (8, 8), fft_method="fast")


def test_autocast_keeps_spectral_path_in_float32():
    conv = SpectralConv(4, 4, (6, 6))
    x = torch.randn(2, 4, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(x.to(torch.bfloat16))
    assert y.dtype == torch.float32
    assert_close(y, conv(x.to(torch.bfloat16).float()), atol=1e-6, rtol=1e-5)


def test_spec_builds_the_layer_it_describes():
    spec = SpectralConvSpec(factorization="cp", rank=0.5, max_n_modes=[8, 10], fft_method="fft")
    assert spec.max_n_modes == (8, 10)
    torch.manual_seed(4)
    conv = spec.build(3, 3, (6, 6))
    torch.manual_seed(4)
    same = SpectralConv(
        3,
        3,
        (6, 6),
        max_n_modes=(8, 10),
        fft_method="fft",
        weight=SpectralWeightSpec(factorization="cp", rank=0.5),
    )
    assert conv.max_n_modes == (8, 10) and conv.fft_method == "fft" and conv.n_modes == (6, 6)
    assert conv.state_dict().keys() == same.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(conv.state_dict().values(), same.state_dict().values()))
    with pytest.raises(ValueError, match="fft_method"):
        SpectralConvSpec(fft_method="fast")
    with pytest.raises(ValueError, match="max_n_modes"):
        SpectralConvSpec(max_n_modes=[8, 0])
