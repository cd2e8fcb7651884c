import pytest
import torch
from tests.helpers import assert_close

from specops.spectral.fft import (
    _dft_matrix,
    dealias_mask,
    irdft_modes,
    irfft_modes,
    kept_frequencies,
    rdft_modes,
    rfft_modes,
    truncate_modes,
)


def reference_modes(x: torch.Tensor, n_modes):
    """Kept modes by the full rfftn and explicit index selection (the definition)."""
    d = len(n_modes)
    full = torch.fft.rfftn(x, dim=tuple(range(-d, 0)), norm="forward")
    out = full
    for axis, freqs in enumerate(kept_frequencies(n_modes)):
        dim = x.dim() - d + axis
        out = out.index_select(dim, freqs.remainder(x.shape[dim]))
    return out


CASES = [((40,), (9,)), ((33,), (12,)), ((16, 20), (8, 10)), ((15, 17), (7, 9)), ((12, 10, 9), (6, 4, 5))]


@pytest.mark.parametrize("method", ["dft", "fft"])
@pytest.mark.parametrize(("shape", "n_modes"), CASES)
def test_rfft_modes_equals_rfftn_selection(method, shape, n_modes):
    x = torch.randn(2, 3, *shape, dtype=torch.float64)
    assert_close(rfft_modes(x, n_modes, method=method), reference_modes(x, n_modes), atol=1e-13, rtol=0)


@pytest.mark.parametrize("method", ["dft", "fft"])
@pytest.mark.parametrize(("shape", "n_modes"), CASES)
def test_irfft_modes_is_zero_padded_irfftn(method, shape, n_modes):
    d = len(shape)
    x = torch.randn(2, *shape, dtype=torch.float64)
    modes = rfft_modes(x, n_modes, method="fft")
    # Reference: scatter the kept modes into a zero spectrum and invert.
    full = torch.zeros(2, *shape[:-1], shape[-1] // 2 + 1, dtype=torch.complex128)
    index = [slice(None)] + [f.remainder(n) for f, n in zip(kept_frequencies(n_modes)[:-1], shape[:-1])]
    grid = torch.meshgrid(*index[1:], indexing="ij") if d > 1 else ()
    full[(slice(None), *grid, slice(0, n_modes[-1] // 2 + 1))] = modes
    expected = torch.fft.irfftn(full, s=shape, dim=tuple(range(-d, 0)), norm="forward")
    assert_close(irfft_modes(modes, shape, method=method), expected, atol=1e-13, rtol=0)


def test_all_modes_round_trip_is_identity():
    x = torch.randn(3, 16, 12, dtype=torch.float64)
    for method in ("dft", "fft"):
        y = irfft_modes(rfft_modes(x, (16, 12), method=method), (16, 12), method=method)
        assert_close(y, x, atol=1e-13, what=method, rtol=0)


def test_truncation_is_idempotent_and_keeps_band_limited_fields():
    # Odd counts keep a symmetric frequency set, so truncation is a projection. (With an even count the
    # lowest negative frequency of a non-last axis has no partner in the zero column of the real transform;
    # neuraloperator's convention, kept for compatibility.)
    x = torch.randn(2, 24, 24, dtype=torch.float64)
    once = truncate_modes(x, (9, 8))
    assert_close(truncate_modes(once, (9, 8)), once, atol=1e-13, rtol=0)
    # a field built from kept modes only is unchanged
    grid = torch.arange(24, dtype=torch.float64) / 24
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    f = torch.sin(2 * torch.pi * (3 * xx - 2 * yy)) + torch.cos(2 * torch.pi * 4 * yy)
    assert_close(truncate_modes(f, (8, 10)), f, atol=1e-13, rtol=0)


def test_real_layout_kernels_match_complex():
    x = torch.randn(2, 5, 18, 14, dtype=torch.float64)
    r = rdft_modes(x, (6, 8))
    assert r.shape == (2, 5, 6, 2, 5)
    c = rfft_modes(x, (6, 8), method="fft")
    assert_close(r[..., 0, :], c.real, atol=1e-13, rtol=0)
    assert_close(r[..., 1, :], c.imag, atol=1e-13, rtol=0)
    assert_close(irdft_modes(r, (18, 14)), irfft_modes(c, (18, 14), method="fft"), atol=1e-13, rtol=0)


def test_fourier_interpolation_to_a_finer_grid():
    n, fine = 16, 48
    t = torch.arange(n, dtype=torch.float64) / n
    tf = torch.arange(fine, dtype=torch.float64) / fine
    f = lambda s: torch.cos(2 * torch.pi * 3 * s) + 0.5 * torch.sin(2 * torch.pi * 5 * s)  # noqa: E731
    up = irfft_modes(rfft_modes(f(t)[None], (12,)), (fine,))
    assert_close(up[0], f(tf), atol=1e-13, rtol=0)


def test_float32_dft_accuracy():
    x = torch.randn(4, 128, 128)
    a = rfft_modes(x, (16, 16), method="dft")
    b = reference_modes(x.double(), (16, 16))
    assert (a.to(torch.complex128) - b).abs().max() < 1e-6


def test_too_coarse_grid_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match=r"too coarse.*n_modes=\(16, 16\)"):
        rfft_modes(torch.randn(1, 8, 32), (16, 16))


def test_matrices_are_cached():
    a = _dft_matrix("rf", 32, 5, "forward", torch.float32, torch.device("cpu"))
    b = _dft_matrix("rf", 32, 5, "forward", torch.float32, torch.device("cpu"))
    assert a is b


def test_dealias_mask_two_thirds_rule():
    # 3 |k| < n: at n = 12 the modes |k| <= 3 (|k| = 4 would alias: 4 + 4 - 12 = -4)
    mask = dealias_mask((12, 12))
    assert mask.shape == (12, 7)
    kx = torch.fft.fftfreq(12, 1 / 12).abs()
    ky = torch.fft.rfftfreq(12, 1 / 12)
    expected = (kx[:, None] <= 3) & (ky[None, :] <= 3)
    assert torch.equal(mask, expected)


@pytest.mark.parametrize(
    ("n", "fraction", "largest"),
    [
        (48, 2 / 3, 15),
        (96, 2 / 3, 31),
        (64, 2 / 3, 21),
        (45, 2 / 3, 14),
        (32, 0.5, 7),
        (30, 1.0, 14),
        (31, 1.0, 15),
    ],
)
def test_dealias_mask_keeps_exactly_the_modes_below_the_fraction(n, fraction, largest):
    # keep |k| < fraction * n / 2, strictly (fraction read as a ratio of small integers: 2/3 is exact)
    k = torch.fft.rfftfreq(n, 1 / n)
    assert torch.equal(dealias_mask((n,), fraction), k <= largest)


def _band_limited(kmax: int, ndim: int, seed: int, n: int) -> torch.Tensor:
    """A real random field with Fourier modes |k_j| <= kmax (fixed by ``seed``), sampled on n^ndim points."""
    g = torch.Generator().manual_seed(seed)
    signed = torch.arange(-kmax, kmax + 1)
    coef = torch.randn(*[2 * kmax + 1] * (ndim - 1), kmax + 1, 2, generator=g, dtype=torch.float64)
    spectrum = torch.zeros(*[n] * (ndim - 1), n // 2 + 1, dtype=torch.complex128)
    index = [signed.remainder(n)] * (ndim - 1) + [torch.arange(kmax + 1)]
    spectrum[torch.meshgrid(*index, indexing="ij")] = torch.view_as_complex(coef)
    return torch.fft.irfftn(spectrum, s=(n,) * ndim, norm="forward")


@pytest.mark.parametrize(("n", "ndim"), [(48, 1), (96, 1), (48, 2), (64, 2)])
def test_dealiased_product_has_no_aliasing_error_on_the_kept_modes(n, ndim):
    # u, v band-limited to the kept modes; the pseudo-spectral product u v on n points, masked, must equal
    # the exact product's modes (the same fields sampled 4x finer, where nothing aliases) on every kept mode
    mask = dealias_mask((n,) * ndim)
    kmax = int(torch.fft.rfftfreq(n, 1 / n)[mask.reshape(-1, mask.shape[-1])[0]].max())
    dims = tuple(range(-ndim, 0))
    u, v = _band_limited(kmax, ndim, 1, n), _band_limited(kmax, ndim, 2, n)
    coarse = torch.fft.rfftn(u * v, dim=dims, norm="forward") * mask
    uf, vf = _band_limited(kmax, ndim, 1, 4 * n), _band_limited(kmax, ndim, 2, 4 * n)
    exact = torch.fft.rfftn(uf * vf, dim=dims, norm="forward")
    for axis in range(ndim - 1):  # the fine spectrum's entries at the coarse grid's frequencies
        exact = exact.index_select(axis, torch.fft.fftfreq(n, 1 / n).long().remainder(4 * n))
    exact = exact[..., : n // 2 + 1] * mask
    assert_close(coarse, exact, rtol=0, atol=1e-13 * exact.abs().max().item(), what=f"n={n}")
