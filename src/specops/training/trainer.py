"""The training loop.

One optimizer step: encode a batch ``{"x", "y"}`` (``FieldNormalization``, the one place fields are
normalized); under autocast (optional) compute the task's loss; backward (scaled for fp16); clip the
gradient norm (optional); step the optimizer, the per-step schedule and the weight average (optional).
After each epoch (every ``eval_every``): validate (``training.validation``), keep ``best.pt``, count
validations without improvement (``EarlyStopping``). ``last.pt`` is written every ``checkpoint_every``
steps and at every validation; Ctrl-C finishes the step, writes it and raises ``TrainingInterrupted``;
``fit(..., resume=path)`` continues exactly. ``specops.pipeline.build_trainer`` translates a
configuration into these arguments; tasks (``training.tasks``) say what a batch means.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from specops.models.base import OperatorModel
from specops.models.normalization import FieldNormalization
from specops.seeding import seed_everything
from specops.training import distributed as ddp
from specops.training.checkpoint import (
    BEST,
    LAST,
    check_resumable,
    copy_checkpoint,
    restore_loop_state,
    save_trainer,
)
from specops.training.interrupt import StopRequest, TrainingInterrupted
from specops.training.logging import LossHistory, RunLogger, truncate_log
from specops.training.optim import EMA
from specops.training.stopping import EarlyStopping
from specops.training.tasks import OperatorTask, Task
from specops.training.validation import autocast, encoded_batch, validate, validation_batches

SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]
Precision = Literal["fp32", "bf16", "fp16"]
_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

__all__ = ["Trainer", "TrainingInterrupted", "seed_everything"]


class Trainer:
    """Train an operator model.

    Parameters
    ----------
    model : OperatorModel
    loss_fn : nn.Module
        ``loss_fn(pred, target)`` on encoded fields, e.g. ``specops.losses.LpLoss()``.
    optimizer : torch.optim.Optimizer over ``model.parameters()``
    scheduler : scheduler, callable ``(optimizer, total_steps) -> scheduler``, or None
        Stepped after every optimizer step; a callable is built once the number of steps is known.
    task : OperatorTask (default), AutoregressiveTask or PushforwardTask: what a batch means
    x_normalizer, y_normalizer : modules with ``encode``/``decode``, optional
        Fitted on the raw training data; the datasets return raw fields and the trainer encodes them.
        Validation metrics are computed on decoded predictions (physical units).
    epochs, max_steps : length of the run (``max_steps`` wins when given)
    batch_size, eval_batch_size : samples per step (per process) and per validation batch
    precision : ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; fp16 with a gradient scaler)
    grad_clip : clip the global gradient norm to this value (None: no clipping)
    ema_decay : keep an exponential moving average of the weights for validation and checkpoints
    compile : run the model through ``torch.compile``
    early_stopping, min_delta : stop after ``early_stopping`` validations without an improvement of the
        validation relative L2 by more than ``min_delta``
    eval_every, checkpoint_every, log_every : validate every so many epochs; write ``last.pt`` every so
        many steps; log the loss every so many steps
    seed : seeds the generators when the run starts, and the data order of every epoch
    device : ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    progress, tensorboard : show progress; TensorBoard logs (None: when installed)
    run_dir : where ``metrics.jsonl`` and ``checkpoints/{last,best}.pt`` go (None: nowhere)
    config : the resolved run configuration (a dict), stored in every checkpoint
    dist : ``DistributedContext`` from ``training.distributed.init_distributed()``; default one process
    """

    def __init__(
        self,
        model: OperatorModel,
        loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any | SchedulerFactory | None = None,
        *,
        task: Task | None = None,
        x_normalizer: nn.Module | None = None,
        y_normalizer: nn.Module | None = None,
        epochs: int = 100,
        max_steps: int | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        precision: Precision = "fp32",
        grad_clip: float | None = None,
        ema_decay: float | None = None,
        compile: bool = False,
        early_stopping: int | None = None,
        min_delta: float = 0.0,
        eval_every: int = 1,
        checkpoint_every: int | None = None,
        log_every: int = 10,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
        tensorboard: bool | None = None,
        run_dir: str | os.PathLike | None = None,
        config: dict[str, Any] | None = None,
        dist: ddp.DistributedContext | None = None,
    ) -> None:
        if precision not in _PRECISIONS:
            raise ValueError(f"precision={precision!r} is not one of {list(_PRECISIONS)}")
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip={grad_clip} must be positive (or None to disable clipping)")
        self.epochs, self.max_steps = int(epochs), max_steps
        self.batch_size, self.eval_batch_size = int(batch_size), eval_batch_size
        self.grad_clip = grad_clip
        self.eval_every, self.checkpoint_every, self.log_every = eval_every, checkpoint_every, log_every
        self.seed, self.progress, self.tensorboard = int(seed), progress, tensorboard
        self.dist = dist or ddp.DistributedContext()
        self.device = ddp.device_for(self.dist, device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn.to(self.device) if isinstance(loss_fn, nn.Module) else loss_fn
        self.optimizer = optimizer
        self._scheduler_spec = scheduler
        self.scheduler = None if callable(scheduler) and not hasattr(scheduler, "step") else scheduler
        self.task = task or OperatorTask()
        self.normalization = FieldNormalization(x_normalizer, y_normalizer).to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.config = config
        self.amp_dtype = _PRECISIONS[precision]
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        self.ema = EMA(self.model, ema_decay) if ema_decay else None
        self.wrapped = ddp.wrap_model(self.model, self.dist, self.device)
        self.forward = torch.compile(self.wrapped) if compile else self.wrapped
        # Loop state: everything a checkpoint needs to continue exactly (``training.checkpoint``).
        self.step = 0
        self.epoch = 0
        self.position = 0  # steps taken in the current epoch
        self.stopping = EarlyStopping(early_stopping, min_delta)
        self.losses = LossHistory()
        self.val_history: list[dict[str, float]] = []
        self.stopped_early = False
        self._in_step = False
        self._stop = StopRequest()
        self._last_epoch_mean = math.nan

    # -- one step -------------------------------------------------------------------------------------
    def train_step(self, batch: Any) -> torch.Tensor:
        """One optimizer step on ``batch``; returns the (detached) loss."""
        x, y, _ = encoded_batch(batch, self.normalization, self.device)
        self.wrapped.train()
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.amp_dtype):
            loss = self.task.loss(self.forward, x, y, self.loss_fn, self.normalization.feedback)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss.detach()

    def validate(self, data: Dataset | Iterable, batch_size: int | None = None) -> dict[str, float]:
        """Mean loss (encoded) and relative L2 error (decoded, physical units) over ``data``
        (``training.validation``); with EMA on, of the averaged weights."""
        batch_size = batch_size or self.eval_batch_size or self.batch_size
        with self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext():
            return validate(
                self.model,
                validation_batches(data, self.dist, batch_size),
                task=self.task,
                loss_fn=self.loss_fn,
                normalization=self.normalization,
                device=self.device,
                ctx=self.dist,
                amp_dtype=self.amp_dtype,
            )

    # -- checkpoints ----------------------------------------------------------------------------------
    def _checkpoint_dir(self) -> Path:
        return (self.run_dir or Path(".")) / "checkpoints"

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write a checkpoint (rank 0 only); default ``run_dir/checkpoints/last.pt``."""
        if hasattr(getattr(self, "stream", None), "share_state"):  # online DDP: gather the ranks' states
            self.stream.share_state()
        if not self.dist.is_main:
            return None
        self._flush()
        path = Path(path) if path is not None else self._checkpoint_dir() / LAST
        return save_trainer(path, self)

    def load(self, path: str | os.PathLike) -> None:
        """Restore everything from a checkpoint of this run: weights, optimizer, schedule, scaler, EMA,
        normalizers, random generators and the position in the data."""
        payload = check_resumable(
            path, self.model, batch_size=self.batch_size, world_size=self.dist.world_size
        )
        restore_loop_state(self, payload)

    # -- the loop -------------------------------------------------------------------------------------
    def fit(
        self,
        train_data: Dataset | Iterable,
        val_data: Dataset | Iterable | None = None,
        *,
        resume: str | os.PathLike | None = None,
        num_workers: int = 0,
        callback: Callable[[Trainer, float], None] | None = None,
    ) -> dict[str, Any]:
        """Train until ``epochs`` (or ``max_steps``) or early stopping.

        Parameters
        ----------
        train_data : map-style Dataset of ``{"x", "y"}`` items, or an iterable of batches
            A Dataset is shuffled per epoch (seeded, resumable mid-epoch); an iterable (e.g. a stream) is
            consumed as given, one pass per epoch, and needs ``max_steps`` if it has no length.
        val_data : Dataset or iterable, optional
            Validated every ``eval_every`` epochs; selects ``best.pt`` and drives early stopping.
        resume : path, optional
            A checkpoint of this run to continue from.
        callback : callable ``(trainer, loss) -> None``, optional
            Called after every step (e.g. to stop a run or to record extra numbers).

        Returns
        -------
        dict with ``step``, ``epoch``, ``best_val_rel_l2``, ``stopped_early``, ``train_loss`` (the mean
        over the last epoch) and the paths of the checkpoints.
        """
        loader, sampler, steps_per_epoch, total = ddp.training_batches(
            train_data,
            self.dist,
            batch_size=self.batch_size,
            seed=self.seed,
            num_workers=num_workers,
            pin=self.device.type == "cuda",
            epochs=self.epochs,
            max_steps=self.max_steps,
        )
        self._begin(resume, total)
        logger = RunLogger(
            self.run_dir,
            total_steps=total,
            enabled=self.dist.is_main,
            progress=self.progress,
            tensorboard=self.tensorboard,
            initial_step=self.step,
        )
        evaluated_at = self.step if resume is not None else -1
        try:
            with self._stop.armed(enabled=not self.dist.enabled):
                while self.step < total and not self.stopped_early:
                    if self._train_epoch(loader, sampler, steps_per_epoch, total, logger, callback):
                        if self._end_epoch(val_data, logger):
                            evaluated_at = self.step
                if evaluated_at != self.step:
                    self._evaluate_and_checkpoint(val_data, logger)
                self._stop_if_asked()
        except TrainingInterrupted:
            raise  # saved by _stop_if_asked
        except KeyboardInterrupt:  # raised directly (a second Ctrl-C, or by user code)
            alone = hasattr(getattr(self, "stream", None), "share_state")  # a collective save: not one rank
            if not self._in_step and self.run_dir is not None and not alone:
                path = self.save()
                logger.message(f"interrupted at step {self.step}; resume with resume={path}")
            raise
        finally:
            logger.close()
        return self._summary()

    def _begin(self, resume: str | os.PathLike | None, total: int) -> None:
        """Build the schedule for ``total`` steps; restore a checkpoint or seed a fresh start."""
        if self.scheduler is None and callable(self._scheduler_spec):
            self.scheduler = self._scheduler_spec(self.optimizer, total)
        if resume is not None:
            self.load(resume)
            if self.run_dir is not None and self.dist.is_main:
                truncate_log(self.run_dir, self.step)
        else:
            seed_everything(self.seed)

    def _train_epoch(self, loader, sampler, steps_per_epoch, total, logger, callback) -> bool:
        """Steps until the epoch ends (True) or the run's last step is taken mid-epoch (False)."""
        if sampler is not None:
            sampler.set_epoch(self.epoch, start=self.position * self.batch_size)
            loader.generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        steps_before = self.step
        for batch in loader:
            self._in_step = True
            loss = self.train_step(batch)
            self.step += 1
            self.position += 1
            self.losses.append(loss)
            self._in_step = False
            self._after_step(loss, steps_per_epoch, total, logger, callback)
            if self.step >= total:
                if steps_per_epoch is None or self.position < steps_per_epoch:
                    return False
                break
        if self.step == steps_before and sampler is None:
            raise ValueError(f"the training data gave no batch in epoch {self.epoch}")
        return True

    def _after_step(self, loss, steps_per_epoch, total, logger, callback) -> None:
        """Log (the losses reach the host only every ``log_every`` steps), checkpoint, call back, and stop
        here if Ctrl-C was pressed."""
        if self.step % self.log_every == 0 or self.step == total:
            self._flush()
            lr = self.optimizer.param_groups[0]["lr"]
            done = self.epoch + (self.position / steps_per_epoch if steps_per_epoch else 0.0)
            logger.log(self.step, epoch=round(done, 4), train_loss=self.history[-1], lr=lr)
            logger.progress(0, loss=self.history[-1], lr=lr)
        logger.progress(1)
        if self.checkpoint_every and self.step % self.checkpoint_every == 0:
            self.save()
        if callback is not None:
            callback(self, float(loss))
        self._stop_if_asked()

    def _end_epoch(self, val_data, logger: RunLogger) -> bool:
        """Close the epoch: log its mean loss; validate and checkpoint when due (returns whether it did)."""
        mean = self._epoch_mean()
        self.epoch += 1
        self.position = 0
        if math.isfinite(mean):
            self._last_epoch_mean = mean
            logger.log(self.step, epoch=self.epoch, epoch_train_loss=mean)
        evaluated = self.epoch % self.eval_every == 0
        if evaluated:
            self._evaluate_and_checkpoint(val_data, logger)
        self._stop_if_asked()
        return evaluated

    def _evaluate_and_checkpoint(self, val_data, logger: RunLogger) -> None:
        """Validate (if there are validation data), write ``last.pt``, and copy it to ``best.pt`` on a
        new best; early stopping counts the validations without one."""
        improved = False
        if val_data is not None:
            metrics = self.validate(val_data)
            self.val_history.append({"step": self.step, "epoch": self.epoch, **metrics})
            logger.log(self.step, epoch=self.epoch, **metrics)
            improved = self.stopping.update(metrics["val_rel_l2"])
            if self.stopping.should_stop:
                self.stopped_early = True
                logger.message(
                    f"early stopping at epoch {self.epoch}: no improvement of val_rel_l2 in "
                    f"{self.stopping.patience} evaluations (best {self.stopping.best:.4g})"
                )
        if self.run_dir is not None:
            last = self.save()
            if improved and last is not None:
                copy_checkpoint(last, self._checkpoint_dir() / BEST)

    def _summary(self) -> dict[str, Any]:
        self._flush()
        ddp.barrier(self.dist)
        ckpt = self._checkpoint_dir()
        return {
            "step": self.step,
            "epoch": self.epoch,
            "train_loss": self._epoch_mean() if self.position else self._last_epoch_mean,
            "best_val_rel_l2": self.stopping.best if math.isfinite(self.stopping.best) else None,
            "stopped_early": self.stopped_early,
            "last": str(ckpt / LAST) if self.run_dir else None,
            "best": str(ckpt / BEST) if self.run_dir and (ckpt / BEST).exists() else None,
        }

    # -- bookkeeping ----------------------------------------------------------------------------------
    @property
    def history(self) -> list[float]:
        """The training loss of every step so far (flushed)."""
        return self.losses.values

    def _flush(self) -> None:
        last = self._checkpoint_dir() / LAST
        self.losses.flush(self.step, last if self.run_dir is not None and last.exists() else None)

    def _epoch_mean(self) -> float:
        """Mean training loss of the current epoch's steps, those before a resume included (the last
        ``position`` entries of the loss history, which checkpoints keep)."""
        self._flush()
        return self.losses.mean_of_last(self.position)

    def _stop_if_asked(self) -> None:
        if self._stop.take():
            path = self.save() if self.run_dir is not None else None
            raise TrainingInterrupted(self.step, path)
