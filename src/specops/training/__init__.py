"""Training: the step loop (``Trainer``), checkpoints, optimizers and schedules, multi-process runs, logs."""

from specops.seeding import seed_everything
from specops.training.checkpoint import load_checkpoint, normalizers_from_checkpoint, save_checkpoint
from specops.training.distributed import DistributedContext, init_distributed
from specops.training.interrupt import TrainingInterrupted
from specops.training.optim import (
    EMA,
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    build_loss,
    build_optimizer,
    build_scheduler,
    scheduler_factory,
)
from specops.training.tasks import AutoregressiveTask, OperatorTask, PushforwardTask
from specops.training.trainer import Trainer

__all__ = [
    "EMA",
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "AutoregressiveTask",
    "DistributedContext",
    "OperatorTask",
    "PushforwardTask",
    "Trainer",
    "TrainingInterrupted",
    "build_loss",
    "build_optimizer",
    "build_scheduler",
    "init_distributed",
    "load_checkpoint",
    "normalizers_from_checkpoint",
    "save_checkpoint",
    "scheduler_factory",
    "seed_everything",
]
