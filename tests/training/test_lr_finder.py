"""The learning-rate range test: its pick against a known stability limit, exact restoration, determinism."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from specops.config import Config, ConfigError, OptimConfig, load_config
from specops.models.fno import FNO
from specops.pipeline.lr import find_lr, resolve_lr
from specops.training.lr_finder import lr_range_test, smooth, suggest
from specops.training.optim import build_optimizer
from tests.training.conftest import Standardize


def _regression(n: int = 64, d: int = 4, lam: float = 8.0, seed: int = 0):
    """Least squares ``L(w) = mean((X w - y)^2)`` whose Hessian ``2 X^T X / n = lam I`` is known exactly.

    Gradient descent on it contracts the error by ``|1 - lr lam|`` per step: fastest at ``lr = 1 / lam``,
    unstable beyond ``lr = 2 / lam``.
    """
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
    x = q * math.sqrt(lam * n / 2)  # X^T X = lam n / 2 I
    w_true = torch.randn(d, 1, generator=g, dtype=torch.float64)
    y = x @ w_true + 0.01 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = torch.nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    return model, x, y


def _sgd_step(model, optimizer, x, y):
    def step(_batch):
        optimizer.zero_grad(set_to_none=True)
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def test_pick_lies_inside_the_known_stable_range():
    lam = 8.0
    model, x, y = _regression(lam=lam)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    result = lr_range_test(
        _sgd_step(model, optimizer, x, y),
        optimizer,
        [None],
        model=model,
        start_lr=1e-4,
        end_lr=10.0,
        steps=81,
    )
    # the loss falls fastest near 1/lam and blows up past 2/lam: its minimum lies between the two
    assert 0.5 / lam <= result.lr_min <= 2.5 / lam, result.lr_min
    assert result.stopped == "diverged" and not result.at_edge
    # the suggested peak is a tenth of that: inside the stable range, within a factor 25 of the optimum
    assert result.suggestion == pytest.approx(0.1 * result.lr_min)
    assert 1 / (25 * lam) <= result.suggestion < 2 / lam


def test_restores_weights_optimizer_gradients_and_random_state_bit_for_bit():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.GELU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    step = _sgd_step(model, optimizer, x, y)
    for _ in range(3):  # a used optimizer: non-empty Adam moments and a step count
        step(None)
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    moments = {i: {k: v.clone() for k, v in s.items()} for i, s in optimizer.state_dict()["state"].items()}
    grads = [p.grad.clone() for p in model.parameters()]
    random_next = torch.rand(4, generator=torch.Generator().set_state(torch.get_rng_state()))

    result = lr_range_test(step, optimizer, [None], model=model, start_lr=1e-5, end_lr=10.0, steps=40)
    assert result.stopped in ("diverged", "not finite")

    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), k
    for i, s in optimizer.state_dict()["state"].items():
        for k, v in s.items():
            assert torch.equal(v, moments[i][k]), (i, k)
    assert all(g["lr"] == 1e-3 for g in optimizer.param_groups)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert not model.training
    assert torch.equal(torch.rand(4), random_next)  # the global generator is where it was


def test_training_after_the_test_equals_training_without_it():
    def run(with_test: bool) -> torch.Tensor:
        torch.manual_seed(1)
        model = torch.nn.Linear(5, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        x, y = torch.randn(64, 5), torch.randn(64, 1)
        step = _sgd_step(model, optimizer, x, y)
        if with_test:
            lr_range_test(step, optimizer, [None], model=model, steps=30)
        for _ in range(5):
            step(None)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(run(True), run(False))


def test_rule_and_smoothing():
    assert smooth([0.0, 3.0, 0.0, 3.0, 0.0], half_width=1) == [1.5, 1.0, 2.0, 1.0, 1.5]
    lrs = [10.0 ** (i / 4 - 4) for i in range(13)]
    losses = [1.0, 1.0, 0.99, 0.95, 0.8, 0.5, 0.3, 0.2, 0.25, 0.6, 2.0, 9.0, float("nan")]
    peak, lr_min, at_edge, curve = suggest(lrs, losses, factor=0.1)
    assert len(curve) == 12  # the points before the first non-finite loss
    assert lr_min == lrs[curve.index(min(curve))] and peak == pytest.approx(0.1 * lr_min)
    assert not at_edge
    with pytest.raises(FloatingPointError, match="range test"):
        suggest([1e-5], [float("inf")])


def _operator_problem():
    from tests.training.conftest import PairDataset, heat, smooth_fields

    x = smooth_fields(24, (8, 8), seed=3)
    return PairDataset(x, heat(x))


def _cfg(**optim) -> Config:
    cfg = load_config(
        None, ["train.batch_size=8", "train.seed=3", "train.device=cpu", "train.progress=false"]
    )
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, **optim))


def test_same_seed_same_learning_rate_and_model_untouched():
    data = _operator_problem()
    norm = Standardize(0.0, float(data.x.std()))

    def pick():
        torch.manual_seed(0)
        model = FNO((4, 4), 1, 1, hidden_channels=4, n_layers=1)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        result = find_lr(_cfg(lr="auto"), model, data, x_normalizer=norm, y_normalizer=norm)
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
        return result

    first, second = pick(), pick()
    assert first.suggestion == second.suggestion and first.losses == second.losses
    assert 1e-5 < first.suggestion < 1.0 and not first.at_edge


def test_resolve_lr_fills_in_the_number_and_writes_nothing(tmp_path):
    data = _operator_problem()
    torch.manual_seed(0)
    model = FNO((4, 4), 1, 1, hidden_channels=4, n_layers=1)
    cfg = dataclasses.replace(_cfg(lr="auto"), run_dir=str(tmp_path / "run"))
    lines = []
    resolved, record = resolve_lr(cfg, model, data, log=lines.append)
    assert isinstance(resolved.optim.lr, float) and resolved.optim.lr == record.suggestion > 0
    assert not (tmp_path / "run").exists()  # the run writes the record, under its lock
    assert any("learning rate: auto ->" in line for line in lines)
    assert resolve_lr(_cfg(lr=2e-3), model, data) == (_cfg(lr=2e-3), None)  # a number is kept as it is


def test_auto_is_a_config_value_and_must_be_resolved_before_building_an_optimizer():
    assert load_config(None, ["optim.lr=auto"]).optim.lr == "auto"
    assert load_config(None, ["optim.lr=3e-3"]).optim.lr == 3e-3
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        load_config(None, ["optim.lr=fast"])
    with pytest.raises(ConfigError, match="resolve_lr"):
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], OptimConfig(lr="auto"))
