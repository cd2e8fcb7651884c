"""The space-time layout of physics-informed time stepping (``physics.outputs_include_initial``): the
initial-condition term enters the loss with its weight, the data term and every prediction use only the
future frames, and a CLI run trains, evaluates, rolls out and fine-tunes in this layout."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from specops.cli import main
from specops.config import ConfigError, load_config
from specops.data.generate import generate_dataset
from specops.models.normalization import FieldNormalization
from specops.models.predictor import Predictor
from specops.physics import EvolutionResidual, PhysicsLoss
from specops.pipeline.evaluate import load_predictor
from specops.pipeline.physics import hide_labels
from specops.solvers import Burgers, make_problem
from specops.training.physics_task import PhysicsTask
from specops.training.tasks import AutoregressiveTask, OperatorTask
from tests.helpers import assert_close


class _SpaceTime(nn.Module):
    """A fixed map of one state ``(B, 1, n)`` to three frames: a perturbed copy of it, then two decays."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        bump = 0.1 * torch.sin(2 * torch.pi * torch.arange(n, dtype=x.dtype) / n)
        return torch.cat([x + bump, 0.9 * x, 0.8 * x], dim=1)


def _burgers_batch(n: int = 16):
    eq = Burgers(n, viscosity=0.05)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 1, n, dtype=torch.float64, generator=g)
    y = torch.randn(3, 2, 1, n, dtype=torch.float64, generator=g)
    return eq, x, y


def test_initial_weight_adds_exactly_the_weighted_initial_misfit():
    eq, x, y = _burgers_batch()
    model, mse = _SpaceTime(), nn.MSELoss()
    losses = {}
    for w in (0.0, 7.0):
        physics = PhysicsLoss(EvolutionResidual(eq, 0.01), initial_weight=w, outputs_include_initial=True)
        task = PhysicsTask(AutoregressiveTask(), physics, FieldNormalization(), physics_weight=0.5)
        losses[w] = task.loss(model, x, y, mse, lambda s: s)
    # ||G(u)(t) - u(t)||_L2 on [0, L): (L / n sum gap^2)^(1/2), the gap being the model's bump
    gap = model(x[:, 0])[:, :1] - x[:, 0]
    misfit = (eq.lengths[0] / eq.shape[0] * gap.pow(2).sum(dim=(1, 2))).sqrt()
    assert_close(losses[7.0] - losses[0.0], 0.5 * 7.0 * misfit.mean(), rtol=1e-10)
    # the data term compares only the two future frames with the targets
    frames = model(x[:, 0]).reshape(3, 3, 1, -1)
    physics = PhysicsLoss(EvolutionResidual(eq, 0.01), initial_weight=0.0, outputs_include_initial=True)
    assert_close(losses[0.0], 0.5 * physics(x, frames) + mse(frames[:, 1:], y), rtol=1e-12)
    task = PhysicsTask(AutoregressiveTask(), physics, FieldNormalization())
    assert_close(task.predict(model, x, y, lambda s: s), frames[:, 1:], rtol=0)


def test_predictor_drops_the_initial_frame_in_prediction_and_rollout():
    _, x, _ = _burgers_batch()
    model = _SpaceTime()
    spacetime = Predictor(model, task="autoregressive", initial_frame=True)
    frames = model(x[:, 0]).reshape(3, 3, 1, -1)
    assert_close(spacetime(x), frames[:, 1:], rtol=0)
    states = spacetime.rollout(x, 4)  # 0.9 u, 0.8 u, then from 0.8 u: 0.72 u, 0.64 u
    assert_close(states[:, 3], 0.64 * x[:, 0], rtol=1e-12)
    assert model.training


def test_cli_space_time_run_with_an_initial_weight(tmp_path, capsys):
    problem = make_problem("burgers", viscosity=0.1, resolution=16, t_final=0.1, save_interval=0.02, dt=1e-3)
    path = generate_dataset(problem, 6, tmp_path / "burgers.h5", progress=False)
    run = tmp_path / "run"
    args = ["train", "--data", str(path), "--out", str(run), "--epochs", "2", "--batch-size", "8"]
    args += ["--lr", "1e-2", "--threads", "1"]
    sets = ["model.args.n_modes=[4]", "model.args.hidden_channels=8", "model.args.n_layers=2"]
    sets += ["train.progress=false", "data.n_test=2", "train.mode=autoregressive", "train.horizon=2"]
    sets += ["train.loss=physics", "physics.outputs_include_initial=true", "physics.initial_weight=10"]
    for item in sets:
        args += ["--set", item]
    assert main(args) == 0, capsys.readouterr().err
    predictor = load_predictor(run)
    assert predictor.initial_frame and predictor.model.out_channels == 3  # u(t), u(t + dt), u(t + 2 dt)
    x = torch.randn(1, 1, 1, 16)
    assert predictor(x).shape == (1, 2, 1, 16)
    rollout = json.loads((run / "results.json").read_text())[
        "rollout"
    ]  # evaluation rolled the test split out
    assert rollout["n_trajectories"] == 2 and len(rollout["rel_l2_vs_time"]["u"]) == rollout["n_steps"]
    # fine-tuning sees the future frames only: the residual of [u_t, prediction] is lowered
    assert main(["finetune", str(run), "--data", str(path), "--steps", "3", "--threads", "1"]) == 0
    summary = json.loads((run / "finetune.json").read_text())
    assert summary["mean_residual_after"] < summary["mean_residual_before"]


def test_space_time_layout_needs_a_physics_time_stepping_run(tmp_path):
    eq, _, _ = _burgers_batch()
    physics = PhysicsLoss(EvolutionResidual(eq, 0.01), outputs_include_initial=True)
    with pytest.raises(ValueError, match=r"train\.mode=autoregressive"):
        PhysicsTask(OperatorTask(), physics, FieldNormalization())
    cfg = load_config(None, ["data.path=unused.h5", "physics.outputs_include_initial=true"])
    with pytest.raises(ConfigError, match="physics_weight"):
        hide_labels(cfg, None)
