"""PhysicsLoss terms and weights, resampling to finer grids, and PhysicsTask's use of labels."""

from __future__ import annotations

import math

import pytest
import torch

from specops.models.normalization import FieldNormalization
from specops.physics import DarcyResidual, EvolutionResidual, PhysicsLoss, fourier_resample
from specops.solvers import Burgers, Darcy
from specops.solvers.reference import burgers_cole_hopf, darcy_manufactured
from specops.training.physics_task import PhysicsTask, labelled_samples
from specops.training.tasks import AutoregressiveTask, OperatorTask
from tests.helpers import assert_close


def darcy_pair(n: int = 9):
    g = torch.linspace(0, 1, n, dtype=torch.float64)
    a, f, u = darcy_manufactured(*torch.meshgrid(g, g, indexing="ij"))
    return a[None, None], f, u[None, None]


def test_darcy_loss_is_the_weighted_sum_of_residual_and_boundary_terms():
    a, f, u = darcy_pair()
    shifted = u + 0.5
    residual = DarcyResidual(f)
    loss = PhysicsLoss(residual, s=-1.0, alpha=0.0, residual_weight=2.0, boundary_weight=3.0)
    expected = 2.0 * residual.norm(residual(a, shifted), -1.0, 0.0) + 3.0 * residual.boundary_norm(shifted)
    assert_close(loss(a, shifted), expected.mean(), rtol=1e-12)
    assert set(loss.terms(a, u)) == {"residual", "boundary"}
    exact = Darcy(9).solve(a, f)
    assert loss(a, exact).item() < 1e-10


def test_initial_term_when_outputs_include_the_initial_frame():
    eq = Burgers(32, viscosity=0.1)
    (x,) = eq.coordinates()
    frames = torch.stack([burgers_cole_hopf(x, n * 0.01, 0.1) for n in range(4)]).reshape(1, 4, 1, 32)
    residual = EvolutionResidual(eq, 0.01)
    loss = PhysicsLoss(residual, initial_weight=5.0, outputs_include_initial=True)
    inputs = frames[:, :1] + 0.25  # a constant gap of 0.25 on the unit interval: its L2 norm is 0.25
    terms = loss.terms(inputs, frames)
    assert_close(terms["initial"], torch.tensor([0.25], dtype=torch.float64), rtol=1e-12)
    assert_close(loss(inputs, frames), residual.norm(residual(frames)).mean() + 5.0 * 0.25, rtol=1e-12)
    # default layout: the input frame is prepended, so the trajectory is exact and no initial term exists
    plain = PhysicsLoss(residual)
    assert set(plain.terms(frames[:, :1], frames[:, 1:])) == {"residual"}
    assert_close(plain(frames[:, :1], frames[:, 1:]), residual.norm(residual(frames)).mean(), rtol=1e-12)


def test_physics_loss_gradient_matches_finite_differences():
    a, f, u = darcy_pair(6)
    loss = PhysicsLoss(DarcyResidual(f), s=-1.0, alpha=0.5)
    v = (u + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda w: loss(a, w), (v,))
    evolution = PhysicsLoss(EvolutionResidual(Burgers(8), 0.1, "central"), s=-1.0, alpha=0.1)
    x0 = torch.randn(2, 1, 1, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = torch.randn(
        2, 3, 1, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4)
    ).requires_grad_()
    assert torch.autograd.gradcheck(lambda w: evolution(x0, w), (out,))


def test_fourier_resample_is_exact_for_resolved_fields_and_darcy_resample_keeps_the_nodes():
    x = torch.arange(12, dtype=torch.float64) / 12
    y = torch.arange(36, dtype=torch.float64) / 36
    field = lambda s: torch.sin(2 * math.pi * s) + 0.3 * torch.cos(6 * math.pi * s)  # noqa: E731
    assert_close(fourier_resample(field(x)[None, None], (36,)), field(y)[None, None], rtol=1e-12, atol=1e-13)
    assert_close(fourier_resample(field(y)[None, None], (12,)), field(x)[None, None], rtol=1e-12, atol=1e-13)
    a, _, _ = darcy_pair(5)
    fine = DarcyResidual().resample(a, 2)
    assert fine.shape == (1, 1, 9, 9)
    assert_close(fine[..., ::2, ::2], a, rtol=1e-12)


class _Double(torch.nn.Module):
    """u = 2 a: a model whose output the tests can predict."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(2.0, dtype=torch.float64))
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return self.scale * x


def test_task_uses_only_labelled_samples_for_the_data_term_and_all_for_physics():
    a, f, u = darcy_pair()
    x = torch.cat([a, 2 * a, 3 * a])
    y = torch.cat([u, u, u])
    y[1:] = float("nan")  # hidden labels
    physics = PhysicsLoss(DarcyResidual(f))
    model = _Double()
    mse = torch.nn.MSELoss()
    task = PhysicsTask(OperatorTask(), physics, FieldNormalization(), physics_weight=0.5, data_weight=2.0)
    loss = task.loss(model, x, y, mse, lambda s: s)
    expected = 0.5 * physics(x, 2 * x) + 2.0 * mse(2 * x[:1], y[:1])
    assert_close(loss, expected, rtol=1e-12)
    assert labelled_samples(y).tolist() == [True, False, False]
    label_free = PhysicsTask(OperatorTask(), physics, FieldNormalization(), data_weight=0.0)
    assert_close(
        label_free.loss(model, x, torch.full_like(y, float("nan")), mse, lambda s: s), physics(x, 2 * x)
    )


def test_refined_task_queries_the_model_on_the_finer_grid():
    a, _, _ = darcy_pair(5)
    model = _Double()
    physics = PhysicsLoss(DarcyResidual(1.0))
    task = PhysicsTask(OperatorTask(), physics, FieldNormalization(), data_weight=0.0, refine=2)
    loss = task.loss(model, a, torch.full_like(a, float("nan")), torch.nn.MSELoss(), lambda s: s)
    fine = DarcyResidual().resample(a, 2)
    assert model.shapes[-1] == (1, 1, 9, 9)
    assert_close(loss, physics(fine, 2 * fine), rtol=1e-12)


def test_task_rejects_unsupported_modes_and_weights():
    physics = PhysicsLoss(DarcyResidual())
    with pytest.raises(ValueError, match="not both 0"):
        PhysicsTask(OperatorTask(), physics, FieldNormalization(), physics_weight=0.0, data_weight=0.0)
    assert isinstance(
        PhysicsTask(AutoregressiveTask(), physics, FieldNormalization()).base, AutoregressiveTask
    )
    with pytest.raises(ValueError, match="outputs_include_initial"):
        PhysicsLoss(DarcyResidual(), outputs_include_initial=True)
