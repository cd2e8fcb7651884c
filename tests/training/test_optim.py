"""Schedules against their formulas, the EMA against its recurrence, registries by name."""

from __future__ import annotations

import math

import pytest
import torch

from specops.config import OptimConfig
from specops.losses import H1FDLoss, LpLoss, SobolevLoss
from specops.training.optim import EMA, build_loss, build_optimizer, build_scheduler, lr_factor
from tests.helpers import assert_close


def _lrs(cfg: OptimConfig, total: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([p], cfg)
    sched = build_scheduler(opt, cfg, total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_cosine_with_warmup_matches_formula():
    cfg = OptimConfig(lr=0.1, schedule="cosine", warmup_steps=4, final_lr_ratio=0.1)
    lrs = _lrs(cfg, 25)
    assert_close(torch.tensor(lrs[:4]), torch.tensor([0.025, 0.05, 0.075, 0.1]), rtol=1e-12)
    for t in (4, 10, 14, 24):
        p = (t - 4) / 20
        assert math.isclose(lrs[t], 0.1 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))), rel_tol=1e-12)
    assert math.isclose(lrs[14], 0.1 * 0.55, rel_tol=1e-12)  # half way: the mean of start and end
    assert math.isclose(lrs[24], 0.1 * 0.1, rel_tol=1e-12)  # the last step ends on the final ratio


def test_step_and_constant_and_one_cycle():
    lrs = _lrs(OptimConfig(lr=1.0, schedule="step", step_size=5, gamma=0.5), 20)
    assert lrs[:5] == [1.0] * 5 and lrs[5:10] == [0.5] * 5 and lrs[15] == 0.125
    assert _lrs(OptimConfig(lr=0.3, schedule="constant"), 7) == [0.3] * 7
    f = lr_factor(OptimConfig(schedule="one-cycle", pct_start=0.25), 101)
    assert math.isclose(f(0), 1 / 25) and math.isclose(f(25), 1.0)
    assert max(f(t) for t in range(101)) == f(25) and math.isclose(f(100), 1 / 25 * 1e-4, rel_tol=1e-9)
    with pytest.raises(ValueError, match="total_steps=0"):
        lr_factor(OptimConfig(), 0)


def test_scheduler_state_dict_is_plain_and_resumes():
    cfg = OptimConfig(lr=1e-3, schedule="cosine", warmup_steps=2)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([p], cfg)
    sched = build_scheduler(opt, cfg, 10)
    for _ in range(4):
        opt.step()
        sched.step()
    state = sched.state_dict()
    torch.save(state, buf := __import__("io").BytesIO())
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    opt2 = build_optimizer([p], cfg)
    sched2 = build_scheduler(opt2, cfg, 10)
    sched2.load_state_dict(state)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(3):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_ema_follows_its_recurrence():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, decay=0.9)
    expected = 1.0
    for t, w in enumerate([2.0, 3.0, 5.0, 7.0, 11.0], start=1):
        with torch.no_grad():
            model.weight.fill_(w)
        ema.update(model)
        d = min(0.9, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * w
        assert math.isclose(ema.shadow["weight"].item(), expected, rel_tol=1e-6)
    with ema.applied(model):
        assert math.isclose(model.weight.item(), expected, rel_tol=1e-6)
    assert model.weight.item() == 11.0
    with pytest.raises(ValueError, match=r"ema_decay=1\.5"):
        EMA(model, 1.5)


def test_registries_build_objects_by_name():
    assert isinstance(build_loss("l2"), LpLoss) and build_loss("l1").p == 1.0
    assert isinstance(build_loss("h1"), SobolevLoss) and build_loss("h-1").s == -1.0
    assert isinstance(build_loss("h1-fd"), H1FDLoss)
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert isinstance(build_optimizer(p, OptimConfig(name="adam", lr=1e-3)), torch.optim.Adam)
    opt = build_optimizer(p, OptimConfig(name="adamw", lr=0.01, weight_decay=0.2, betas=(0.8, 0.9)))
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.param_groups[0]["betas"] == (0.8, 0.9) and opt.param_groups[0]["weight_decay"] == 0.2
    with pytest.raises(ValueError, match="unknown loss 'h2'"):
        build_loss("h2")
