"""``optim.lr=auto``: the learning-rate range test (``specops.training.lr_finder``) run with the training
step a configuration describes, and its suggestion put into the configuration."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from specops.config import Config, ConfigError
from specops.models import OperatorModel
from specops.pipeline.build import task_for, trainer_options
from specops.pipeline.patching import patch_task
from specops.pipeline.physics import data_loss, physics_task
from specops.training.checkpoint import LAST, config_from_checkpoint
from specops.training.distributed import DistributedContext, all_reduce_sum, device_for
from specops.training.lr_finder import DEFAULT_FACTOR, END_LR, START_LR, STEPS, RangeTest, lr_range_test
from specops.training.optim import build_optimizer
from specops.training.trainer import Trainer


def find_lr(
    cfg: Config,
    model: OperatorModel,
    train_data: Dataset | Iterable,
    *,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    steps: int = STEPS,
    factor: float = DEFAULT_FACTOR,
) -> RangeTest:
    """Range-test ``model`` on ``train_data`` with the training step ``cfg`` describes.

    The steps are the trainer's own (``Trainer.train_step``: normalizers, task, loss, precision, gradient
    clipping, optimizer ``cfg.optim.name`` with its weight decay and betas) on batches of
    ``cfg.train.batch_size`` drawn in an order seeded by ``cfg.train.seed``; no weight average, no
    compilation, one process. Everything is restored afterwards (``lr_range_test``).
    """
    options = {**trainer_options(cfg), "compile": False, "ema_decay": None, "progress": False}
    optimizer = build_optimizer(model.parameters(), dataclasses.replace(cfg.optim, lr=start_lr))
    trainer = Trainer(
        model,
        data_loss(cfg),
        optimizer,
        None,
        task=physics_task(cfg, patch_task(cfg, task_for(cfg), model), x_normalizer, y_normalizer),
        x_normalizer=x_normalizer,
        y_normalizer=y_normalizer,
        **options,
    )
    if isinstance(train_data, Dataset) and not isinstance(train_data, IterableDataset):
        order = torch.Generator().manual_seed(cfg.train.seed)
        batches: Iterable = DataLoader(
            train_data, batch_size=cfg.train.batch_size, shuffle=True, generator=order
        )
    else:
        batches = train_data
    return lr_range_test(
        trainer.train_step,
        optimizer,
        batches,
        model=model,
        start_lr=start_lr,
        end_lr=end_lr,
        steps=steps,
        factor=factor,
    )


def resolve_lr(
    cfg: Config,
    model: OperatorModel,
    train_data: Dataset | Iterable,
    *,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    resume: bool | str | os.PathLike = False,
    dist: DistributedContext | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Config, RangeTest | None]:
    """``cfg`` with ``optim.lr="auto"`` replaced by the range test's suggestion (other values unchanged),
    and the test's record (None when no test ran); nothing is written here.

    The test runs from the model's current (initial) weights and leaves them as they were; the chosen
    number goes into the returned configuration, which the run saves (``config.yaml``, checkpoints). A
    resumed run takes the number its checkpoint was trained with instead of testing again. With several
    processes each runs the test on its own and all use the geometric mean of their suggestions.
    """
    if cfg.optim.lr != "auto":
        return cfg, None
    dist = dist or DistributedContext()
    if resume:
        path = Path(cfg.run_dir) / "checkpoints" / LAST if resume is True else Path(resume)
        lr = (config_from_checkpoint(path).get("optim") or {}).get("lr")
        if not isinstance(lr, (int, float)) or isinstance(lr, bool):
            raise ConfigError(
                f"optim.lr=auto, but {path} records no learning rate (optim.lr={lr!r}); pass the run's "
                f"learning rate with --lr"
            )
        log(f"learning rate: auto -> {lr:.3g} (from {path})")
        return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=float(lr))), None
    result = find_lr(cfg, model, train_data, x_normalizer=x_normalizer, y_normalizer=y_normalizer)
    lr = result.suggestion
    if dist.enabled:
        device = device_for(dist, cfg.train.device)
        total = all_reduce_sum(torch.tensor([math.log(lr)], dtype=torch.float64, device=device), dist)
        lr = math.exp(total.item() / dist.world_size)
        result.suggestion = lr
    log(
        f"learning rate: auto -> {lr:.3g} (range test, {len(result.lrs)} steps from lr "
        f"{result.lrs[0]:.0e} until {result.stopped}: fastest fall of the loss around lr "
        f"{result.lr_valley:.3g}, peak {result.factor:g} x that; {result.seconds:.1f} s)"
    )
    if result.at_edge:
        log(
            "note: the range test's loss was lowest at an end of its sweep, so the suggested learning rate "
            "is a guess; look at lr_range_test.json and set optim.lr"
        )
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=lr)), result
