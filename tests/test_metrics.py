"""Metrics against hand-computed values, single Fourier modes and identities (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from specops import metrics
from specops.spectral.grid import meshgrid
from tests.helpers import assert_close


def _mode(n: int, kx: int, ky: int, amp: float = 1.0, phase: float = 0.0) -> torch.Tensor:
    x, y = meshgrid((n, n), dtype=torch.float64)
    return amp * torch.cos(2 * math.pi * (kx * x + ky * y) + phase)


def test_relative_l2_and_nrmse_hand_computed():
    target = torch.tensor([[[3.0, 4.0]]], dtype=torch.float64)  # ||t|| = 5
    pred = torch.tensor([[[3.0, 1.0]]], dtype=torch.float64)  # ||e|| = 3
    assert_close(metrics.relative_l2(pred, target), torch.tensor([[0.6]], dtype=torch.float64))
    assert_close(metrics.nrmse(pred, target), torch.tensor([[0.6]], dtype=torch.float64))
    assert_close(metrics.rmse(pred, target), torch.tensor([[3 / math.sqrt(2)]], dtype=torch.float64))
    assert_close(metrics.max_error(pred, target), torch.tensor([[3.0]], dtype=torch.float64))


def test_per_channel_metrics_keep_channels_apart():
    torch.manual_seed(0)
    t = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    p = t.clone()
    p[:, 1] += 0.1 * torch.randn(3, 8, 8, dtype=torch.float64)
    rel = metrics.relative_l2(p, t)
    assert rel.shape == (3, 2)
    assert_close(rel[:, 0], torch.zeros(3, dtype=torch.float64), atol=1e-15)
    expected = (p[:, 1] - t[:, 1]).flatten(1).norm(dim=1) / t[:, 1].flatten(1).norm(dim=1)
    assert_close(rel[:, 1], expected, rtol=1e-12)
    assert_close(metrics.nrmse(p, t), rel, rtol=1e-12)


def test_relative_h1_single_mode():
    # e = eps * cos(2 pi k x): ||e||_H1^2 / ||t||_H1^2 = eps^2 (1 + (2 pi k)^2) / (1 + (2 pi m)^2) for t of mode m
    n, eps = 16, 0.1
    t = _mode(n, 1, 0)[None, None]
    e = eps * _mode(n, 3, 0)[None, None]
    expected = eps * math.sqrt((1 + (2 * math.pi * 3) ** 2) / (1 + (2 * math.pi) ** 2))
    assert_close(metrics.relative_h1(t + e, t), torch.tensor([[expected]], dtype=torch.float64), rtol=1e-12)


def test_relative_h1_nonperiodic_converges_to_exact_value():
    # u = x^2 on [0, 1], e = c: ||e||^2 = c^2, ||u||^2 = 1/5, ||u'||^2 = 4/3
    n = 257
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    u = (x**2)[None, None]
    got = metrics.relative_h1(u + 0.1, u, periodic=False)
    assert_close(got, torch.tensor([[0.1 / math.sqrt(1 / 5 + 4 / 3)]], dtype=torch.float64), rtol=2e-2)


def test_vrmse_of_mean_prediction_is_one_and_hand_value():
    torch.manual_seed(1)
    t = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    mean = t.mean(dim=(-2, -1), keepdim=True).expand_as(t)
    assert_close(metrics.vrmse(mean, t, eps=0.0), torch.ones(2, 3, dtype=torch.float64), rtol=1e-12)
    # hand case: target (1, 3): var = 2/3; pred error (1, 0, 0): mse = 1/3 -> vrmse = sqrt(1/2)
    t1 = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=torch.float64)
    p1 = t1 + torch.tensor([[[1.0, 0.0, 0.0]]], dtype=torch.float64)
    assert_close(metrics.vrmse(p1, t1, eps=0.0), torch.tensor([[math.sqrt(0.5)]], dtype=torch.float64))


def test_band_errors_single_modes_land_in_their_band():
    n = 32
    t = _mode(n, 1, 0)[None, None]
    cases = {"low": (3, 0), "mid": (3, 4), "high": (12, 5)}  # |k| = 3, 5, 13
    for band, (kx, ky) in cases.items():
        e = 0.5 * _mode(n, kx, ky, phase=0.3)[None, None]
        got = metrics.band_errors(t + e, t, normalize=False)
        for name, value in got.items():
            expected = 0.5 / math.sqrt(2) if name == band else 0.0
            assert_close(value, torch.tensor([[expected]], dtype=torch.float64), atol=1e-12, what=name)


def test_band_errors_add_up_to_nrmse():
    torch.manual_seed(2)
    t = torch.randn(4, 2, 32, 32, dtype=torch.float64)
    p = t + 0.2 * torch.randn_like(t)
    bands = metrics.band_errors(p, t, edges=(2, 5, 9))
    total = sum(v.pow(2) for v in bands.values()).sqrt()
    assert_close(total, metrics.nrmse(p, t), rtol=1e-12)
    with pytest.raises(ValueError, match="increasing"):
        metrics.band_errors(p, t, edges=(5, 2))


def test_energy_spectrum_single_mode_and_parseval():
    n = 32
    u = _mode(n, 3, 4, amp=2.0)[None, None]  # |k| = 5, mean(u^2) = 2 -> E(5) = 1
    k, e = metrics.energy_spectrum(u)
    expected = torch.zeros_like(e)
    expected[0, 5] = 1.0
    assert_close(e, expected, atol=1e-12)
    assert_close(k[5], torch.tensor(2 * math.pi * 5, dtype=torch.float64))
    torch.manual_seed(3)
    v = torch.randn(2, 2, 24, 20, dtype=torch.float64)  # odd shapes too: Parseval over all shells
    _, ev = metrics.energy_spectrum(v)
    assert_close(ev.sum(-1), 0.5 * v.pow(2).sum(1).mean(dim=(-2, -1)), rtol=1e-12)


def test_spectrum_error_ignores_phase_but_not_amplitude():
    n = 32
    t = _mode(n, 2, 1)[None, None]
    shifted = _mode(n, 2, 1, phase=1.0)[None, None]
    assert_close(metrics.spectrum_error(shifted, t), torch.zeros(1, dtype=torch.float64), atol=1e-12)
    # doubling the amplitude quadruples the energy: |4E - E| / E = 3
    assert_close(metrics.spectrum_error(2 * t, t), torch.tensor([3.0], dtype=torch.float64), rtol=1e-12)


def test_correlation_identities():
    torch.manual_seed(4)
    q = torch.randn(3, 5, 1, 8, 8, dtype=torch.float64)
    assert_close(metrics.correlation(2.5 * q + 1.0, q), torch.ones(3, 5, dtype=torch.float64), rtol=1e-12)
    assert_close(metrics.correlation(-q, q), -torch.ones(3, 5, dtype=torch.float64), rtol=1e-12)
    a, b = _mode(16, 1, 0)[None, None], _mode(16, 0, 2)[None, None]  # orthogonal modes
    assert_close(metrics.correlation(a, b), torch.zeros(1, 1, dtype=torch.float64), atol=1e-12)


def test_correlation_time_interpolates_the_crossing():
    # corr(t) = cos(w t) falls below 0.8 at t* = arccos(0.8) / w. Linear interpolation misses f by at most
    # max|f''| dt^2 / 8 = w^2 dt^2 / 8, i.e. the time by that over |f'(t*)| = 0.6 w.
    w = 1.3
    for n in (50, 100, 200):
        times = torch.linspace(0, 2, n, dtype=torch.float64)
        dt = (times[1] - times[0]).item()
        got = metrics.correlation_time(torch.cos(w * times)[None], times)
        error = abs(got.item() - math.acos(0.8) / w)
        assert error <= 1.05 * w * dt**2 / (8 * 0.6), (n, error)
    never = metrics.correlation_time(torch.ones(1, 4), threshold=0.8)
    assert math.isinf(never.item())
    first = metrics.correlation_time(torch.full((1, 4), 0.1), torch.tensor([2.0, 3.0, 4.0, 5.0]))
    assert first.item() == 2.0


def test_error_vs_time_applies_metric_per_step():
    torch.manual_seed(5)
    t = torch.randn(2, 4, 1, 8, 8, dtype=torch.float64)
    scale = torch.tensor([0.0, 0.1, 0.2, 0.3], dtype=torch.float64).view(1, 4, 1, 1, 1)
    p = t * (1 + scale)
    got = metrics.error_vs_time(p, t)
    assert_close(got, scale.view(1, 4, 1).expand(2, 4, 1), rtol=1e-12, atol=1e-15)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"relative_l2: pred has shape \(2, 1, 8\)"):
        metrics.relative_l2(torch.zeros(2, 1, 8), torch.zeros(2, 1, 9))
    with pytest.raises(ValueError, match="error_vs_time"):
        metrics.error_vs_time(torch.zeros(2, 1, 8), torch.zeros(2, 1, 8))
