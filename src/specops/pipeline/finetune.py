"""``specops finetune``: adapt a trained run to each test instance by its PDE residual and report the
error before and after (PINO's instance-wise fine-tuning, ``specops.training.finetune``).

Instances are the samples of the data file: the run's held-out test split when it is the training file,
else the first ``n_samples`` of the file (for time-stepping runs, the first windows of its trajectories).
The equation is rebuilt from the file's metadata with the run's ``physics`` settings, which ``--set
physics.<key>=...`` changes for this command. Results go to ``RUN/finetune.json`` (an existing one is
kept unless ``overwrite``), never into the checkpoints: the trained model is not changed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from specops.atomic import atomic_path
from specops.config import ConfigError, apply_overrides
from specops.data.datasets import open_dataset
from specops.data.io import read_info
from specops.metrics import relative_l2
from specops.pipeline.evaluate import load_run
from specops.pipeline.physics import build_physics_loss
from specops.training.finetune import finetune_instances

RESULTS = "finetune.json"


def _instances(cfg, path: Path, n_samples: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of the instances (raw fields), ``n_samples`` at most."""
    info = read_info(path)
    n = int(info.attrs["n_samples"])
    same = cfg.data.path is not None and Path(cfg.data.path).resolve() == path.resolve()
    indices = list(range(n - (cfg.data.n_test or 0), n)) if same else list(range(n))
    if not indices:
        raise ConfigError(
            f"{path} is the run's training file and the run kept no test samples (data.n_test=0); pass a "
            f"file of test instances with --data"
        )
    options = (
        {} if cfg.train.mode == "operator" else {"history": cfg.train.history, "horizon": cfg.train.horizon}
    )
    data = open_dataset(path, indices=indices, **options)
    count = len(data) if n_samples is None else min(int(n_samples), len(data))
    items = [data[i] for i in range(count)]
    return torch.stack([it["x"] for it in items]), torch.stack([it["y"] for it in items])


def _errors(pred: torch.Tensor, target: torch.Tensor, frames: bool) -> torch.Tensor:
    """Relative L2 per instance (for frames ``(n, m, C, *space)``: frames and channels together)."""
    if frames:
        pred, target = pred.flatten(1, 2), target.flatten(1, 2)
    return relative_l2(pred.double(), target.double()).mean(dim=1)


def finetune(
    run_dir: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    steps: int,
    lr: float = 1e-4,
    anchor_weight: float | None = None,
    n_samples: int | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fine-tune the run's model on each instance of ``data_path`` for ``steps`` Adam steps at ``lr``
    (anchor weight ``physics.anchor_weight`` unless given) and write ``RUN/finetune.json``.

    Returns ``{"instances": [{"rel_l2_before", "rel_l2_after", "residual_before", "residual_after",
    "seconds"}], "mean_rel_l2_before", "mean_rel_l2_after", "improvement", ...}`` (errors only when the
    file holds the outputs).
    """
    run_dir, data_path = Path(run_dir), Path(data_path)
    out = run_dir / RESULTS
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    if int(steps) < 1:
        raise ConfigError(f"--steps {steps}: fine-tuning needs at least 1 step")
    predictor, cfg = load_run(run_dir)
    bad = [item for item in overrides if not item.startswith("physics.")]
    if bad:
        raise ConfigError(f"--set {bad[0]}: specops finetune only takes physics.<key>=... settings")
    cfg = apply_overrides(cfg, list(overrides))
    anchor = cfg.physics.anchor_weight if anchor_weight is None else float(anchor_weight)
    # the predictor returns only the future frames of a space-time run: their residual with the input state
    # prepended is the objective (the initial condition then holds exactly)
    physics_cfg = dataclasses.replace(cfg.physics, outputs_include_initial=False)
    physics = build_physics_loss(
        dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, path=str(data_path)), physics=physics_cfg)
    )
    x, y = _instances(cfg, data_path, n_samples)
    log(
        f"fine-tuning {x.shape[0]} instances of {data_path} for {steps} steps each (lr {lr:g}, anchor {anchor:g})"
    )
    result = finetune_instances(predictor, physics, x, steps=int(steps), lr=lr, anchor_weight=anchor)
    labelled = bool(torch.isfinite(y).all())
    frames = cfg.train.mode != "operator"
    before = _errors(result.before, y, frames) if labelled else None
    after = _errors(result.after, y, frames) if labelled else None
    instances = []
    for i in range(x.shape[0]):
        row = {
            "residual_before": float(result.physics_before[i]),
            "residual_after": float(result.physics_after[i]),
            "seconds": result.seconds[i],
        }
        if labelled:
            row.update(rel_l2_before=float(before[i]), rel_l2_after=float(after[i]))
        instances.append(row)
    summary: dict[str, Any] = {
        "run": str(run_dir),
        "data": str(data_path),
        "steps": int(steps),
        "lr": lr,
        "anchor_weight": anchor,
        "instances": instances,
        "mean_residual_before": float(result.physics_before.mean()),
        "mean_residual_after": float(result.physics_after.mean()),
        "median_seconds": statistics.median(result.seconds),
    }
    if labelled:
        summary.update(
            mean_rel_l2_before=float(before.mean()),
            mean_rel_l2_after=float(after.mean()),
            improvement=float(before.mean() / after.mean().clamp_min(1e-300)),
        )
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary


def finetune_table(summary: dict[str, Any]) -> str:
    """The per-instance table and the summary line of :func:`finetune`'s results."""
    labelled = "mean_rel_l2_before" in summary
    head = f"{'instance':>8}  {'residual before':>15}  {'after':>10}"
    head += f"  {'rel. L2 before':>14}  {'after':>8}" if labelled else ""
    lines = [head]
    for i, row in enumerate(summary["instances"]):
        line = f"{i:>8}  {row['residual_before']:>15.4g}  {row['residual_after']:>10.4g}"
        if labelled:
            line += f"  {row['rel_l2_before']:>14.4f}  {row['rel_l2_after']:>8.4f}"
        lines.append(line)
    lines.append(
        f"mean residual {summary['mean_residual_before']:.4g} -> {summary['mean_residual_after']:.4g}"
        + (
            f"; mean rel. L2 {summary['mean_rel_l2_before']:.4f} -> {summary['mean_rel_l2_after']:.4f} "
            f"(before / after = {summary['improvement']:.2f})"
            if labelled
            else "; the file holds no outputs to compare with"
        )
        + f"; {summary['median_seconds']:.2f} s per instance"
    )
    return "\n".join(lines)
