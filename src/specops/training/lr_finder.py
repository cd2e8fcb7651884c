"""Learning-rate range test (Smith 2017, sec. 3.3; the ``lr_find`` of fastai): how fast a model can learn.

From the initial state, take up to ``steps`` optimizer steps with a learning rate growing geometrically
from ``start_lr`` to ``end_lr``,

    lr_i = start_lr * (end_lr / start_lr) ** (i / (steps - 1)),   i = 0, ..., steps - 1,

and record the training loss ``l_i`` of each step. The test stops early when the loss diverges: when it
is not finite, or when its running average ``s_i = beta s_(i-1) + (1 - beta) l_i`` (bias-corrected,
``beta = 0.9``) exceeds ``divergence = 4`` times its smallest value so far. Afterwards the weights, the
optimizer, the gradients and every random generator are put back exactly as they were (bit for bit): the
test leaves no trace, and training starts from the same initial weights as without it.

The defaults sweep ``1e-4`` to ``1`` in 65 steps, 16 per decade (``lr_i = 1e-4 * 10 ** (i / 16)``); with
Adam or AdamW on normalised data the loss diverges between 0.05 and 0.3, so the test ends after 50-60
steps (about two epochs of 1000 samples in batches of 32).

The rule. The losses are smoothed without lag by a centred moving average ``L`` over 7 steps (``w = 3``
on each side, a fifth of a decade). With ``L_0`` the mean of the first three losses and ``L_min`` the
smallest smoothed loss, the *valley floor* is the range of learning rates where
``L <= L_min + 0.1 (L_0 - L_min)``: within a tenth of the whole drop of the loss from its lowest value.
Its geometric centre ``lr_valley = sqrt(lr_first * lr_last)`` marks where the model learns fastest
before the loss turns back up, and the suggested peak learning rate is

    lr_peak = factor * lr_valley,   factor = 0.3.

The curve's floor is broad and flat, so the location of its single lowest point jitters from seed to
seed (by up to 3.7x on the benchmark problems); the centre of the floor varies by 1.3-1.5x. The factor
0.3 and the rule were chosen by measurement on three problems at 20 and 100 epochs
(``benchmarks/select_defaults.py``; table in ``benchmarks/RESULTS.md``): fastai's classic 1/10 of the
loss minimum trained too slowly in short runs.

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

DEFAULT_FACTOR = 0.3
START_LR, END_LR, STEPS = 1e-4, 1.0, 65
SMOOTHING_HALF_WIDTH = 3
FLOOR = 0.1  # the valley floor: within this fraction of the loss's whole drop above its minimum
DIVERGENCE = 4.0
BETA = 0.9


@dataclass
class RangeTest:
    """The record of a learning-rate range test and its suggestion.

    ``lrs[i]`` and ``losses[i]`` are the learning rate and training loss of step ``i``; ``smoothed`` the
    centred moving average used by the rule; ``lr_valley`` the centre of its floor; ``suggestion``
    ``= factor * lr_valley``. ``stopped`` says why the test ended (``"diverged"``, ``"not finite"`` or
    ``"end_lr"``); ``at_edge`` is true when the floor reaches the first or last step, where the
    suggestion is unreliable (widen ``start_lr``/``end_lr``).
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    lr_valley: float
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
    """``(lr_peak, lr_valley, at_edge, curve)`` by the module's rule.

    ``curve`` is the centred moving average of the losses before the first non-finite one; ``lr_valley``
    the geometric centre of its floor (``curve <= L_min + 0.1 (L_0 - L_min)``); ``lr_peak = factor *
    lr_valley``; ``at_edge`` when the floor touches the first or the last point (the sweep did not
    cover the valley: the suggestion is a guess).
    """
    n = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
    if n == 0:
        raise FloatingPointError(
            f"the first loss of the learning-rate range test is {losses[0] if losses else None} (lr "
            f"{lrs[0] if lrs else float('nan'):.1e}): check the data for NaN/inf, or give optim.lr a number"
        )
    curve = smooth(losses[:n])
    start = sum(losses[: min(3, n)]) / min(3, n)
    lowest = min(curve)
    floor = [i for i, v in enumerate(curve) if v <= lowest + FLOOR * max(start - lowest, 0.0)]
    first, last = floor[0], floor[-1]
    lr_valley = math.sqrt(lrs[first] * lrs[last])
    return factor * lr_valley, lr_valley, first == 0 or last == n - 1, curve


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
        ``suggestion = factor * lr_valley``.
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
    suggestion, lr_valley, at_edge, curve = suggest(lrs, losses, factor)
    return RangeTest(
        lrs=lrs,
        losses=losses,
        smoothed=curve,
        lr_valley=lr_valley,
        suggestion=suggestion,
        factor=factor,
        stopped=stopped,
        at_edge=at_edge,
        seconds=seconds,
        settings={"start_lr": start_lr, "end_lr": end_lr, "steps": steps, "divergence": divergence},
    )
