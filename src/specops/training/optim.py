"""What to minimise and how: optimizers, learning-rate schedules, losses by name, and weight averaging (EMA).

Names are resolved here, once, through registries (``OPTIMIZERS``, ``SCHEDULES``, ``LOSSES``); the trainer
only ever receives objects.

Schedules are multipliers of the base learning rate as a function of the optimizer step ``t``, with a
linear warm-up over the first ``warmup`` steps (``lr(t) = lr * (t + 1) / warmup``) and then, with
``p = (t - warmup) / (total - warmup - 1)`` the progress through the rest (1 at the last step):

- ``constant``: 1;
- ``cosine``: ``r + (1 - r) (1 + cos(pi p)) / 2`` with ``r`` the final ratio (Loshchilov & Hutter 2017);
- ``step``: ``gamma ** floor((t - warmup) / step_size)``;
- ``one-cycle``: cosine rise from ``1/25`` to 1 over the first ``pct_start`` of training, then cosine
  decay to ``1/25 * 1e-4`` (Smith & Topin 2019; momentum is not cycled).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from specops.config import ConfigError, OptimConfig
from specops.losses import H1FDLoss, LpLoss, SobolevLoss
from specops.registry import Registry

OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.register(
    "adam", torch.optim.Adam, description="Adam (Kingma & Ba 2015), L2 penalty as weight decay"
)
OPTIMIZERS.register(
    "adamw", torch.optim.AdamW, description="AdamW (Loshchilov & Hutter 2019), decoupled decay"
)

LOSSES = Registry("loss")
LOSSES.register("l2", LpLoss, defaults={"p": 2.0}, description="relative L2 error per sample")
LOSSES.register("l1", LpLoss, defaults={"p": 1.0}, description="relative L1 error per sample")
LOSSES.register("h1", SobolevLoss, defaults={"s": 1.0}, description="relative H1 error, spectral (periodic)")
LOSSES.register("h1-fd", H1FDLoss, description="relative H1 error, finite differences (non-periodic)")
LOSSES.register(
    "h-1",
    SobolevLoss,
    defaults={"s": -1.0, "alpha": 0.1},
    description="relative H^-1 error (Spectral-Refiner)",
)
LOSSES.register("mse", nn.MSELoss, description="mean squared error")


def build_optimizer(params: Iterable[nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    """The optimizer ``cfg.name`` over ``params`` with ``cfg.lr``, ``cfg.weight_decay`` and ``cfg.betas``.

    ``cfg.lr`` must be a number: ``"auto"`` is resolved first by a range test on the training data
    (``specops.training.lr_finder.resolve_lr``, which ``specops train`` runs).
    """
    if not isinstance(cfg.lr, (int, float)):
        raise ConfigError(
            f"optim.lr={cfg.lr!r} must be resolved to a number before the optimizer is built: "
            f"specops.training.lr_finder.resolve_lr(cfg, model, train_data) runs the learning-rate range test "
            f"(specops train does this for you), or set optim.lr to a number such as 1e-3"
        )
    return OPTIMIZERS.create(
        cfg.name, params=params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas)
    )


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """A registered training loss by name (``l2``, ``h1``, ``h1-fd``, ``h-1``, ``l1``, ``mse``)."""
    return LOSSES.create(name, **kwargs)


def _warmed(shape: Callable[[float], float], warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        span = max(total - warmup - 1, 1)  # the last step (total - 1) reaches the end of the schedule
        return shape(min(max((step - warmup) / span, 0.0), 1.0))

    return factor


def _constant(cfg: OptimConfig, total: int) -> Callable[[float], float]:
    return lambda p: 1.0


def _cosine(cfg: OptimConfig, total: int) -> Callable[[float], float]:
    r = cfg.final_lr_ratio
    return lambda p: r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p))


def _step(cfg: OptimConfig, total: int) -> Callable[[float], float]:
    span = max(total - cfg.warmup_steps - 1, 1)
    return lambda p: cfg.gamma ** math.floor(round(p * span, 6) / cfg.step_size)


def _one_cycle(cfg: OptimConfig, total: int) -> Callable[[float], float]:
    start, end, peak = 1 / 25, 1 / 25 * 1e-4, cfg.pct_start

    def shape(p: float) -> float:
        if p < peak:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * p / peak))
        q = (p - peak) / max(1 - peak, 1e-12)
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * q))

    return shape


SCHEDULES = Registry("schedule")
SCHEDULES.register("constant", _constant, description="constant learning rate")
SCHEDULES.register("cosine", _cosine, description="cosine decay to final_lr_ratio * lr")
SCHEDULES.register("step", _step, description="multiply by gamma every step_size steps")
SCHEDULES.register("one-cycle", _one_cycle, description="cosine warm-up to lr, then cosine decay")


def lr_factor(cfg: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """The schedule as a function of the optimizer step: ``lr(t) = cfg.lr * factor(t)``."""
    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps} must be at least 1")
    if cfg.warmup_steps < 0 or cfg.step_size < 1:
        raise ValueError(
            f"optim.warmup_steps={cfg.warmup_steps} must be >= 0 and optim.step_size={cfg.step_size} >= 1"
        )
    return _warmed(SCHEDULES.create(cfg.schedule, cfg=cfg, total=total_steps), cfg.warmup_steps, total_steps)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step ``LambdaLR`` following ``cfg.schedule`` over ``total_steps`` optimizer steps.

    Its ``state_dict`` holds only numbers (the step count), so checkpoints load with ``weights_only``.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, total_steps))


def scheduler_factory(
    cfg: OptimConfig,
) -> Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LambdaLR]:
    """``(optimizer, total_steps) -> scheduler``, for trainers that learn the number of steps from the data."""
    return lambda optimizer, total_steps: build_scheduler(optimizer, cfg, total_steps)


class EMA:
    """Exponential moving average of a model's weights: ``w_avg <- d w_avg + (1 - d) w`` after each step.

    The decay ramps up as ``d_t = min(decay, (1 + t) / (10 + t))`` so the average does not remember the
    random initialisation; buffers (e.g. normalisation statistics) are copied, not averaged. Evaluate with
    ``with ema.applied(model): ...``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay={decay} must lie strictly between 0 and 1 (e.g. 0.999)")
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` into the average."""
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for key, value in model.state_dict().items():
            avg = self.shadow[key]
            if avg.is_floating_point() or avg.is_complex():
                avg.lerp_(value.detach(), 1.0 - d)
            else:
                avg.copy_(value)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the averaged weights into ``model``; the trained weights come back on exit."""
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(saved)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        for key, value in state["shadow"].items():
            self.shadow[key].copy_(value)
