"""``specops train``: a data file and a configuration in, a trained (and evaluated) run directory out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.config import Config, dump_config
from specops.pipeline.build import build_model, build_trainer
from specops.pipeline.data import load_run_data
from specops.pipeline.evaluate import evaluate
from specops.pipeline.lr import resolve_lr
from specops.pipeline.patching import training_items
from specops.pipeline.physics import hide_labels
from specops.seeding import seed_everything
from specops.training import rundir
from specops.training.checkpoint import check_resumable


def train(
    cfg: Config,
    *,
    resume: bool | str | os.PathLike = False,
    overwrite: bool = False,
    evaluate_after: bool = True,
    solver_time: Callable[[tuple[int, ...]], float] | float | None = None,
    dist=None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the configured model on ``cfg.data.path``, then evaluate it on the held-out test split and on
    ``cfg.data.test_paths`` (e.g. the same problem at other resolutions).

    ``cfg.run_dir`` must be missing or empty for a new run; ``resume=True`` continues from
    ``run_dir/checkpoints/last.pt`` (a path names another checkpoint of this run), ``overwrite=True``
    replaces the run's files (``specops.training.rundir``). Everything is validated (configuration, data,
    model, checkpoint) before anything is written; the run directory is locked while the run writes to it.
    The model is built after seeding with ``train.seed``, so the same configuration trains to the same
    weights. Returns ``{"run_dir", "fit": trainer summary, "evaluation": results or None, "notes"}``.
    """
    is_main = dist is None or dist.is_main
    if not is_main:
        log = _quiet  # one voice: rank 0 reports
    run_dir = Path(cfg.run_dir)
    if is_main:
        rundir.check_run_dir(run_dir, resume=bool(resume), overwrite=overwrite)
    data = hide_labels(cfg, load_run_data(cfg))  # physics-informed runs read only the labels they may
    seed_everything(cfg.train.seed)  # before the model draws its initial weights
    cfg, model, notes = build_model(cfg, data.train)
    n_train, n_val, n_test = (len(data.indices[k]) for k in ("train", "val", "test"))
    cfg = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, n_train=n_train, n_val=n_val, n_test=n_test)
    )
    checkpoint = None
    if resume:
        checkpoint = run_dir / rundir.LAST_CHECKPOINT if resume is True else Path(resume)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"cannot resume: checkpoint {checkpoint} does not exist")
        world = dist.world_size if dist is not None else 1
        check_resumable(checkpoint, model, batch_size=cfg.train.batch_size, world_size=world)
    norms = {"x_normalizer": data.x_normalizer, "y_normalizer": data.y_normalizer}
    items = training_items(cfg, model, data.train)  # (sample, patch) items with train_on_patches
    cfg, lr_test = resolve_lr(cfg, model, items, **norms, resume=resume, dist=dist, log=log)
    trainer = build_trainer(model, cfg, **norms, dist=dist)
    with rundir.run_lock(run_dir) if is_main else contextlib.nullcontext():
        if is_main:
            rundir.remove_stale_temporaries(run_dir)
            if overwrite:
                rundir.clear_run(run_dir)
            dump_config(cfg, run_dir / "config.yaml")
            if lr_test is not None:
                lr_test.save(run_dir / "lr_range_test.json")
        for note in notes:
            log(f"note: {note}")
        log(
            f"training {cfg.model.name} ({model.n_parameters:,} parameters) on {n_train} samples of "
            f"{cfg.data.path} ({data.kind}, grid {tuple(data.train.spatial_shape)}"
            f"{'' if items is data.train else f', trained as {len(items)} (sample, patch) items'}); "
            f"run directory {run_dir}"
        )
        start = time.perf_counter()
        fit = trainer.fit(items, data.val, resume=checkpoint, num_workers=cfg.data.num_workers)
        fit["train_seconds"] = time.perf_counter() - start
        evaluation = None
        if evaluate_after and is_main and (data.test is not None or cfg.data.test_paths):
            evaluation = evaluate(run_dir, solver_time=solver_time, log=log)
    return {"run_dir": cfg.run_dir, "fit": fit, "evaluation": evaluation, "notes": notes}


def _quiet(message: str) -> None:
    del message
