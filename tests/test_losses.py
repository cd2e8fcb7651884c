import math

import numpy as np
import pytest
import torch

from specops.losses import H1FDLoss, LpLoss, SobolevLoss
from tests.helpers import assert_close


def sine(n: int, k: int = 1, length: float = 1.0) -> torch.Tensor:
    x = torch.arange(n, dtype=torch.float64) * length / n
    return torch.sin(2 * math.pi * k * x / length)[None, None]


def test_relative_l2_per_sample_then_mean():
    a, b = torch.randn(4, 2, 16, 16, dtype=torch.float64), torch.randn(4, 2, 16, 16, dtype=torch.float64)
    per = (a - b).reshape(4, -1).norm(dim=1) / b.reshape(4, -1).norm(dim=1)
    assert_close(LpLoss(reduction="none")(a, b), per, rtol=1e-12, atol=0)
    assert_close(LpLoss()(a, b), per.mean(), rtol=1e-12, atol=0)
    assert_close(LpLoss(reduction="sum")(a, b), per.sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("n", [16, 64, 256])
def test_absolute_l2_is_the_function_norm_at_any_resolution(n):
    # ||sin(2 pi x / L)||_L2(0, L) = sqrt(L / 2), exactly on uniform grids
    u = sine(n, 3, length=2.0)
    assert_close(
        LpLoss(relative=False, lengths=2.0)(u, torch.zeros_like(u)),
        torch.tensor(1.0, dtype=torch.float64),
        rtol=1e-12,
        atol=0,
    )


def test_absolute_l1_converges_to_the_integral():
    u = sine(4096)
    assert abs(LpLoss(p=1, relative=False)(u, 0 * u).item() - 2 / math.pi) < 1e-6


def test_sobolev_s0_equals_relative_l2_and_h1_of_a_mode():
    a, b = torch.randn(3, 1, 24, 24, dtype=torch.float64), torch.randn(3, 1, 24, 24, dtype=torch.float64)
    assert_close(SobolevLoss(s=0.0)(a, b), LpLoss()(a, b), rtol=1e-12, atol=0)
    u = sine(32, 2)
    expected = math.sqrt((1 + 4 * math.pi**2 * 4) * 0.5)
    assert_close(
        SobolevLoss(s=1.0, relative=False)(u, 0 * u),
        torch.tensor(expected, dtype=torch.float64),
        rtol=1e-12,
        atol=0,
    )
    neg = SobolevLoss(s=-1.0, alpha=0.1, relative=False)(u, 0 * u)
    assert_close(
        neg, torch.tensor(math.sqrt(0.5 / (0.1 + 16 * math.pi**2)), dtype=torch.float64), rtol=1e-12, atol=0
    )


def test_sobolev_loss_weights_high_frequencies():
    u = sine(64, 1)
    err_low, err_high = 0.1 * sine(64, 2), 0.1 * sine(64, 10)
    h1 = SobolevLoss(s=1.0)
    assert h1(u + err_high, u) > 4 * h1(u + err_low, u)
    hm1 = SobolevLoss(s=-1.0, alpha=0.1)
    assert hm1(u + err_high, u) < hm1(u + err_low, u) / 4


def test_h1_finite_differences_converge_at_second_order():
    # u = x^2 on [0, 1]: ||u||_H1^2 = 1/5 + 4/3 (not periodic: the spectral H1 would not apply)
    exact = math.sqrt(1 / 5 + 4 / 3)
    ns = [17, 33, 65, 129]
    errors = []
    for n in ns:
        x = torch.linspace(0, 1, n, dtype=torch.float64)
        u = (x**2)[None, None]
        errors.append(abs(H1FDLoss(relative=False)(u, 0 * u).item() - exact))
    slope = -np.polyfit(np.log(ns), np.log(errors), 1)[0]
    assert slope > 1.8, (errors, slope)


def test_h1_fd_in_2d_against_analytic_value():
    # u = x y on [0,1]^2: ||u||^2 = 1/9, ||grad u||^2 = 2/3
    n = 129
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    u = (x[:, None] * x[None, :])[None, None]
    got = H1FDLoss(relative=False)(u, 0 * u).item()
    assert abs(got - math.sqrt(1 / 9 + 2 / 3)) < 1e-4


def test_losses_reject_mismatched_shapes_and_bad_options():
    with pytest.raises(
        ValueError, match=r"prediction shape \(2, 1, 8\) differs from target shape \(2, 1, 9\)"
    ):
        LpLoss()(torch.zeros(2, 1, 8), torch.zeros(2, 1, 9))
    with pytest.raises(ValueError, match="reduction"):
        LpLoss(reduction="avg")
    with pytest.raises(ValueError, match="alpha"):
        SobolevLoss(s=-1, alpha=0)
    with pytest.raises(ValueError, match="at least 3 points"):
        H1FDLoss()(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))


def test_losses_backpropagate():
    a = torch.randn(2, 1, 16, 16, requires_grad=True)
    b = torch.randn(2, 1, 16, 16)
    for loss in (LpLoss(), SobolevLoss(s=1), SobolevLoss(s=-1, alpha=0.1), H1FDLoss()):
        (g,) = torch.autograd.grad(loss(a, b), a)
        assert torch.isfinite(g).all() and g.abs().sum() > 0


_ALL_LOSSES = [
    pytest.param(LpLoss(), id="l2-relative"),
    pytest.param(LpLoss(relative=False), id="l2-absolute"),
    pytest.param(LpLoss(p=1.5), id="l1.5-relative"),
    pytest.param(LpLoss(p=0.5, relative=False), id="l0.5-absolute"),
    pytest.param(LpLoss(p=3, relative=False), id="l3-absolute"),
    pytest.param(SobolevLoss(s=1), id="h1"),
    pytest.param(SobolevLoss(s=-1, alpha=0.1, relative=False), id="h-1-absolute"),
    pytest.param(H1FDLoss(), id="h1-fd"),
    pytest.param(H1FDLoss(relative=False), id="h1-fd-absolute"),
]


@pytest.mark.parametrize("loss", _ALL_LOSSES)
def test_gradient_at_an_exact_fit_is_zero_not_nan(loss):
    # ||e|| is not differentiable at e = 0; 0 is a subgradient (the minimum), the root's inf * 0 is NaN
    target = torch.randn(3, 2, 12, 10, dtype=torch.float64)
    pred = target.clone().requires_grad_(True)
    target.requires_grad_(True)
    value = loss(pred, target)
    g_pred, g_target = torch.autograd.grad(value, (pred, target))
    assert value.item() == 0.0
    assert torch.equal(g_pred, torch.zeros_like(g_pred)) and torch.equal(g_target, torch.zeros_like(g_target))
    # one sample fitted exactly, the other not: the fitted one gets a zero gradient, the rest stays finite
    pred = target.detach().clone()
    pred[1:] += 0.1 * torch.randn_like(pred[1:])
    pred[1, 0, 3, 4] = target[1, 0, 3, 4]  # one exact point: |e|^p for p < 1 has an infinite slope there
    pred.requires_grad_(True)
    (g,) = torch.autograd.grad(loss(pred, target.detach()), pred)
    assert torch.isfinite(g).all() and torch.equal(g[0], torch.zeros_like(g[0])) and g[1:].abs().sum() > 0


@pytest.mark.parametrize("loss", _ALL_LOSSES)
def test_non_finite_predictions_still_give_non_finite_losses(loss):
    # the guard is for exact zeros only: a diverged model must not look like a perfect fit
    target = torch.randn(2, 1, 12, 10, dtype=torch.float64)
    for bad in (float("nan"), float("inf")):
        pred = target.clone()
        pred[0, 0, 2, 3] = bad
        value = loss.__class__(**{**_kwargs(loss), "reduction": "none"})(pred, target)
        assert not math.isfinite(value[0].item()) and math.isfinite(value[1].item())


def _kwargs(loss) -> dict:
    keys = ("relative", "lengths", "p", "s", "alpha")
    return {k: getattr(loss, k) for k in keys if hasattr(loss, k)}


@pytest.mark.parametrize("loss", _ALL_LOSSES)
def test_an_optimizer_step_on_an_exactly_fitted_sample_keeps_the_weights_finite(loss):
    torch.manual_seed(0)
    model = torch.nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64)
    x = torch.randn(2, 2, 12, 10, dtype=torch.float64)
    with torch.no_grad():
        target = model(x)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    opt.zero_grad()
    loss(model(x), target).backward()
    opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_values_away_from_zero_match_the_plain_formulas():
    a, b = torch.randn(3, 2, 12, 10, dtype=torch.float64), torch.randn(3, 2, 12, 10, dtype=torch.float64)
    for p in (0.5, 1.0, 2.0, 3.0):
        expected = ((a - b).abs().pow(p).reshape(3, -1).sum(-1) * (1 / 120)).pow(1 / p)
        got = LpLoss(p=p, relative=False, reduction="none")(a, b)
        assert_close(got, expected, rtol=1e-13, atol=0, what=f"p={p}")
    from specops.spectral.norms import sobolev_norm

    expected = sobolev_norm(a - b, 1.0, 2, squared=True).sum(-1).sqrt()
    assert_close(SobolevLoss(reduction="none", relative=False)(a, b), expected, rtol=1e-13, atol=0)
