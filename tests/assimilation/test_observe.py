import numpy as np
import pytest
import torch

from specops.assimilation import (
    PointSensors,
    add_noise,
    grid_coords,
    noise_std,
    random_points,
    subsampled_points,
)
from tests.helpers import assert_close


def test_interpolation_is_exact_for_linear_functions_and_at_nodes():
    coords = grid_coords([2.0, 1.0], [8, 6], periodic=False)
    rng = np.random.default_rng(0)
    pts = random_points(20, coords, periodic=False, generator=rng)
    h = PointSensors(pts, coords, periodic=False)
    x, y = np.meshgrid(*coords, indexing="ij")
    field = torch.from_numpy(3 * x - 2 * y + 0.5)[None, None]
    # multilinear interpolation reproduces (bi)linear functions exactly
    assert_close(
        h(field)[0, 0], torch.from_numpy(3 * pts[:, 0] - 2 * pts[:, 1] + 0.5), rtol=1e-13, atol=1e-13
    )
    nodes = subsampled_points(coords, 2)
    g = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    sub = PointSensors(nodes, coords, periodic=False)(g)
    assert_close(sub, g[..., ::2, ::2].reshape(2, 3, -1), rtol=0, atol=1e-14)


def test_periodic_interpolation_wraps_and_the_adjoint_is_the_transpose():
    coords = grid_coords([2 * np.pi], [16])
    h = PointSensors(np.array([[2 * np.pi - 0.5 * 2 * np.pi / 16]]), coords, periodic=True)
    u = torch.arange(16, dtype=torch.float64)[None, None]
    assert_close(h(u)[0, 0], torch.tensor([7.5]), rtol=0, atol=1e-13)  # halfway between node 15 and node 0
    coords2 = grid_coords([1.0, 2.0], [5, 7])
    h2 = PointSensors(
        random_points(9, coords2, periodic=True, generator=np.random.default_rng(1)), coords2, periodic=True
    )
    u2, v2 = torch.randn(1, 1, 5, 7, dtype=torch.float64), torch.randn(1, 1, 9, dtype=torch.float64)
    # <H u, v> == <u, H^T v>, and the dense matrix agrees with both
    assert_close((h2(u2) * v2).sum(), (u2 * h2.adjoint(v2)).sum(), rtol=1e-13)
    assert_close(h2.matrix() @ u2.reshape(-1), h2(u2).reshape(-1), rtol=1e-13, atol=1e-14)


def test_noise_has_the_requested_relative_level():
    clean = torch.randn(200, 1, 100, dtype=torch.float64) * 3
    sigma = noise_std(clean, 0.1)
    noisy = add_noise(clean, sigma, torch.Generator().manual_seed(0))
    measured = float((noisy - clean).std())
    assert abs(measured / sigma - 1) < 0.02 and abs(sigma / (0.1 * 3) - 1) < 0.02


def test_bad_sensors_and_noise_are_named():
    coords = grid_coords([1.0], [8])
    with pytest.raises(ValueError, match=r"sensor 1 .* outside the domain.*\[0, 1\)"):
        PointSensors(np.array([[0.5], [1.0]]), coords, periodic=True)
    with pytest.raises(ValueError, match=r"noise=-0\.1 must be"):
        noise_std(torch.ones(3), -0.1)
    with pytest.raises(ValueError, match="sensors=0"):
        random_points(0, coords, periodic=True, generator=np.random.default_rng(0))
