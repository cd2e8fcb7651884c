import math

import numpy as np
import pytest
import torch

import specops
from specops.assimilation import NODA, PointSensors, fit_noda, noda_semigroup, read_trajectories
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


def test_training_on_unrolled_windows_lowers_the_assimilation_error(ks_file):
    torch.manual_seed(0)
    data = read_trajectories(ks_file)
    model = NODA([8], hidden_channels=12, n_layers=2, gain_channels=12, gain_layers=2)
    kw = dict(sensors=8, noise=0.01, window=4, warmup=1, batch_size=4, lr=3e-3)
    history = fit_noda(model, data.states, data.coords, steps=40, **kw)
    assert np.mean(history[-5:]) < 0.6 * np.mean(history[:5]), (history[:5], history[-5:])
    with pytest.raises(ValueError, match="window=20"):
        fit_noda(model, data.states, data.coords, steps=1, **{**kw, "window": 20})
