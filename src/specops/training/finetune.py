"""Instance-wise fine-tuning: adapt a trained operator to one input by its PDE residual (PINO, phase 2).

For an input ``a`` and a trained model ``G_0``, start from ``G_0``'s weights and take ``steps`` Adam steps on

    ``L(theta) = PhysicsLoss(a, G_theta(a)) + alpha ||G_theta(a) - G_0(a)||^2 / ||G_0(a)||^2``

(Li et al., arXiv 2111.03794, sec. 3.3, "test-time optimisation" with the anchor loss: the anchor keeps
the solution near the operator's while the residual corrects it; ``alpha = 0`` is pure residual
minimisation, which for a well-posed problem converges to the discrete solution when the network can
represent it). Each instance starts from the same trained weights; the trained model is never changed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from specops.models.predictor import Predictor
from specops.physics.loss import PhysicsLoss


@dataclass
class FinetuneResult:
    """Predictions and physics losses of every instance before and after fine-tuning.

    ``before``/``after``: predictions ``(n, *output shape)`` (physical units); ``physics_before``/
    ``physics_after``: ``(n,)`` physics losses; ``losses``: the objective at every step, per instance;
    ``seconds``: wall time per instance.
    """

    before: torch.Tensor
    after: torch.Tensor
    physics_before: torch.Tensor
    physics_after: torch.Tensor
    losses: list[list[float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def finetune_instance(
    predictor: Predictor,
    physics: PhysicsLoss,
    x: torch.Tensor,
    *,
    steps: int,
    lr: float = 1e-4,
    anchor_weight: float = 0.1,
) -> tuple[torch.Tensor, list[float]]:
    """Fine-tune a copy of ``predictor`` on one input ``x (1, ...)`` (physical units) for ``steps`` Adam
    steps; returns its prediction after (detached) and the objective at every step."""
    if steps < 0:
        raise ValueError(f"steps={steps} must be 0 or more")
    if not lr > 0 or anchor_weight < 0:
        raise ValueError(f"lr={lr} must be positive and anchor_weight={anchor_weight} 0 or more")
    model = copy.deepcopy(predictor).train()
    with torch.no_grad():
        anchor = model(x)
    scale = anchor.pow(2).sum().clamp_min(torch.finfo(anchor.dtype).tiny)
    optimizer = torch.optim.Adam(model.model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        pred = model(x)
        loss = physics(x, pred)
        if anchor_weight:
            loss = loss + anchor_weight * (pred - anchor).pow(2).sum() / scale
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    with torch.no_grad():
        return model.eval()(x), history


def finetune_instances(
    predictor: Predictor,
    physics: PhysicsLoss,
    inputs: torch.Tensor,
    *,
    steps: int,
    lr: float = 1e-4,
    anchor_weight: float = 0.1,
    progress: Callable[[int, int], None] | None = None,
) -> FinetuneResult:
    """Fine-tune ``predictor`` on each input of ``inputs (n, ...)`` separately (see :func:`finetune_instance`).

    ``progress(i, n)`` is called after each instance.
    """
    predictor = predictor.eval()
    befores, afters, phys_before, phys_after, losses, seconds = [], [], [], [], [], []
    for i in range(inputs.shape[0]):
        x = inputs[i : i + 1]
        start = time.perf_counter()
        with torch.no_grad():
            before = predictor(x)
            phys_before.append(float(physics(x, before)))
        after, history = finetune_instance(
            predictor, physics, x, steps=steps, lr=lr, anchor_weight=anchor_weight
        )
        seconds.append(time.perf_counter() - start)
        with torch.no_grad():
            phys_after.append(float(physics(x, after)))
        befores.append(before[0])
        afters.append(after[0])
        losses.append(history)
        if progress is not None:
            progress(i + 1, inputs.shape[0])
    return FinetuneResult(
        torch.stack(befores),
        torch.stack(afters),
        torch.tensor(phys_before, dtype=torch.float64),
        torch.tensor(phys_after, dtype=torch.float64),
        losses,
        seconds,
    )
