"""The training loop.

One optimizer step, in order: take a batch ``{"x", "y"}``; encode it with the normalizers; under
autocast (optional) compute the task's loss; backward (scaled for fp16); clip the gradient norm
(optional); step the optimizer and the per-step learning-rate schedule; update the weight average
(optional). After each epoch (every ``eval_every``): validate on decoded predictions, keep ``best.pt``,
count evaluations without improvement for early stopping. ``last.pt`` is written every
``checkpoint_every`` steps and at every evaluation. Ctrl-C lets the current step finish, writes it and
raises ``TrainingInterrupted`` (a second Ctrl-C stops at once); ``fit(..., resume=path)`` continues
exactly where it stopped.

What a batch means is the task's business (``specops.training.tasks``).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import statistics
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from specops.config import Config, TrainConfig, config_to_dict
from specops.metrics import relative_l2
from specops.models.base import OperatorModel
from specops.training import distributed as ddp
from specops.training.checkpoint import (
    BEST,
    LAST,
    capture_rng_state,
    check_resumable,
    copy_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from specops.training.logging import RunLogger, truncate_log
from specops.training.optim import EMA, build_loss, build_optimizer, scheduler_factory
from specops.training.tasks import OperatorTask, Task, task_for

SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]
_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the legacy global RNG that user code draws from)
    torch.manual_seed(seed)


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(batch, dict):
        if "x" not in batch or "y" not in batch:
            raise ValueError(
                f"a training batch must be a dict with keys 'x' and 'y', got keys {sorted(batch)}; "
                f"datasets should return {{'x': input, 'y': target}}"
            )
        return batch["x"], batch["y"]
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(
        f"a training batch must be a dict {{'x', 'y'}} or a pair (x, y), got {type(batch).__name__}"
    )


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run after a whole step; ``checkpoint`` (None without a run directory) continues it."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        where = f"; checkpoint {checkpoint}: resume to continue" if checkpoint is not None else ""
        super().__init__(f"interrupted at step {step}{where}")
        self.step, self.checkpoint = step, checkpoint


class Trainer:
    """Train an operator model.

    Parameters
    ----------
    model : OperatorModel
    loss_fn : nn.Module
        ``loss_fn(pred, target)`` on encoded fields, e.g. ``specops.losses.LpLoss()``.
    optimizer : torch.optim.Optimizer
        Built over ``model.parameters()``.
    scheduler : scheduler, callable ``(optimizer, total_steps) -> scheduler``, or None
        Stepped after every optimizer step; a callable is built once the number of steps is known.
    task : OperatorTask, AutoregressiveTask or PushforwardTask
        What a batch means (default ``OperatorTask``).
    x_normalizer, y_normalizer : module with ``encode``/``decode``, optional
        Applied to inputs and targets; predictions are decoded before validation metrics.
    options : specops.config.TrainConfig
        Epochs, batch size, precision, clipping, EMA, early stopping, logging, seed, device.
    run_dir : path, optional
        Where logs and checkpoints go (``metrics.jsonl``, ``checkpoints/last.pt``, ``checkpoints/best.pt``).
    config : dict, optional
        The resolved run configuration, stored in every checkpoint.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    dist : DistributedContext, optional
        From ``specops.training.distributed.init_distributed()``; default: one process.
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
        options: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        config: dict[str, Any] | None = None,
        grad_clip: float | None = None,
        dist: ddp.DistributedContext | None = None,
    ) -> None:
        self.options = options or TrainConfig()
        self.dist = dist or ddp.DistributedContext()
        self.device = ddp.device_for(self.dist, self.options.device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn.to(self.device) if isinstance(loss_fn, nn.Module) else loss_fn
        self.optimizer = optimizer
        self._scheduler_spec = scheduler
        self.scheduler = None if callable(scheduler) and not hasattr(scheduler, "step") else scheduler
        self.task = task or OperatorTask()
        self.x_normalizer = (
            x_normalizer.to(self.device) if isinstance(x_normalizer, nn.Module) else x_normalizer
        )
        self.y_normalizer = (
            y_normalizer.to(self.device) if isinstance(y_normalizer, nn.Module) else y_normalizer
        )
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.config = config
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip={grad_clip} must be positive (or None to disable clipping)")
        self.grad_clip = grad_clip
        if self.options.precision not in _PRECISIONS:
            raise ValueError(f"precision={self.options.precision!r} is not one of {list(_PRECISIONS)}")
        self.amp_dtype = _PRECISIONS[self.options.precision]
        self.scaler = torch.amp.GradScaler(self.device.type) if self.options.precision == "fp16" else None
        self.ema = EMA(self.model, self.options.ema_decay) if self.options.ema_decay else None
        self.wrapped = ddp.wrap_model(self.model, self.dist, self.device)
        self.forward = torch.compile(self.wrapped) if self.options.compile else self.wrapped
        # Loop state: everything a checkpoint needs to continue exactly.
        self.step = 0
        self.epoch = 0
        self.position = 0
        self.best = math.inf
        self.bad_evals = 0
        self.history: list[float] = []
        self.val_history: list[dict[str, float]] = []
        self.stopped_early = False
        self._pending: list[torch.Tensor] = []
        self._in_step = False
        self._stop_requested = False
        self._last_epoch_mean = math.nan

    @classmethod
    def from_config(
        cls,
        model: OperatorModel,
        cfg: Config,
        *,
        x_normalizer: nn.Module | None = None,
        y_normalizer: nn.Module | None = None,
        dist: ddp.DistributedContext | None = None,
    ) -> Trainer:
        """Build the optimizer, schedule, loss and task that ``cfg`` names; ``cfg`` goes into every
        checkpoint (``specops.pipeline.train`` also writes it to ``run_dir/config.yaml``).

        ``cfg`` should already be adapted to the data (``specops.config.adapt_to_data``).
        """
        return cls(
            model,
            build_loss(cfg.train.loss),
            build_optimizer(model.parameters(), cfg.optim),
            scheduler_factory(cfg.optim),
            task=task_for(cfg.train),
            x_normalizer=x_normalizer,
            y_normalizer=y_normalizer,
            options=cfg.train,
            run_dir=cfg.run_dir,
            config=config_to_dict(cfg),
            grad_clip=cfg.optim.grad_clip,
            dist=dist,
        )

    # -- encoding -------------------------------------------------------------------------------------
    def _encode_x(self, x: torch.Tensor) -> torch.Tensor:
        return self.x_normalizer.encode(x) if self.x_normalizer is not None else x

    def _encode_y(self, y: torch.Tensor) -> torch.Tensor:
        return self.y_normalizer.encode(y) if self.y_normalizer is not None else y

    def _decode_y(self, y: torch.Tensor) -> torch.Tensor:
        return self.y_normalizer.decode(y) if self.y_normalizer is not None else y

    def _feedback(self, states: torch.Tensor) -> torch.Tensor:
        """Predicted states (encoded as outputs) re-encoded as inputs, for rollouts."""
        if self.x_normalizer is None and self.y_normalizer is None:
            return states
        return self._encode_x(self._decode_y(states))

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _to_device(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = _unpack(batch)
        nb = self.device.type == "cuda"
        return x.to(self.device, non_blocking=nb), y.to(self.device, non_blocking=nb)

    # -- one step -------------------------------------------------------------------------------------
    def train_step(self, batch: Any) -> torch.Tensor:
        """One optimizer step on ``batch``; returns the (detached) loss."""
        x, y = self._to_device(batch)
        x, y = self._encode_x(x), self._encode_y(y)
        self.wrapped.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.task.loss(self.forward, x, y, self.loss_fn, self._feedback)
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

    # -- validation -----------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data: Dataset | Iterable, batch_size: int | None = None) -> dict[str, float]:
        """Mean loss (encoded) and relative L2 error (decoded, physical units) over ``data``.

        With EMA on, the averaged weights are evaluated. In a multi-process run each process takes its
        share and the sums are combined, so every process gets the same numbers.
        """
        batch_size = batch_size or self.options.eval_batch_size or self.options.batch_size
        if isinstance(data, Dataset) and not isinstance(data, IterableDataset):
            indices = list(ddp.shard_indices(len(data), self.dist))
            loader: Iterable = DataLoader(torch.utils.data.Subset(data, indices), batch_size=batch_size)
        else:
            loader = data
        totals = torch.zeros(3, dtype=torch.float64, device=self.device)
        context = self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext()
        was_training = self.model.training
        self.model.eval()
        try:
            with context:
                for batch in loader:
                    x, y = self._to_device(batch)
                    xe, ye = self._encode_x(x), self._encode_y(y)
                    with self._autocast():
                        pred = self.task.predict(self.model, xe, ye, self._feedback)
                    pred = pred.float()
                    n = y.shape[0]
                    fields = self.task.fields
                    loss = self.loss_fn(fields(pred), fields(ye))
                    rel = relative_l2(fields(self._decode_y(pred)), fields(y))
                    totals += torch.stack(
                        [loss.double() * n, rel.double().mean(1).sum(), torch.tensor(n, dtype=torch.float64)]
                    ).to(self.device)
        finally:
            self.model.train(was_training)
        ddp.all_reduce_sum(totals, self.dist)
        count = max(totals[2].item(), 1.0)
        return {"val_loss": totals[0].item() / count, "val_rel_l2": totals[1].item() / count}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded model output for physical inputs ``x`` (operator task), without gradients; with EMA on,
        from the averaged weights."""
        context = self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), context:
                return self._decode_y(self.model(self._encode_x(x.to(self.device))))
        finally:
            self.model.train(was_training)

    # -- checkpoints ----------------------------------------------------------------------------------
    def _checkpoint_dir(self) -> Path:
        return (self.run_dir or Path(".")) / "checkpoints"

    def state(self) -> dict[str, Any]:
        """The loop state stored in checkpoints."""
        self._flush()
        return {
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "best": self.best,
            "bad_evals": self.bad_evals,
            "history": torch.tensor(self.history, dtype=torch.float64),
            "val_history": [dict(v) for v in self.val_history],
            "stopped_early": self.stopped_early,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": capture_rng_state(),
            "sampler": {"seed": self.options.seed, "epoch": self.epoch, "position": self.position},
            "world_size": self.dist.world_size,
            "batch_size": self.options.batch_size,
        }

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write a checkpoint (rank 0 only); default ``run_dir/checkpoints/last.pt``."""
        if not self.dist.is_main:
            return None
        path = Path(path) if path is not None else self._checkpoint_dir() / LAST
        return save_checkpoint(
            path,
            self.model,
            training=self.state(),
            x_normalizer=self.x_normalizer,
            y_normalizer=self.y_normalizer,
            config=self.config,
            inference_state=self.ema.shadow if self.ema is not None else None,
        )

    def load(self, path: str | os.PathLike) -> None:
        """Restore everything from a checkpoint: weights, optimizer, schedule, scaler, EMA, normalizers,
        random generators and the position in the data."""
        payload = check_resumable(
            path, self.model, batch_size=self.options.batch_size, world_size=self.dist.world_size
        )
        state = payload["extra"]["training"]
        weights = state.get("raw_model") or payload["state_dict"]
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        norms = payload["extra"].get("normalizers") or {}
        for key, norm in (("x", self.x_normalizer), ("y", self.y_normalizer)):
            if norm is not None and norms.get(key) is not None and hasattr(norm, "load_state_dict"):
                norm.load_state_dict(norms[key])
        self.step, self.epoch, self.position = int(state["step"]), int(state["epoch"]), int(state["position"])
        self.best, self.bad_evals = float(state["best"]), int(state["bad_evals"])
        self.history = [float(v) for v in state["history"].tolist()]
        self.val_history = [dict(v) for v in state["val_history"]]
        self.stopped_early = bool(state.get("stopped_early", False))
        restore_rng_state(state["rng"])

    # -- the loop -------------------------------------------------------------------------------------
    def _flush(self) -> None:
        """Move the losses of the last steps to ``history``; stop on a non-finite one (checked here, not
        every step, to keep the device busy; a checkpoint is never written past it)."""
        if not self._pending:
            return
        values = torch.stack(self._pending).double().cpu().tolist()
        first = self.step - len(values) + 1
        self._pending = []
        for i, value in enumerate(values):
            if not math.isfinite(value):
                self.history.extend(values[:i])
                last = self._checkpoint_dir() / LAST
                where = f"; the last checkpoint is {last}" if self.run_dir and last.exists() else ""
                raise FloatingPointError(
                    f"the training loss is {value} at step {first + i}: lower optim.lr, set optim.grad_clip, "
                    f"or check the data for NaN/inf{where}"
                )
        self.history.extend(values)

    def _loader(self, data: Dataset, num_workers: int) -> tuple[DataLoader, ddp.ResumableSampler]:
        sampler = ddp.ResumableSampler(data, self.dist, shuffle=True, seed=self.options.seed)
        generator = torch.Generator()
        loader = DataLoader(
            data,
            batch_size=self.options.batch_size,
            sampler=sampler,
            num_workers=num_workers,
            pin_memory=self.device.type == "cuda",
            generator=generator,
            persistent_workers=False,
        )
        return loader, sampler

    def fit(
        self,
        train_data: Dataset | Iterable,
        val_data: Dataset | Iterable | None = None,
        *,
        resume: str | os.PathLike | None = None,
        num_workers: int = 0,
        callback: Callable[[Trainer, float], None] | None = None,
    ) -> dict[str, Any]:
        """Train until ``options.epochs`` (or ``options.max_steps``) or early stopping.

        Parameters
        ----------
        train_data : map-style Dataset of ``{"x", "y"}`` items, or an iterable of batches
            A Dataset is shuffled per epoch (seeded, resumable mid-epoch); an iterable (e.g. a stream) is
            consumed as given, one pass per epoch, and needs ``options.max_steps`` if it has no length.
        val_data : Dataset or iterable, optional
            Validated every ``options.eval_every`` epochs; selects ``best.pt`` and drives early stopping.
        resume : path, optional
            A checkpoint of this run to continue from.
        callback : callable ``(trainer, loss) -> None``, optional
            Called after every step (e.g. to stop a run or to record extra numbers).

        Returns
        -------
        dict with ``step``, ``epoch``, ``best_val_rel_l2``, ``stopped_early``, ``train_loss`` (the mean
        over the last epoch) and the paths of the checkpoints.
        """
        opts = self.options
        for data in (train_data, val_data):
            self._check_single_normalization(data)
        map_style = isinstance(train_data, Dataset) and not isinstance(train_data, IterableDataset)
        if map_style:
            if len(train_data) == 0:
                raise ValueError("the training dataset is empty")
            loader, sampler = self._loader(train_data, num_workers)
            steps_per_epoch = len(loader)
        else:
            loader, sampler = train_data, None
            steps_per_epoch = len(train_data) if hasattr(train_data, "__len__") else None
        if opts.max_steps is not None:
            total = int(opts.max_steps)
        elif steps_per_epoch is not None:
            total = opts.epochs * steps_per_epoch
        else:
            raise ValueError("a training stream without a length needs train.max_steps")
        if self.scheduler is None and callable(self._scheduler_spec):
            self.scheduler = self._scheduler_spec(self.optimizer, total)
        if resume is not None:
            self.load(resume)
            if self.run_dir is not None and self.dist.is_main:
                truncate_log(self.run_dir, self.step)
        else:
            seed_everything(opts.seed)
        logger = RunLogger(
            self.run_dir,
            total_steps=total,
            enabled=self.dist.is_main,
            progress=opts.progress,
            tensorboard=opts.tensorboard,
            initial_step=self.step,
        )
        evaluated_at = self.step if resume is not None else -1
        try:
            with self._interrupt_guard():
                while self.step < total and not self.stopped_early:
                    if sampler is not None:
                        sampler.set_epoch(self.epoch, start=self.position * opts.batch_size)
                        loader.generator.manual_seed(opts.seed * 1_000_003 + self.epoch)
                    steps_before, cut = self.step, False
                    for batch in loader:
                        self._in_step = True
                        loss = self.train_step(batch)
                        self.step += 1
                        self.position += 1
                        self._pending.append(loss)
                        self._in_step = False
                        if self.step % opts.log_every == 0 or self.step == total:
                            self._flush()  # losses reach the host every log_every steps, not every step
                            lr = self.optimizer.param_groups[0]["lr"]
                            done = self.epoch + (self.position / steps_per_epoch if steps_per_epoch else 0.0)
                            logger.log(self.step, epoch=round(done, 4), train_loss=self.history[-1], lr=lr)
                            logger.progress(0, loss=self.history[-1], lr=lr)
                        logger.progress(1)
                        if opts.checkpoint_every and self.step % opts.checkpoint_every == 0:
                            self.save()
                        if callback is not None:
                            callback(self, float(loss))
                        self._stop_if_asked()
                        if self.step >= total:
                            cut = steps_per_epoch is None or self.position < steps_per_epoch
                            break
                    if not cut:  # the epoch ran to its end
                        if self.step == steps_before and sampler is None:
                            raise ValueError(f"the training data gave no batch in epoch {self.epoch}")
                        mean = self._epoch_mean()
                        self.epoch += 1
                        self.position = 0
                        if math.isfinite(mean):
                            self._last_epoch_mean = mean
                            logger.log(self.step, epoch=self.epoch, epoch_train_loss=mean)
                        if self.epoch % opts.eval_every == 0:
                            self._evaluate_and_checkpoint(val_data, logger)
                            evaluated_at = self.step
                        self._stop_if_asked()
                if evaluated_at != self.step:
                    self._evaluate_and_checkpoint(val_data, logger)
                self._stop_if_asked()
        except TrainingInterrupted:
            raise  # saved by _stop_if_asked
        except KeyboardInterrupt:  # raised directly (a second Ctrl-C, or by user code)
            if not self._in_step and self.run_dir is not None:
                path = self.save()
                logger.message(f"interrupted at step {self.step}; resume with resume={path}")
            raise
        finally:
            logger.close()
        self._flush()
        ddp.barrier(self.dist)
        ckpt = self._checkpoint_dir()
        return {
            "step": self.step,
            "epoch": self.epoch,
            "train_loss": self._epoch_mean() if self.position else self._last_epoch_mean,
            "best_val_rel_l2": self.best if math.isfinite(self.best) else None,
            "stopped_early": self.stopped_early,
            "last": str(ckpt / LAST) if self.run_dir else None,
            "best": str(ckpt / BEST) if self.run_dir and (ckpt / BEST).exists() else None,
        }

    def _check_single_normalization(self, data: Any) -> None:
        """Refuse to encode twice: a dataset whose items are already normalized (as ``load_splits`` makes
        them) with normalizers given to this Trainer as well."""

        def active(norm: Any) -> bool:
            return norm is not None and getattr(norm, "kind", None) != "none"

        inner = getattr(data, "dataset", data)  # through torch.utils.data.Subset
        in_data = [n for n in ("x_normalizer", "y_normalizer") if active(getattr(inner, n, None))]
        if in_data and (active(self.x_normalizer) or active(self.y_normalizer)):
            raise ValueError(
                f"the dataset already normalizes its items ({' and '.join(in_data)} set, as load_splits "
                f"does) and the Trainer has normalizers too, so fields would be encoded twice; give the "
                f"normalizers to one of them (raw datasets and Trainer(x_normalizer=..., "
                f"y_normalizer=...) is what specops train does)"
            )

    def _epoch_mean(self) -> float:
        """Mean training loss of the current epoch's steps, those before a resume included (the last
        ``position`` entries of the loss history, which checkpoints keep)."""
        self._flush()
        if not self.position:
            return math.nan
        return statistics.fmean(self.history[-self.position :])

    @contextlib.contextmanager
    def _interrupt_guard(self):
        """While training, a first Ctrl-C asks the loop to stop after the current step (it saves, then
        raises ``TrainingInterrupted``); a second one interrupts at once. Only in the main thread of a
        single-process run: processes of a distributed run would stop at different steps."""
        if self.dist.enabled or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def ask_to_stop(signum, frame):
            self._stop_requested = True
            signal.signal(signal.SIGINT, previous)

        self._stop_requested = False
        signal.signal(signal.SIGINT, ask_to_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _stop_if_asked(self) -> None:
        if self._stop_requested:
            self._stop_requested = False
            path = self.save() if self.run_dir is not None else None
            raise TrainingInterrupted(self.step, path)

    def _evaluate_and_checkpoint(self, val_data, logger: RunLogger) -> bool:
        improved = False
        if val_data is not None:
            metrics = self.evaluate(val_data)
            self.val_history.append({"step": self.step, "epoch": self.epoch, **metrics})
            logger.log(self.step, epoch=self.epoch, **metrics)
            score = metrics["val_rel_l2"]
            if score < self.best - self.options.min_delta:
                self.best, self.bad_evals, improved = score, 0, True
            else:
                self.bad_evals += 1
            patience = self.options.early_stopping
            if patience is not None and self.bad_evals >= patience:
                self.stopped_early = True
                logger.message(
                    f"early stopping at epoch {self.epoch}: no improvement of val_rel_l2 in {patience} "
                    f"evaluations (best {self.best:.4g})"
                )
        if self.run_dir is not None:
            last = self.save()
            if improved and last is not None:
                copy_checkpoint(last, self._checkpoint_dir() / BEST)
        return self.stopped_early
