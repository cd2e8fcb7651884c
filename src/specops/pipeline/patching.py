"""``model.patching``: a run's model wrapped in ``MultigridPatching`` (MG-TFNO's domain decomposition).

The configuration names the operator (``model.name``, ``model.args``) and, separately, how it is applied
(``model.patching.*``). A patched preset such as ``mg-tfno-2d`` is read the same way: its inner model
becomes ``model.name``/``model.args`` (the run's arguments on top of the preset's) and its patch options
fill the unset ``model.patching`` keys. The wrapper is what the checkpoint stores, so ``specops.load`` and
``specops evaluate`` apply the same patching with no other setting.

``model.patching.train_on_patches``: the training split becomes (sample, patch) items
(``data.patches.PatchItems``) and the task takes the loss per patch (``training.patch_task.PatchTask``);
the validation split stays whole fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from specops.config import Config, PatchingConfig
from specops.data.patches import PatchItems
from specops.models.patching import MultigridPatching
from specops.pipeline.physics import uses_physics
from specops.registry import MODELS, merge_arguments
from specops.training.patch_task import PatchTask
from specops.training.tasks import Task
from specops.values import ConfigError

_FROM_PRESET = ("patches", "levels", "padding", "periodic")
_DATA_DECIDES = ("in_channels", "out_channels")


def unwrap_preset(cfg: Config) -> tuple[Config, list[str]]:
    """``cfg`` with a patched preset (``model.name`` registered to ``MultigridPatching``) split into its
    inner model and ``model.patching``; any other configuration unchanged. Returns it and a note."""
    try:
        entry = MODELS.get(cfg.model.name)
    except ValueError:
        return cfg, []  # reported, with the valid names, where the model is built
    if entry.target is not MultigridPatching:
        return cfg, []
    preset = dict(entry.defaults)
    inner = preset.get("model")
    if not isinstance(inner, dict) or "name" not in inner:
        raise ConfigError(
            f"model.name={cfg.model.name!r} is a patching wrapper without an inner model; use a patched "
            f"preset (mg-tfno-2d) or model.patching.* with an operator model"
        )
    kwargs = {k: v for k, v in (inner.get("kwargs") or {}).items() if k not in _DATA_DECIDES}
    patching = cfg.model.patching
    filled = {key: preset[key] for key in _FROM_PRESET if key in preset and getattr(patching, key) is None}
    model = dataclasses.replace(
        cfg.model,
        name=str(inner["name"]),
        args=merge_arguments(kwargs, cfg.model.args),
        patching=dataclasses.replace(patching, **filled),
    )
    note = f"model {cfg.model.name!r}: {inner['name']!r} with model.patching {filled}"
    return dataclasses.replace(cfg, model=model), [note]


def is_patched(patching: PatchingConfig) -> bool:
    """Whether ``patching`` changes anything (more than one patch, or coarse levels)."""
    counts = [patching.patches] if isinstance(patching.patches, int) else patching.patches or [1]
    return any(c > 1 for c in counts) or bool(patching.levels)


def inner_args(args: dict[str, Any], patching: PatchingConfig) -> dict[str, Any]:
    """The operator's arguments under patching: ``(levels + 1)`` times the fields' input channels."""
    if not is_patched(patching) or "in_channels" not in args:
        return args
    return {**args, "in_channels": int(args["in_channels"]) * ((patching.levels or 0) + 1)}


def patch_shape(patching: PatchingConfig, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The grid the operator sees under ``patching``: ``n / p + 2 round(padding n)`` per axis (the data's
    grid where the patches do not divide it: ``check_grid`` reports that)."""
    if not is_patched(patching):
        return tuple(shape)
    counts = patching.patches if patching.patches is not None else 1
    counts = [counts] * len(shape) if isinstance(counts, int) else list(counts)
    if len(counts) != len(shape) or any(n % p for n, p in zip(shape, counts)):
        return tuple(shape)
    return tuple(n // p + 2 * round((patching.padding or 0.0) * n) for n, p in zip(shape, counts))


def data_is_periodic(data: Any) -> bool:
    """Whether the dataset's file says its grid is periodic (root attribute ``boundary``, default periodic)."""
    info = getattr(data, "info", None)
    attrs = getattr(info, "attrs", None) or {}
    return str(attrs.get("boundary", "periodic")) == "periodic"


def wrap(model: nn.Module, patching: PatchingConfig, data: Any) -> nn.Module:
    """``model`` in ``MultigridPatching`` as ``patching`` says (``model`` itself when it says nothing)."""
    if not is_patched(patching):
        return model
    periodic = data_is_periodic(data) if patching.periodic is None else patching.periodic
    try:
        return MultigridPatching(
            model,
            patches=patching.patches if patching.patches is not None else 1,
            levels=patching.levels or 0,
            padding=patching.padding or 0.0,
            periodic=periodic,
            sequential=patching.sequential,
        )
    except ValueError as exc:
        raise ConfigError(f"model.patching: {exc}") from exc


def check_grid(model: nn.Module, shape: tuple[int, ...]) -> None:
    """Refuse, before training, a grid the patches do not divide or too many levels for it."""
    if isinstance(model, MultigridPatching):
        try:
            model.geometry(shape)
        except ValueError as exc:
            raise ConfigError(f"model.patching: {exc} (the data's grid is {tuple(shape)})") from exc


def check_patch_training(cfg: Config, model: nn.Module) -> None:
    """Refuse ``model.patching.train_on_patches`` where it cannot work, before anything is written."""
    if not cfg.model.patching.train_on_patches:
        return
    if not isinstance(model, MultigridPatching):
        raise ConfigError(
            "model.patching.train_on_patches=true needs a patched model: set model.patching.patches (more "
            "than 1) or model.patching.levels, or use a patched preset such as mg-tfno-2d"
        )
    if cfg.train.mode not in ("operator", "autoregressive"):
        raise ConfigError(
            f"model.patching.train_on_patches=true works with train.mode=operator or autoregressive, not "
            f"{cfg.train.mode!r}: an unrolled rollout feeds whole predicted fields back"
        )
    if uses_physics(cfg):
        raise ConfigError(
            "model.patching.train_on_patches=true cannot be combined with a physics loss: the PDE residual "
            "needs whole fields; train on patches without it, or stitch (train_on_patches=false)"
        )


def patch_task(cfg: Config, task: Task, model: nn.Module) -> Task:
    """``task`` as a ``PatchTask`` on ``model``'s patches when the run trains on patches (else ``task``)."""
    if not cfg.model.patching.train_on_patches:
        return task
    check_patch_training(cfg, model)
    return PatchTask(task, model.patches)


def training_items(cfg: Config, model: nn.Module, data: Dataset) -> Dataset:
    """The training split as (sample, patch) items when the run trains on patches (else ``data``)."""
    if not cfg.model.patching.train_on_patches:
        return data
    check_patch_training(cfg, model)
    return PatchItems(data, model.n_patches)
