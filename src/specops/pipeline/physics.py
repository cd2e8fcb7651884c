"""Physics-informed runs from a configuration: which runs use the PDE residual, the physics loss of the
training file, hidden labels for label-free and mixed training, and the task that joins them.

- ``train.loss=physics``: label-free. Only the input fields are read for training (every target is
  hidden); the output normaliser is the identity (fitting it would read the labels); validation and
  evaluation still compare with the stored outputs. The validation loss is relative L2.
- ``train.physics_weight=w`` with a data loss: the residual is added with weight ``w``.
- ``data.labelled_fraction=f``: only the first ``round(f n_train)`` training samples (whole trajectories:
  all their windows) keep their targets (the output normaliser is fitted on them); the data loss sees
  those, the residual sees all. ``physics.labelled_repeat=r`` shows each labelled sample ``r`` times per
  epoch (the epoch grows by ``(r - 1)`` times the labelled samples), so that more batches carry labels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from specops.config import Config, ConfigError
from specops.data.io import read_info
from specops.data.normalization import fit_normalizers
from specops.models.normalization import FieldNormalization
from specops.physics import PhysicsLoss, residual_from_metadata
from specops.training.optim import build_loss
from specops.training.physics_task import PhysicsTask
from specops.training.tasks import Task

PHYSICS_LOSS = "physics"


def physics_weight(cfg: Config) -> float:
    """The weight of the residual term: ``train.physics_weight``, default 1 with ``train.loss=physics``, else 0."""
    if cfg.train.physics_weight is not None:
        return float(cfg.train.physics_weight)
    return 1.0 if cfg.train.loss == PHYSICS_LOSS else 0.0


def uses_physics(cfg: Config) -> bool:
    """Whether the run trains with a PDE residual."""
    return physics_weight(cfg) > 0


def data_loss(cfg: Config) -> nn.Module:
    """The data loss of the run (also its validation loss): ``train.loss``, relative L2 for ``physics``."""
    return build_loss("l2" if cfg.train.loss == PHYSICS_LOSS else cfg.train.loss)


def n_labelled(cfg: Config, n_train: int) -> int:
    """Training samples whose targets the run may read: none for ``train.loss=physics``, else
    ``round(data.labelled_fraction * n_train)``."""
    if cfg.train.loss == PHYSICS_LOSS:
        return 0
    return round(cfg.data.labelled_fraction * n_train)


def build_physics_loss(cfg: Config, path: str | None = None) -> PhysicsLoss:
    """The physics loss of the equation that made ``path`` (default ``cfg.data.path``), configured by
    ``cfg.physics``; a ``ConfigError`` names any parameter the file's metadata lack."""
    path = path or cfg.data.path
    if not path:
        raise ConfigError("a physics loss needs the data file that names its equation: pass --data FILE")
    info = read_info(path)
    field = info.fields[str(info.attrs["output_fields"][0])]
    ndim = len(field.shape) - (3 if info.attrs["kind"] == "trajectory" else 2)
    residual = residual_from_metadata(
        info.attrs,
        tuple(field.shape[-ndim:]),
        coords=info.coords,
        overrides=cfg.physics.overrides(),
        scheme=cfg.physics.time_scheme,
    )
    p = cfg.physics
    return PhysicsLoss(
        residual,
        s=p.s,
        alpha=p.alpha,
        residual_weight=p.residual_weight,
        initial_weight=p.initial_weight,
        boundary_weight=p.boundary_weight,
        outputs_include_initial=p.outputs_include_initial,
    )


class HiddenLabels(Dataset):
    """A training dataset whose targets are NaN outside the first ``n_labelled`` samples (hidden labels:
    ``PhysicsTask`` gives those samples only the physics term); ``limit`` keeps only the first samples;
    ``repeat`` lists the labelled samples ``repeat - 1`` more times after them (oversampling)."""

    def __init__(self, data: Dataset, n_labelled: int, limit: int | None = None, repeat: int = 1) -> None:
        if int(repeat) < 1:
            raise ValueError(f"repeat={repeat} must be at least 1")
        self.data = data
        self.n_labelled = int(n_labelled)
        self.limit = len(data) if limit is None else int(limit)
        self.extra = self.n_labelled * (int(repeat) - 1)
        self.spatial_shape = getattr(data, "spatial_shape", None)

    def __len__(self) -> int:
        return self.limit + self.extra

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} samples")
        if index >= self.limit:
            index = (index - self.limit) % self.n_labelled
        item = dict(self.data[index])
        if index >= self.n_labelled:
            item["y"] = torch.full_like(item["y"], float("nan"))
        return item

    def __getattr__(self, name: str) -> Any:  # kind, channels, ... of the wrapped dataset
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)


def hide_labels(cfg: Config, data: Any) -> Any:
    """``RunData`` for a physics-informed run: the training split with the labels it may not read hidden,
    and the output normaliser fitted on the labelled samples only (the identity without any); the input
    normaliser reads no labels and is kept."""
    if not uses_physics(cfg):
        if cfg.physics.outputs_include_initial:
            raise ConfigError(
                "physics.outputs_include_initial=true makes the model predict the initial state too, which only "
                "the physics loss uses: set train.physics_weight (or train.loss=physics), or drop the setting"
            )
        if cfg.train.loss == PHYSICS_LOSS:
            raise ConfigError("train.loss=physics with train.physics_weight=0 leaves nothing to train on")
        if cfg.data.labelled_fraction < 1:
            raise ConfigError(
                f"data.labelled_fraction={cfg.data.labelled_fraction} hides labels, which only a physics-informed "
                f"run can do without: set train.physics_weight (or train.loss=physics), or lower data.n_train"
            )
        return data
    n_train = len(data.train)
    per_sample = int(getattr(data.train, "windows_per_sample", 1))  # trajectories: whole ones are labelled
    labelled = n_labelled(cfg, n_train // per_sample) * per_sample
    if labelled == n_train:
        return data
    kind = "gaussian" if cfg.data.normalize and labelled else "none"
    _, y_norm = fit_normalizers(HiddenLabels(data.train, labelled, limit=labelled or None), kind)
    train = HiddenLabels(data.train, labelled, repeat=cfg.physics.labelled_repeat if labelled else 1)
    return dataclasses.replace(data, train=train, y_normalizer=y_norm)


def physics_task(cfg: Config, base: Task, x_normalizer: Any = None, y_normalizer: Any = None) -> Task:
    """``base`` wrapped in a ``PhysicsTask`` when the run uses the residual (else ``base`` itself)."""
    if not uses_physics(cfg):
        return base
    data_weight = 0.0 if cfg.train.loss == PHYSICS_LOSS else 1.0
    try:
        return PhysicsTask(
            base,
            build_physics_loss(cfg),
            FieldNormalization(x_normalizer, y_normalizer),
            physics_weight=physics_weight(cfg),
            data_weight=data_weight,
            refine=cfg.physics.refine,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
