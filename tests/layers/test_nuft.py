import math

import pytest
import torch

from specops.layers.nuft import GaussianNUFT, check_points, direct_type1, direct_type2
from specops.layers.nuft_layers import NUFTInput, NUFTOutput, cell_weights, grid_to_modes, modes_to_grid
from tests.helpers import assert_close


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("n_modes", [(15,), (16, 9), (6, 5, 4)])
def test_gaussian_gridding_matches_direct_summation_within_tol(n_modes):
    torch.manual_seed(0)
    d = len(n_modes)
    x = torch.rand(300, d, dtype=torch.float64)
    c = torch.randn(2, 3, 300, dtype=torch.float64)
    modes = torch.randn(2, 3, *n_modes, dtype=torch.complex128)
    for tol in (1e-4, 1e-7, 1e-10):
        nuft = GaussianNUFT(n_modes, tol)
        assert rel(nuft.type1(c, x), direct_type1(c, x, n_modes)) < tol
        assert rel(nuft.type2(modes, x), direct_type2(modes, x)) < tol


def test_per_sample_points_weights_and_complex_values():
    torch.manual_seed(1)
    x = torch.rand(2, 200, 2, dtype=torch.float64)
    w = torch.rand(2, 200, dtype=torch.float64)
    c = torch.randn(2, 1, 200, dtype=torch.complex128)
    nuft = GaussianNUFT((7, 8), 1e-9)
    assert rel(nuft.type1(c, x, w), direct_type1(c, x, (7, 8), w)) < 1e-9
    m = torch.randn(2, 1, 7, 8, dtype=torch.complex128)
    assert rel(nuft.type2(m, x), direct_type2(m, x)) < 1e-9


def test_direct_sums_are_the_dft_on_a_uniform_grid_and_adjoint_of_each_other():
    n = 12
    x = (torch.arange(n, dtype=torch.float64) / n)[:, None]
    c = torch.randn(1, 1, n, dtype=torch.float64)
    ref = torch.fft.fftshift(torch.fft.fft(c, norm="forward"), dim=-1)  # centered -6..5
    assert_close(direct_type1(c, x, (n,)), ref, rtol=0, atol=1e-14)
    y = torch.rand(40, 2, dtype=torch.float64)
    v = torch.randn(1, 1, 40, dtype=torch.complex128)
    f = torch.randn(1, 1, 5, 7, dtype=torch.complex128)
    # <type2 f, v> = <f, A v> with A the type-1 sum without weights (A^H = type 2)
    lhs = (direct_type2(f, y).conj() * v).sum()
    rhs = (f.conj() * direct_type1(v, y, (5, 7), torch.ones(40, dtype=torch.float64))).sum()
    assert abs(lhs - rhs) < 1e-12


def band_limited(points, coef):
    """sum over k in -2..2 x -1..1 of a real field with coefficients ``coef`` evaluated at points."""
    kx, ky = torch.meshgrid(torch.arange(-2, 3), torch.arange(-1, 2), indexing="ij")
    ph = 2 * math.pi * (points[:, 0, None] * kx.flatten() + points[:, 1, None] * ky.flatten())
    return (torch.exp(1j * ph) @ coef.flatten()).real


def real_coefficients():
    torch.manual_seed(3)
    coef = torch.randn(5, 3, dtype=torch.complex128)
    return 0.5 * (coef + coef.flip(0, 1).conj())  # F(-k) = conj F(k): a real field


def test_output_layer_is_exact_on_band_limited_fields():
    coef = real_coefficients()
    g = torch.arange(16, dtype=torch.float64) / 16
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    field = band_limited(grid, coef).reshape(1, 1, 16, 16)
    pts = torch.rand(500, 2, dtype=torch.float64)
    out = NUFTOutput((7, 5), tol=1e-12)(field, pts)
    assert_close(out[0, 0], band_limited(pts, coef), rtol=0, atol=1e-11)


def test_least_squares_input_recovers_a_band_limited_field_exactly_from_random_points():
    coef = real_coefficients()
    torch.manual_seed(4)
    pts = torch.rand(200, 2, dtype=torch.float64)
    values = band_limited(pts, coef).reshape(1, 1, -1)
    layer = NUFTInput((5, 3), grid=(8, 6), fit="least-squares", tol=1e-12)
    ax = [torch.arange(n, dtype=torch.float64) / n for n in (8, 6)]
    g = torch.stack(torch.meshgrid(*ax, indexing="ij"), -1)
    expected = band_limited(g.reshape(-1, 2), coef).reshape(8, 6)
    assert_close(layer(values, pts)[0, 0], expected, rtol=0, atol=1e-9)
    # quadrature with the exact weights of a uniform grid is exact too (the trapezoid rule)
    quad = NUFTInput((5, 3), grid=(8, 6), tol=1e-12)
    gv = band_limited(g.reshape(-1, 2), coef).reshape(1, 1, -1)
    assert_close(quad(gv, g.reshape(-1, 2))[0, 0], expected, rtol=0, atol=1e-10)


def test_modes_on_a_grid_and_back_are_the_identity():
    f = torch.randn(2, 1, 5, 7, dtype=torch.complex128)
    f = 0.5 * (f + f.flip(-2, -1).conj())  # a real field's coefficients
    assert_close(grid_to_modes(modes_to_grid(f, (9, 8)), (5, 7)), f, rtol=0, atol=1e-14)


def test_bad_points_and_modes_are_refused():
    with pytest.raises(ValueError, match=r"outside the domain \[0, 1\)\^2.*rescale"):
        check_points(torch.tensor([[0.2, 0.3], [1.0, 0.5]]), 2)
    with pytest.raises(ValueError, match="expected \\(N, 2\\)"):
        check_points(torch.rand(4, 3), 2)
    with pytest.raises(ValueError, match="must be odd"):
        NUFTOutput((4, 5))
    with pytest.raises(ValueError, match="fit='lsq' must be one of"):
        NUFTInput((5, 5), (8, 8), fit="lsq")
    with pytest.raises(ValueError, match="tol=2 must lie in"):
        GaussianNUFT((5,), tol=2)


def test_cell_weights_share_each_cells_area_among_its_points():
    pts = torch.tensor([[0.1, 0.1], [0.2, 0.3], [0.7, 0.2], [0.9, 0.9]], dtype=torch.float64)
    w = cell_weights(pts, 2)  # cells of area 1/4: two points in the first, one in two others
    assert_close(w, torch.tensor([0.125, 0.125, 0.25, 0.25], dtype=torch.float64), rtol=0, atol=0)
    torch.manual_seed(5)
    batch = torch.rand(3, 40, 2, dtype=torch.float64)
    assert_close(cell_weights(batch, 3)[1], cell_weights(batch[1], 3), rtol=0, atol=0)
    # a smooth field's mean: the cell quadrature beats the plain average of random points
    x = torch.rand(2000, 2, dtype=torch.float64)
    f = torch.cos(2 * math.pi * x[:, 0]) * torch.sin(2 * math.pi * x[:, 1]) + 1.0
    assert abs((cell_weights(x, 16) * f).sum() - 1.0) < abs(f.mean() - 1.0)
