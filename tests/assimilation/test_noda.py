import math

import numpy as np
import pytest
import torch

import specops
from specops.assimilation import NODA, PointSensors, fit_noda, noda_semigroup, read_trajectories
from specops.assimilation.observe import random_points, smooth_perturbation
from tests.helpers import assert_close


def test_semigroup_is_the_exact_linear_ks_step(ks_file):
    data = read_trajectories(ks_file)
    model = NODA([8], semigroup=noda_semigroup(data.attrs, data.shape, 0.5)).double()
    length = data.coords[0][1] * 32
    x = torch.from_numpy(data.coords[0])
    k = 2 * math.pi * 3 / length  # u = cos(k x): u_t = -u_xx - u_xxxx = (k^2 - k^4) u
    u = torch.cos(k * x)[None, None]
    assert_close(model.linear_step(u), math.exp(0.5 * (k**2 - k**4)) * u, rtol=1e-12, atol=1e-14)
    assert torch.equal(NODA([8]).double().linear_step(u), u)


def test_steps_without_measurements_are_prediction_only(tmp_path):
    torch.manual_seed(0)
    model = NODA([6], hidden_channels=8, n_layers=2, gain_channels=8, gain_layers=1)
    coords = [np.arange(16) / 16]
    h = PointSensors(np.array([[0.1], [0.55]]), coords, periodic=True)
    u0 = torch.randn(2, 1, 16)
    y = torch.randn(2, 1, 2)
    with torch.no_grad():
        run = model.run(u0, 4, {2: (y, h)})
        f1 = model.predict(u0)
        f2 = model.correct(model.predict(f1), y, h)[0]
        assert torch.equal(run[:, 1], f1) and torch.equal(run[:, 2], f2)
        assert torch.equal(run[:, 3], model.predict(f2))
        # the learned observation operator starts as H itself
        assert torch.equal(model.observe(u0, h), h(u0))
    again = specops.load(specops.save(model, tmp_path / "noda.pt"))
    assert torch.equal(again(u0), model(u0))


# with smoothing the untrained model already assimilates (alpha = 0.5 times the interpolated innovation),
# so training starts from a lower loss
@pytest.mark.parametrize("smoothing, ratio", [(0.0, 0.6), (0.5, 0.85)])
def test_training_on_unrolled_windows_lowers_the_assimilation_error(ks_file, smoothing, ratio):
    torch.manual_seed(0)
    data = read_trajectories(ks_file)
    model = NODA([8], hidden_channels=12, n_layers=2, gain_channels=12, gain_layers=2, smoothing=smoothing)
    kw = dict(sensors=8, noise=0.01, window=4, warmup=1, batch_size=4, lr=3e-3)
    history = fit_noda(model, data.states, data.coords, steps=40, **kw)
    assert np.mean(history[-5:]) < ratio * np.mean(history[:5]), (history[:5], history[-5:])
    with pytest.raises(ValueError, match="window=20"):
        fit_noda(model, data.states, data.coords, steps=1, **{**kw, "window": 20})


def _persistence_errors(model, sensors, noise, n, steps):
    """Mean relative error over ``steps`` assimilation steps of a static field, and the Kalman filter's.

    The truth ``x`` (smooth, unit rms, covariance ``C``) does not move, so ``T = I`` is the exact step.
    From the background ``x_b = x + e / 2`` (``e ~ C``) the best linear estimate is ``0.8 x_b`` with
    error covariance ``0.2 C``; the Kalman filter (Kalman 1960) then updates with ``K = P H^T (H P H^T + R)^-1``.
    """
    coords = [np.arange(n) / n]
    truth = smooth_perturbation((64, 1, n), 1, torch.Generator().manual_seed(5), torch.float64)
    gen = torch.Generator().manual_seed(7)
    background = truth + 0.5 * smooth_perturbation(truth.shape, 1, gen, torch.float64)
    h = PointSensors(
        random_points(sensors, coords, periodic=True, generator=np.random.default_rng(3)),
        coords,
        periodic=True,
    )
    sigma = noise * float(truth.pow(2).mean().sqrt())
    obs = {
        k: (h(truth) + sigma * torch.randn(64, 1, sensors, generator=gen, dtype=torch.float64), h)
        for k in range(steps)
    }
    with torch.no_grad():
        est = model.run(background, steps, obs)

    def rel(u):
        return float(((u - truth).flatten(1).norm(dim=1) / truth.flatten(1).norm(dim=1)).mean())

    draws = smooth_perturbation((4000, n), 1, torch.Generator().manual_seed(1), torch.float64)
    p, x, hm, kalman = 0.2 * draws.T @ draws / len(draws), 0.8 * background[:, 0], h.matrix(), []
    for k in range(steps):
        gain = (
            p
            @ hm.T
            @ torch.linalg.inv(hm @ p @ hm.T + (sigma**2 + 1e-12) * torch.eye(sensors, dtype=torch.float64))
        )
        x = x + (obs[k][0][:, 0] - x @ hm.T) @ gain.T
        p = (torch.eye(n, dtype=torch.float64) - gain @ hm) @ p
        kalman.append(rel(x[:, None]))
    return [rel(est[:, k]) for k in range(steps)], kalman, rel(background)


# smoothing averages the noise of neighbouring sensors: the error rises less with the noise level
@pytest.mark.parametrize("smoothing, noise_rise", [(0.0, 0.01), (0.5, 0.003)])
def test_the_learned_gain_uses_the_measurements_close_to_the_kalman_filter(smoothing, noise_rise):
    # sparse sensors (1 in 8 nodes): the lifted innovation must reach the gain at the scale of the field,
    # not diluted by the sensor density (the bug that made NODA ignore its measurements)
    torch.manual_seed(0)
    n, sensors, steps = 64, 8, 3
    model = NODA(
        [9], hidden_channels=4, n_layers=1, gain_channels=8, gain_layers=2, smoothing=smoothing
    ).double()
    for p in model.predictor.parameters():  # the exact step of a static field: T = I, F = 0
        p.data.zero_()
        p.requires_grad_(False)
    fields = smooth_perturbation((32, 1, n), 1, torch.Generator().manual_seed(0), torch.float64)
    trajectories = fields[:, None].expand(32, steps, 1, n).contiguous()
    fit_noda(model, trajectories, [np.arange(n) / n], sensors=sensors, noise=0.05, window=steps, warmup=1,
             steps=60, batch_size=8, lr=5e-3)  # fmt: skip
    exact, kalman, background = _persistence_errors(model, sensors, 0.0, n, steps)
    noisy, _, _ = _persistence_errors(model, sensors, 0.3, n, steps)
    assert exact[-1] < 0.85 * background  # beats the no-data forecast (the background, for a static field)
    assert exact[-1] < 1.3 * kalman[-1]  # close to the optimal linear filter
    assert noisy[-1] > exact[-1] + noise_rise  # noisier measurements, larger error: the gain reads them


def test_innovation_interpolation_keeps_mass_and_constants():
    # c = G * H^T 1 / rho has mean exactly 1 (interpolation weights and the Gaussian both keep mass);
    # a constant innovation delta comes back as delta c / (c + 0.1) (normalised convolution), pointwise
    n = 64
    coords = [np.arange(n) / n, np.arange(n) / n]
    pts = random_points(40, coords, periodic=True, generator=np.random.default_rng(0))
    h = PointSensors(pts, coords, periodic=True)
    model = NODA(
        [4, 4], hidden_channels=4, n_layers=1, gain_channels=4, gain_layers=1, smoothing=0.7
    ).double()
    like = torch.zeros(2, 1, n, n, dtype=torch.float64)
    d, c = model.innovation_fields(torch.full((2, 1, 40), 0.3, dtype=torch.float64), h, like)
    assert_close(c.mean((-2, -1)), torch.ones(2, 1, dtype=torch.float64), rtol=1e-12)
    assert_close(d, 0.3 * c / (c + 0.1), rtol=1e-10, atol=1e-14)
    # the spreading kernel is a Gaussian of standard deviation smoothing * spacing nodes
    spacing = (n * n / 40) ** 0.5
    delta = torch.zeros(1, 1, n, n, dtype=torch.float64)
    delta[0, 0, 0, 0] = 1.0
    g = model.spread(delta, spacing)[0, 0, :, 0]
    x = torch.minimum(torch.arange(n), n - torch.arange(n)).double()
    second = float((x**2 * g).sum() / g.sum())
    assert abs(second - (0.7 * spacing) ** 2) < 1e-4 * second  # a sampled periodic Gaussian
    with pytest.raises(ValueError, match="smoothing=-1"):
        NODA([4], smoothing=-1.0)
