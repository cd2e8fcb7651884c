"""``specops train --online PROBLEM``: train on samples streamed from solver workers, no data file.

The configuration's ``online`` section (``specops.online_config``) names the problem; everything else is
a normal run (model, optimizer, trainer, checkpoints, evaluation). What differs from ``pipeline.train``:

- the training data are :class:`~specops.data.streaming.OnlineBatches` over a
  :class:`~specops.data.streaming.SampleStream` (workers as processes, or Ray actors with
  ``online.cluster``); an "epoch" is ``online.steps_per_epoch`` batches;
- the validation set is ``online.n_val`` samples from seeds far outside the stream's
  (``online.validation_seed``), generated here once; the normalizers are fitted on it (the stream has no
  training split to fit them on before it starts);
- the trainer's checkpoints carry the stream's state (``trainer.stream``, ``training.checkpoint``), so
  ``--resume`` continues the same stream;
- under ``torchrun`` (DDP) every rank runs its own workers over a disjoint share of the stream (rank ``r``
  of ``W`` takes the chunks ``r, r + W, ...``: the union is the one-process stream), the ranks agree at
  every step whether all have a batch, and rank 0's checkpoints hold every rank's stream state
  (:class:`RankStreams`); a resume needs the same number of ranks; the stream's diagnostics (buffer occupancy, distinct samples,
  times seen, generation and consumption rates, steps that waited) go into ``metrics.jsonl`` every
  ``train.log_every`` steps and into ``RUN/stream.json`` at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from specops.config import Config, ConfigError, dump_config
from specops.data.buffer import SampleBuffer
from specops.data.ledger import SeedLedger
from specops.data.normalization import fit_normalizers
from specops.data.streaming import OnlineBatches, SampleStream
from specops.data.workers import ProblemSpec, ProcessPool, make_samples, worker_threads
from specops.pipeline.build import build_model, build_trainer
from specops.pipeline.evaluate import evaluate
from specops.pipeline.lr import resolve_lr
from specops.seeding import seed_everything
from specops.training import distributed as ddp
from specops.training import rundir
from specops.training.checkpoint import check_resumable
from specops.training.logging import LOG_NAME


class MemoryDataset(torch.utils.data.Dataset):
    """Operator pairs held in memory, ``{"x", "y"}`` items (the online run's validation set)."""

    kind = "operator"

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.in_channels, self.out_channels = int(x.shape[1]), int(y.shape[1])
        self.spatial_shape = tuple(int(n) for n in x.shape[2:])
        self.ndim = len(self.spatial_shape)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[index], "y": self.y[index]}


def problem_spec(cfg: Config) -> ProblemSpec:
    """The configured problem, built once here to check it (unknown names, bad arguments, kind)."""
    from specops.solvers.problems import make_problem

    spec = ProblemSpec(str(cfg.online.problem), dict(cfg.online.problem_args))
    try:
        problem = make_problem(spec.name, **spec.overrides)
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"online.problem={spec.name!r}: {exc}") from exc
    layouts = {spec_["layout"].split()[1] for spec_ in problem.fields().values()}
    if "time" in layouts:
        raise ConfigError(
            f"online.problem={spec.name!r} makes trajectories; online training streams input/output pairs: "
            f"set online.problem_args.save_interval=null (initial state -> state at t_final)"
        )
    return spec


def validation_set(cfg: Config, spec: ProblemSpec) -> MemoryDataset:
    """``online.n_val`` samples from seeds ``online.validation_seed + j`` (made here, in one call)."""
    seed = cfg.online.validation_seed
    seeds = list(range(seed, seed + cfg.online.n_val))
    _, _, x, y, failures = make_samples(spec(), (0, seeds, seeds), dtype=getattr(torch, cfg.online.dtype))
    if failures or x is None:
        _, bad, message = failures[0]
        raise ValueError(f"the validation sample of seed {bad} failed: {message}; choose online.val_seed")
    return MemoryDataset(x.float(), y.float())


def build_stream(
    cfg: Config, spec: ProblemSpec, *, batch_size: int, dist: ddp.DistributedContext | None = None
) -> SampleStream:
    """Workers (processes, or Ray actors with ``online.cluster``), ledger and buffer of the run; under DDP,
    those of this rank's share of the stream (chunks ``rank, rank + world_size, ...``)."""
    o = cfg.online
    dist = dist or ddp.DistributedContext()
    threads = o.threads or worker_threads(o.workers * dist.world_size)
    dtype = getattr(torch, o.dtype)
    if o.cluster:
        from specops.data.ray_pool import RayPool

        pool: Any = RayPool(spec, o.workers, address=o.cluster, device=o.device, dtype=dtype, threads=threads)
    else:
        pool = ProcessPool(spec, o.workers, device=o.device, dtype=dtype, threads=threads)
    if o.buffer_watermark < batch_size and o.policy != "reservoir":
        raise ConfigError(f"online.watermark={o.buffer_watermark} is below train.batch_size={batch_size}")
    seed = cfg.train.seed + dist.rank
    buffer = SampleBuffer(o.buffer_size, o.policy, watermark=o.buffer_watermark, seed=seed)
    ledger = SeedLedger(o.seed, o.chunk, o.max_samples, rank=dist.rank, world_size=dist.world_size)
    return SampleStream(
        pool, ledger, buffer, prefetch=o.prefetch, max_restarts=o.max_restarts, on_error=o.on_error
    )


def train_online(
    cfg: Config,
    *,
    resume: bool | str | os.PathLike = False,
    overwrite: bool = False,
    evaluate_after: bool = True,
    dist=None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the configured model on the stream of ``cfg.online.problem`` (module docstring).

    Returns ``{"run_dir", "fit", "stream": diagnostics, "evaluation": results or None, "notes"}``;
    evaluation runs on ``cfg.data.test_paths`` when given.
    """
    dist = dist or ddp.DistributedContext()
    if not dist.is_main:
        log = _quiet  # one voice: rank 0 reports
    run_dir = Path(cfg.run_dir)
    if dist.is_main:
        rundir.check_run_dir(run_dir, resume=bool(resume), overwrite=overwrite)
    spec = problem_spec(cfg)
    val = validation_set(cfg, spec)
    x_norm, y_norm = fit_normalizers(val, "gaussian" if cfg.data.normalize else "none")
    seed_everything(cfg.train.seed)
    cfg, model, notes = build_model(cfg, val)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, n_val=len(val)))
    checkpoint = None
    if resume:
        checkpoint = run_dir / rundir.LAST_CHECKPOINT if resume is True else Path(resume)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"cannot resume: checkpoint {checkpoint} does not exist")
        check_resumable(checkpoint, model, batch_size=cfg.train.batch_size, world_size=dist.world_size)
    norms = {"x_normalizer": x_norm, "y_normalizer": y_norm}
    cfg, lr_test = resolve_lr(cfg, model, val, **norms, resume=resume, dist=dist, log=log)  # on val seeds
    trainer = build_trainer(model, cfg, **norms, dist=dist)
    stream = build_stream(cfg, spec, batch_size=cfg.train.batch_size, dist=dist)
    batches = OnlineBatches(
        stream,
        cfg.train.batch_size,
        cfg.online.steps_per_epoch,
        max_time=cfg.online.max_time,
        timeout=cfg.online.timeout,
        on_end=lambda: setattr(trainer, "stopped_early", True),
        agree=lambda status: ddp.all_reduce_max(status, dist),
    )
    # the stream's state goes into every checkpoint (training.checkpoint.loop_state)
    trainer.stream = RankStreams(batches, dist) if dist.enabled else batches
    lock = rundir.run_lock(run_dir) if dist.is_main else contextlib.nullcontext()
    with lock, contextlib.closing(batches):
        if dist.is_main:
            rundir.remove_stale_temporaries(run_dir)
            if overwrite:
                rundir.clear_run(run_dir)
            dump_config(cfg, run_dir / "config.yaml")
            if lr_test is not None:
                lr_test.save(run_dir / "lr_range_test.json")
        for note in notes:
            log(f"note: {note}")
        where = f"Ray at {cfg.online.cluster}" if cfg.online.cluster else "processes"
        log(
            f"training {cfg.model.name} ({model.n_parameters:,} parameters) online on {spec.name} "
            f"(grid {val.spatial_shape}), {cfg.online.workers} solver workers ({where}), "
            f"{cfg.online.policy} buffer of {cfg.online.buffer_size}"
            f"{f' per rank, {dist.world_size} DDP ranks' if dist.enabled else ''}; run directory {run_dir}"
        )
        start = time.perf_counter()
        fit = trainer.fit(batches, val, resume=checkpoint, callback=_monitor(batches, run_dir, cfg, dist))
        fit["train_seconds"] = time.perf_counter() - start
        stats = {**batches.stats(), "times_seen_histogram": batches.buffer.histogram()}
        stats["skipped"] = [list(s) for s in stream.ledger.skipped]
        if dist.enabled:  # rank 0's numbers, and every rank's under "ranks"
            stats["ranks"] = ddp.all_gather_objects(dict(stats), dist)
        if dist.is_main:
            (run_dir / "stream.json").write_text(json.dumps(stats, indent=2) + "\n")
    evaluation = None
    if evaluate_after and dist.is_main and cfg.data.test_paths:
        evaluation = evaluate(run_dir, log=log)
    return {"run_dir": cfg.run_dir, "fit": fit, "stream": stats, "evaluation": evaluation, "notes": notes}


class RankStreams:
    """``trainer.stream`` of a DDP online run: rank 0's checkpoints hold every rank's stream state.

    :meth:`share_state` (called by ``Trainer.save`` on every rank) gathers the ranks' states
    ``[state of rank 0, state of rank 1, ...]``; :meth:`state_dict` is ``{"world_size": W, "ranks": ...}``;
    :meth:`load_state_dict` gives each rank its own entry back and refuses another number of ranks.
    """

    def __init__(self, batches: OnlineBatches, dist: ddp.DistributedContext) -> None:
        self.batches, self.dist = batches, dist
        self._shared: list[dict[str, Any]] | None = None
        self._shared_at = -1

    def share_state(self) -> None:
        """Gather every rank's stream state (collective: every rank calls it at the same point)."""
        self._shared = ddp.all_gather_objects(self.batches.state_dict(), self.dist)
        self._shared_at = self.batches.steps

    def state_dict(self) -> dict[str, Any]:
        if self._shared is None or self._shared_at != self.batches.steps:
            raise RuntimeError(
                "the ranks' stream states were not gathered at this step: call share_state() on every rank "
                "before saving (Trainer.save does)"
            )
        return {"world_size": self.dist.world_size, "ranks": self._shared}

    def load_state_dict(self, state: dict[str, Any], position: int = 0) -> None:
        """Continue this rank's share of the stream from the checkpoint's entry for this rank."""
        world = int(state.get("world_size", 1)) if "ranks" in state else 1
        if world != self.dist.world_size:
            raise ValueError(
                f"cannot resume the online stream: the checkpoint holds the stream shares of {world} trainer "
                f"process(es), this run has {self.dist.world_size}; each rank owns the chunks rank, "
                f"rank + world_size, ... of the stream, so resume with --nproc_per_node={world}"
            )
        self.batches.load_state_dict(state["ranks"][self.dist.rank], position)


def _monitor(
    batches: OnlineBatches, run_dir: Path, cfg: Config, dist: ddp.DistributedContext
) -> Callable[[Any, float], None]:
    """After each step: stop at the end of the stream or time (on every rank once any rank's is over);
    every ``log_every`` steps, log rank 0's stream stats."""

    def callback(trainer: Any, loss: float) -> None:
        del loss
        if ddp.all_reduce_max(int(batches.over()), dist):
            trainer.stopped_early = True
        if trainer.step % cfg.train.log_every == 0 and dist.is_main:
            record = {"step": trainer.step, **{f"stream/{k}": v for k, v in batches.stats().items()}}
            with open(run_dir / LOG_NAME, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    return callback


def _quiet(message: str) -> None:
    del message
