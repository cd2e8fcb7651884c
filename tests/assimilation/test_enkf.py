import numpy as np
import pytest
import torch

from specops.assimilation import (
    EnsembleKalmanFilter,
    PointSensors,
    gaspari_cohn,
    grid_coords,
    kalman_analysis,
)
from tests.helpers import assert_close


def _problem(n=8, sensors=(1.0, 4.0, 6.5)):
    coords = grid_coords([float(n)], [n])
    h = PointSensors(np.array(sensors)[:, None], coords, periodic=True)
    idx = torch.arange(n, dtype=torch.float64)
    dist = torch.minimum((idx[:, None] - idx).abs(), n - (idx[:, None] - idx).abs())
    cov = torch.exp(-dist / 2.0) + 0.1 * torch.eye(n, dtype=torch.float64)
    mean = torch.sin(2 * torch.pi * idx / n)
    return coords, h, mean, cov


def test_gain_is_the_kalman_gain_of_the_sample_covariance():
    coords, h, _, _ = _problem()
    gen = torch.Generator().manual_seed(0)
    ens = torch.randn(12, 1, 8, dtype=torch.float64, generator=gen)
    y = torch.randn(1, 3, dtype=torch.float64, generator=gen)
    enkf = EnsembleKalmanFilter(lambda x: x, 12, coords=coords)
    out = enkf.analysis(ens, y, h, 0.3, torch.Generator().manual_seed(5))
    # second implementation: dense matrices, the same perturbed observations
    x = ens[:, 0]
    p = torch.cov(x.T)
    hm = h.matrix()
    k = p @ hm.T @ torch.linalg.inv(hm @ p @ hm.T + 0.09 * torch.eye(3, dtype=torch.float64))
    eps = 0.3 * torch.randn(12, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = x + (y.reshape(1, -1) + eps - x @ hm.T) @ k.T
    assert_close(out[:, 0], expected, rtol=1e-10, atol=1e-12)


def test_large_ensemble_converges_to_the_kalman_filter():
    coords, h, mean, cov = _problem()
    y = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
    m_a, p_a = kalman_analysis(mean, cov, y, h.matrix(), 0.2)
    gen = torch.Generator().manual_seed(1)
    n = 40000
    ens = (mean + torch.randn(n, 8, dtype=torch.float64, generator=gen) @ torch.linalg.cholesky(cov).T)[
        :, None
    ]
    out = EnsembleKalmanFilter(lambda x: x, n, coords=coords).analysis(ens, y[None], h, 0.2, gen)[:, 0]
    # Monte-Carlo error ~ std / sqrt(N) = 0.005 at most; 4 sigma
    assert_close(out.mean(0), m_a, rtol=0, atol=0.02)
    assert_close(torch.cov(out.T), p_a, rtol=0, atol=0.03)


def test_gaspari_cohn_is_the_published_piecewise_polynomial():
    r = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0], dtype=torch.float64)
    # Gaspari & Cohn (1999) eq. 4.10 at these r, by hand: 1, 263/384, 5/24, 19/1152, 0, 0
    expected = torch.tensor([1.0, 263 / 384, 5 / 24, 19 / 1152, 0.0, 0.0], dtype=torch.float64)
    assert_close(gaspari_cohn(r), expected, rtol=1e-12, atol=1e-14)


def test_localisation_cuts_distant_updates_and_inflation_scales_anomalies():
    coords, h, _, _ = _problem(16, sensors=(2.0,))
    gen = torch.Generator().manual_seed(3)
    ens = torch.randn(10, 1, 16, dtype=torch.float64, generator=gen)
    y = torch.tensor([[1.0]], dtype=torch.float64)
    local = EnsembleKalmanFilter(lambda x: x, 10, coords=coords, localization=1.5)
    out = local.analysis(ens, y, h, 0.1, torch.Generator().manual_seed(0))
    far = [i for i in range(16) if min(abs(i - 2), 16 - abs(i - 2)) >= 3]  # beyond 2c = 3 grid units
    assert torch.equal(out[:, 0, far], ens[:, 0, far])
    assert not torch.allclose(out[:, 0, 2], ens[:, 0, 2])
    inflated = EnsembleKalmanFilter(lambda x: x, 10, coords=coords, inflation=1.5).inflate(ens)
    assert_close(inflated.std(0), 1.5 * ens.std(0), rtol=1e-12)
    assert_close(inflated.mean(0), ens.mean(0), rtol=1e-12, atol=1e-14)


def test_additive_inflation_adds_model_error_of_the_given_size():
    # a collapsed ensemble (every member equal) gets the spread q of the added smooth noise, mean unchanged
    coords = grid_coords([1.0, 1.0], [16, 16])
    base = torch.randn(1, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ens = base.expand(4000, 1, 16, 16)
    out = EnsembleKalmanFilter(lambda x: x, 4000, coords=coords, additive=0.3).inflate(
        ens, torch.Generator().manual_seed(1)
    )
    spread = float((out - ens).pow(2).mean().sqrt())
    assert abs(spread - 0.3) < 1e-9  # each member's noise has unit rms over the field
    assert float((out.mean(0) - base[0]).abs().max()) < 6 * 0.3 / 4000**0.5  # mean kept up to sampling error
    assert torch.equal(EnsembleKalmanFilter(lambda x: x, 4, coords=coords).inflate(ens[:4]), ens[:4])
    # without a generator the noise comes from the global RNG: two calls differ
    filt = EnsembleKalmanFilter(lambda x: x, 4, coords=coords, additive=0.3)
    assert not torch.equal(filt.inflate(ens[:4]), filt.inflate(ens[:4]))


def test_filter_tracks_a_linear_advection_from_a_wrong_start():
    n = 32
    coords = grid_coords([1.0], [n])
    truth0 = torch.sin(2 * torch.pi * torch.arange(n, dtype=torch.float64) / n)[None]
    shift = lambda u: torch.roll(u, 1, -1)  # noqa: E731  exact advection by one cell per frame
    truth = torch.stack([torch.roll(truth0, k, -1) for k in range(20)])
    rng = np.random.default_rng(0)
    h = PointSensors(np.linspace(0, 1, 8, endpoint=False)[:, None] + 0.01, coords, periodic=True)
    gen = torch.Generator().manual_seed(0)
    obs = {
        k: (h(truth[k][None])[0] + 0.01 * torch.randn(1, 8, generator=gen, dtype=torch.float64), h)
        for k in range(20)
    }
    ens = torch.randn(30, 1, n, dtype=torch.float64, generator=gen) * 0.5
    run = EnsembleKalmanFilter(shift, 30, coords=coords, inflation=1.05, localization=0.2).run(
        ens, 20, obs, 0.01, gen
    )
    err = (run.mean[0, :, 0] - truth[:, 0]).norm(dim=-1) / truth[:, 0].norm(dim=-1)
    assert err[0] > 0.2 and err[-5:].max() < 0.05, err
    assert rng is not None


def test_bad_filter_options_are_named():
    coords = grid_coords([1.0], [8])
    with pytest.raises(ValueError, match="members=1"):
        EnsembleKalmanFilter(lambda x: x, 1, coords=coords)
    with pytest.raises(ValueError, match=r"inflation=0\.9"):
        EnsembleKalmanFilter(lambda x: x, 4, coords=coords, inflation=0.9)
    with pytest.raises(ValueError, match=r"additive=-0\.1"):
        EnsembleKalmanFilter(lambda x: x, 4, coords=coords, additive=-0.1)
    with pytest.raises(ValueError, match="localization=-1"):
        EnsembleKalmanFilter(lambda x: x, 4, coords=coords, localization=-1.0)
