"""Learning-rate range test (Smith 2017, sec. 3.3; the ``lr_find`` of fastai): how fast a model can learn.

From the initial state, take up to ``steps`` optimizer steps with a learning rate growing geometrically
from ``start_lr`` to ``end_lr``,

    lr_i = start_lr * (end_lr / start_lr) ** (i / (steps - 1)),   i = 0, ..., steps - 1,

and record the training loss ``l_i`` of each step. The test stops early when the loss diverges: when it
is not finite, or when its running average ``s_i = beta s_(i-1) + (1 - beta) l_i`` (bias-corrected,
``beta = 0.9``) exceeds ``divergence = 4`` times its smallest value so far. Afterwards the weights, the
optimizer, the gradients and every random generator are put back exactly as they were (bit for bit): the
test leaves no trace, and training starts from the same initial weights as without it.

The defaults sweep ``1e-5`` to ``1`` in 81 steps, 16 per decade (``lr_i = 1e-5 * 10 ** (i / 16)``); Adam
and AdamW on normalised data diverge well below 1, so the test usually ends after 60-70 steps.

The rule. The recorded losses are smoothed without lag by a centred moving average over ``2w + 1``
steps (``w = 3``, about a fifth of a decade of learning rates), and the
learning rate ``lr_min`` at the smallest smoothed loss is taken as the edge of what the model tolerates:
just past it the loss turns back up. The suggested peak learning rate is a fixed fraction of it,

    lr_peak = factor * lr_min,   factor = 1/10 by default,

as Smith (2017) and fastai advise (the loss is still falling fast an order of magnitude below the
minimum). The minimum is a robust statistic of a noisy curve, where the steepest slope, the other common
rule, is a derivative of noise. ``specops train`` with ``optim.lr=auto`` uses this peak for its one-cycle
schedule; the factor was chosen by measurement (``benchmarks/select_defaults.py``, ``benchmarks/RESULTS.md``).

References: L. N. Smith, "Cyclical learning rates for training neural networks", WACV 2017;
L. N. Smith, "A disciplined approach to neural network hyper-parameters: part 1", arXiv:1803.09820 (2018).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specops.atomic import atomic_path
from specops.training.checkpoint import (
    capture_rng_state,
    restore_rng_state,
)

DEFAULT_FACTOR = 0.1
START_LR, END_LR, STEPS = 1e-5, 1.0, 81
SMOOTHING_HALF_WIDTH = 3
DIVERGENCE = 4.0
BETA = 0.9


@dataclass
class RangeTest:
    """The record of a learning-rate range test and its suggestion.

    ``lrs[i]`` and ``losses[i]`` are the learning rate and training loss of step ``i``; ``smoothed`` the
    centred moving average used by the rule; ``lr_min`` the learning rate at its minimum; ``suggestion``
    ``= factor * lr_min``. ``stopped`` says why the test ended (``"diverged"``, ``"not finite"`` or
    ``"end_lr"``); ``at_edge`` is true when the minimum is the first or last step, where the suggestion
    is unreliable (widen ``start_lr``/``end_lr``).
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    lr_min: float
    suggestion: float
    factor: float
    stopped: str
    at_edge: bool
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy (non-finite losses become ``None``)."""
        out = dataclasses.asdict(self)
        for key in ("losses", "smoothed"):
            out[key] = [v if math.isfinite(v) else None for v in out[key]]
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the record as JSON, atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1))
        return Path(path)


def smooth(values: list[float], half_width: int = SMOOTHING_HALF_WIDTH) -> list[float]:
    """Centred moving average ``mean(values[i - w : i + w + 1])`` (fewer terms at the ends); no lag."""
    n = len(values)
    return [
        sum(values[max(0, i - half_width) : i + half_width + 1])
        / (min(n, i + half_width + 1) - max(0, i - half_width))
        for i in range(n)
    ]


def suggest(
    lrs: list[float], losses: list[float], factor: float = DEFAULT_FACTOR
) -> tuple[float, float, bool, list[float]]:
    """``(lr_peak, lr_min, at_edge, curve)`` by the module's rule: ``curve`` is the centred moving average
    of the losses before the first non-finite one, ``lr_min`` the learning rate at its minimum,
    ``lr_peak = factor * lr_min``; ``at_edge`` when the minimum is the first or last point."""
    n = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
    if n == 0:
        raise FloatingPointError(
            f"the first loss of the learning-rate range test is {losses[0] if losses else None} (lr "
            f"{lrs[0] if lrs else float('nan'):.1e}): check the data for NaN/inf, or give optim.lr a number"
        )
    curve = smooth(losses[:n])
    best = min(range(n), key=curve.__getitem__)
    return factor * lrs[best], lrs[best], best in (0, n - 1), curve


def _cycle(batches: Iterable) -> Iterator:
    """Batches without end: iterate ``batches`` again (a DataLoader reshuffles) when it runs out."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError("the learning-rate range test got no batch from the training data")


def lr_range_test(
    step: Callable[[Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    batches: Iterable,
    *,
    model: nn.Module,
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    steps: int = STEPS,
    factor: float = DEFAULT_FACTOR,
    divergence: float = DIVERGENCE,
    beta: float = BETA,
    extra_state: Iterable[nn.Module] = (),
) -> RangeTest:
    """Run a learning-rate range test and restore everything it touched.

    Parameters
    ----------
    step : callable ``batch -> loss``
        One optimizer step on ``batch`` at the optimizer's current learning rate (e.g.
        ``Trainer.train_step``); returns the loss.
    optimizer : torch.optim.Optimizer
        The optimizer ``step`` uses; its learning rate is set before every step.
    batches : iterable of batches
        Iterated again when it runs out (a shuffling DataLoader gives new batches).
    model : nn.Module
        The model being trained: its weights, buffers, gradients and train/eval mode are restored.
    start_lr, end_lr, steps : float, float, int
        The geometric sweep (module docstring).
    factor : float
        ``suggestion = factor * lr_min``.
    divergence, beta : float
        Stop once the running average of the loss exceeds ``divergence`` times its minimum.
    extra_state : modules
        Other objects with ``state_dict``/``load_state_dict`` that a step changes (restored too).

    Returns
    -------
    RangeTest
    """
    if not 0 < start_lr < end_lr or steps < 2:
        raise ValueError(
            f"the range test needs 0 < start_lr < end_lr and steps >= 2, got start_lr={start_lr}, "
            f"end_lr={end_lr}, steps={steps}"
        )
    if not 0 < factor <= 1:
        raise ValueError(f"factor={factor} must lie in (0, 1]")
    modules = [model, *extra_state]
    saved = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    params = list(model.parameters())
    saved_grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
    was_training = model.training
    rng = capture_rng_state()
    lrs: list[float] = []
    losses: list[float] = []
    stopped = "end_lr"
    start = time.perf_counter()
    try:
        running, lowest = 0.0, math.inf
        source = _cycle(batches)
        for i in range(steps):
            lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = float(step(next(source)))
            lrs.append(lr)
            losses.append(loss)
            if not math.isfinite(loss):
                stopped = "not finite"
                break
            running = beta * running + (1 - beta) * loss
            average = running / (1 - beta ** (i + 1))
            lowest = min(lowest, average)
            if average > divergence * lowest:
                stopped = "diverged"
                break
    finally:
        for m, state in zip(modules, saved):
            m.load_state_dict(state)
        optimizer.load_state_dict(saved_optimizer)
        for p, g in zip(params, saved_grads):
            p.grad = g
        model.train(was_training)
        restore_rng_state(rng)
    seconds = time.perf_counter() - start
    suggestion, lr_min, at_edge, curve = suggest(lrs, losses, factor)
    return RangeTest(
        lrs=lrs,
        losses=losses,
        smoothed=curve,
        lr_min=lr_min,
        suggestion=suggestion,
        factor=factor,
        stopped=stopped,
        at_edge=at_edge,
        seconds=seconds,
        settings={"start_lr": start_lr, "end_lr": end_lr, "steps": steps, "divergence": divergence},
    )
