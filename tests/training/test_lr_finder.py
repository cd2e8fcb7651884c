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
    # the loss falls fastest around 1/lam and blows up past 2/lam: the valley lies between the two
    assert 0.5 / lam <= result.lr_valley <= 2.5 / lam, result.lr_valley
    assert result.stopped == "diverged" and not result.at_edge
    # the suggested peak is 0.3 of that: inside the stable range, within a factor 4 of the optimum 1/lam
    assert result.suggestion == pytest.approx(0.3 * result.lr_valley)
    assert 1 / (4 * lam) <= result.suggestion < 2 / lam


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
    lrs = [10.0 ** (i / 4 - 4) for i in range(14)]
    # flat at 1, a floor at 0.2 from lrs[6] to lrs[8], then divergence and a non-finite loss
    losses = [1.0] * 4 + [0.6, 0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.0, 9.0, float("nan")]
    peak, lr_valley, at_edge, curve = suggest(lrs, losses, factor=0.3)
    assert len(curve) == 13  # the points before the first non-finite loss
    lowest = min(curve)
    floor = [i for i, v in enumerate(curve) if v <= lowest + 0.1 * (1.0 - lowest)]
    assert floor == [6, 7, 8]  # 0.40, 0.34, 0.40 after smoothing: within 0.1 * (1 - 0.34) of the lowest
    # on a geometric grid the centre of lrs[6] and lrs[8] is lrs[7]
    assert lr_valley == pytest.approx(lrs[7]) and peak == pytest.approx(0.3 * lrs[7]) and not at_edge
    # a wide floor: its geometric centre, not its noisiest point
    wide = [1.0] * 4 + [0.5] + [0.2, 0.21, 0.19, 0.2, 0.2, 0.2, 0.2, 0.21, 0.2, 0.2] + [0.6, 5.0]
    lrs = [10.0 ** (i / 4 - 4) for i in range(len(wide))]
    _, lr_valley, at_edge, curve = suggest(lrs, wide)
    floor = [i for i, v in enumerate(curve) if v <= min(curve) + 0.1 * (1.0 - min(curve))]
    assert lr_valley == pytest.approx(math.sqrt(lrs[floor[0]] * lrs[floor[-1]])) and len(floor) > 3
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
