"""From a configuration to objects: the model the data call for, the task, the trainer.

The configuration is plain data (``specops.config``); this is where it meets the data and becomes
objects. ``adapt_to_data`` fills in what the data decide (channels, kept modes that fit the grid) and
checks model arguments against the constructor's annotated types; ``build_model`` and ``build_trainer``
then translate names and numbers into a model, a loss, an optimizer, a schedule and a task.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Sequence
from typing import Any

from specops.config import Config, ModelConfig, config_to_dict
from specops.layers.local_conv import FixedResolution
from specops.models import OperatorModel
from specops.pipeline import patching
from specops.pipeline.physics import data_loss, physics_task
from specops.registry import MODELS
from specops.training import distributed as ddp
from specops.training.optim import build_optimizer, scheduler_factory
from specops.training.tasks import AutoregressiveTask, NoisyInputs, OperatorTask, PushforwardTask, Task
from specops.training.trainer import Trainer
from specops.values import ConfigError, coerce, coercible, did_you_mean


def _constructor_params(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any]]:
    """Named parameters and type hints of a registered constructor (a class's parent too when it forwards
    ``**kwargs``, as TFNO does to FNO)."""
    init = target.__init__ if inspect.isclass(target) else target
    params = dict(inspect.signature(target).parameters)
    hints: dict[str, Any] = {}
    chain = [init]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        parents = [c for c in getattr(target, "__mro__", ())[1:] if "__init__" in vars(c)]
        for parent in parents[:1]:
            params = {**inspect.signature(parent.__init__).parameters, **params}
            chain.insert(0, parent.__init__)
    for fn in chain:
        try:
            hints.update(typing.get_type_hints(fn))
        except (NameError, TypeError):  # an annotation that cannot be resolved is not checked
            continue
    return params, hints


def check_model_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` checked against the registered model's constructor: an unknown name or a value of the wrong
    type (``hidden_channels=abc``) raises ``ConfigError`` naming ``model.args.<key>``; values given as text
    on the command line are converted to the annotated type. Returns the converted arguments."""
    try:
        entry = MODELS.get(name)
    except ValueError as exc:
        raise ConfigError(f"model.name: {exc}") from exc
    upgrade = getattr(entry.target, "upgrade_args", None)
    if callable(upgrade):  # older flat spellings (``model.args.rank``) fold into today's option groups
        args = upgrade(dict(args))
    params, hints = _constructor_params(entry.target)
    valid = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
    out = {}
    for key, value in args.items():
        if key not in valid:
            raise ConfigError(
                f"model.args.{key}: model {name!r} takes no argument {key!r}; valid: {', '.join(valid)}."
                f"{did_you_mean(key, valid)}"
            )
        tp = hints.get(key)
        out[key] = coerce(value, tp, f"model.args.{key}") if tp is not None and coercible(tp) else value
    return out


def clamp_modes(n_modes: Sequence[int], shape: Sequence[int]) -> tuple[list[int], list[str]]:
    """Keep ``n_modes[i] <= shape[i]``: a grid of ``n`` points holds at most ``n`` Fourier modes per axis.

    Returns the clamped modes and one note per changed axis (for the log), e.g.
    ``"n_modes[1]: 32 -> 16 (the data have 16 points on axis 1)"``.
    """
    if len(n_modes) != len(shape):
        raise ConfigError(
            f"model.args.n_modes={list(n_modes)} has {len(n_modes)} entries but the data have "
            f"{len(shape)} spatial axes {tuple(shape)}; give one mode count per axis"
        )
    out, notes = [], []
    for axis, (m, n) in enumerate(zip(n_modes, shape)):
        if int(m) > int(n):
            notes.append(f"n_modes[{axis}]: {m} -> {n} (the data have {n} points on axis {axis})")
        out.append(min(int(m), int(n)))
    return out, notes


def adapt_to_data(
    cfg: Config, *, in_channels: int, out_channels: int, shape: Sequence[int]
) -> tuple[Config, list[str]]:
    """Fill in what the data decide: model input/output channels and kept modes that fit the grid.

    ``in_channels``/``out_channels`` are the model's (``history * C`` and ``horizon * C`` for
    autoregressive training). An explicit channel count that contradicts the data is an error; modes above
    the resolution are clamped with a note. Returns the new configuration and the notes.
    """
    args = dict(cfg.model.args)
    if isinstance(args.get("n_modes"), (int, str)) and not isinstance(args["n_modes"], bool):
        single = coerce(args["n_modes"], int, "model.args.n_modes")  # one count for every axis
        args["n_modes"] = [single] * len(shape)
    args = check_model_args(cfg.model.name, args)
    notes = []
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if name in args and int(args[name]) != int(value):
            raise ConfigError(
                f"model.args.{name}={args[name]} but the data give {value} ({cfg.train.mode} mode, "
                f"history={cfg.train.history}, horizon={cfg.train.horizon}); remove model.args.{name} to "
                f"use the data's value"
            )
        args[name] = int(value)
    if "n_modes" not in args:
        defaults = MODELS.get(cfg.model.name).defaults
        if "n_modes" in defaults:
            args["n_modes"] = list(defaults["n_modes"])
    if "n_modes" in args:
        args["n_modes"], notes = clamp_modes(list(args["n_modes"]), shape)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args)), notes


def _drop_unused_defaults(cfg: Config, notes: list[str]) -> Config:
    """``cfg`` without the configuration's default model arguments (``n_modes``, ``hidden_channels``) that
    the named model does not take (a U-Net has no modes), so any model builds with no flags but its name, or
    that its preset sets itself (the preset's value wins over the generic default; a value the user gives
    that differs from the default still wins over the preset)."""
    if cfg.model.name not in MODELS.names():
        return cfg
    params, _ = _constructor_params(MODELS.get(cfg.model.name).target)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return cfg
    default = ModelConfig().args
    unused = [k for k, v in default.items() if k not in params and cfg.model.args.get(k) == v]
    preset = MODELS.get(cfg.model.name).defaults
    # a preset's own value wins over the configuration's generic default (fno-1d-burgers is 16 modes, width 64)
    own = [k for k, v in default.items() if k in preset and k not in unused and cfg.model.args.get(k) == v]
    if unused:
        notes.append(
            f"model {cfg.model.name!r} takes no {', '.join(unused)}: the configuration's default ignored"
        )
    if own:
        notes.append(
            f"model {cfg.model.name!r}: the preset's "
            + ", ".join(f"{k}={preset[k]}" for k in own)
            + " (set model.args to change them)"
        )
    if not unused and not own:
        return cfg
    args = {k: v for k, v in cfg.model.args.items() if k not in unused and k not in own}
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args))


def model_channels(cfg: Config, data: Any) -> tuple[int, int]:
    """Model input/output channels: the fields' channels, times ``history``/``horizon`` for trajectories
    (``horizon + 1`` in the space-time layout of ``physics.outputs_include_initial``)."""
    if data.kind == "operator":
        return data.in_channels, data.out_channels
    frames_out = cfg.train.horizon + int(cfg.physics.outputs_include_initial)
    return cfg.train.history * data.in_channels, frames_out * data.out_channels


def build_model(cfg: Config, data: Any) -> tuple[Config, OperatorModel, list[str]]:
    """Adapt ``cfg`` to the data (channels, modes that fit the grid) and build its model.

    A mode count given for another dimension with one value for every axis (the default ``[12, 12]`` on 1D
    data, say) is repeated for the data's axes. With ``model.patching`` (or a patched preset) the model is
    wrapped in ``MultigridPatching`` (``specops.pipeline.patching``). Seed first (``specops.seeding``) for
    reproducible weights.
    """
    c_in, c_out = model_channels(cfg, data)
    cfg, pre = patching.unwrap_preset(cfg)
    cfg = _drop_unused_defaults(cfg, pre)
    modes = cfg.model.args.get("n_modes")
    ndim = len(data.spatial_shape)
    if isinstance(modes, list) and len(modes) != ndim and len(set(modes)) == 1:
        pre.append(f"n_modes: {modes} -> {[modes[0]] * ndim} (the data have {ndim} spatial axes)")
        args = {**cfg.model.args, "n_modes": [modes[0]] * ndim}
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args))
    if data.kind == "trajectory" and "state_channels" not in cfg.model.args:
        # trajectory models that take frames as (time, channel) learn how many channels one frame has
        target = MODELS.get(cfg.model.name).target if cfg.model.name in MODELS.names() else None
        if target is not None and "state_channels" in inspect.signature(target).parameters:
            args = {**cfg.model.args, "state_channels": int(data.in_channels)}
            cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args))
    seen = patching.patch_shape(cfg.model.patching, tuple(data.spatial_shape))  # the operator's grid
    target = MODELS.get(cfg.model.name).target if cfg.model.name in MODELS.names() else None
    if target is not None and "resolution" in inspect.signature(target).parameters:
        # models tied to (or initialised for) a grid learn the training grid; an explicit value stays
        grid = list(cfg.model.args.get("resolution") or seen)
        divisor = getattr(target, "resolution_divisor", None)
        if "resolution" not in cfg.model.args and callable(divisor):
            div = int(divisor(**{**MODELS.get(cfg.model.name).defaults, **cfg.model.args}))
            grid = [-(-int(n) // div) * div for n in seen]
            if grid != list(seen):
                pre.append(
                    f"model.args.resolution: {list(seen)} -> {grid} ({cfg.model.name} needs multiples of "
                    f"{div}); its inputs are resampled to that grid and its outputs back"
                )
        args = {**cfg.model.args, "resolution": grid}
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args))
    cfg, notes = adapt_to_data(cfg, in_channels=c_in, out_channels=c_out, shape=seen)
    try:
        model = MODELS.create(cfg.model.name, **patching.inner_args(cfg.model.args, cfg.model.patching))
    except (TypeError, ValueError) as exc:  # a value the constructor or an option group refuses
        text = str(exc)
        named = any(text.startswith(key) for key in cfg.model.args)
        raise ConfigError(f"model.args.{text}" if named else f"model {cfg.model.name!r}: {text}") from exc
    model = patching.wrap(model, cfg.model.patching, data)
    patching.check_grid(model, tuple(data.spatial_shape))
    patching.check_patch_training(cfg, model)
    fixed = [type(m).__name__ for m in model.modules() if isinstance(m, FixedResolution)]
    other = [r for r in cfg.eval.resolutions if int(r) != int(data.spatial_shape[0])]
    if fixed and other:  # refused now rather than after training
        raise ConfigError(
            f"eval.resolutions={cfg.eval.resolutions}: the model's {fixed[0]} has kernels of a fixed size in grid "
            f"points and runs only on the training grid {tuple(data.spatial_shape)}; drop eval.resolutions or "
            f"choose a resolution-free mixer (model.args.mixer=spectral, aff, rpe-attention or karat)"
        )
    return cfg, model, pre + notes


def task_for(cfg: Config) -> Task:
    """The task object for ``train.mode`` (``operator``, ``autoregressive``, ``unrolled``), with smooth
    input noise when ``train.input_noise > 0``."""
    if cfg.train.mode == "operator":
        task: Task = OperatorTask()
    elif cfg.train.mode == "autoregressive":
        task = AutoregressiveTask()
    else:
        task = PushforwardTask(cfg.train.unroll_steps)
    if cfg.train.input_noise > 0:
        task = NoisyInputs(task, cfg.train.input_noise, 2 if cfg.train.mode == "operator" else 3)
    return task


_LOOP_OPTIONS = (
    "epochs",
    "max_steps",
    "batch_size",
    "eval_batch_size",
    "precision",
    "ema_decay",
    "compile",
    "early_stopping",
    "min_delta",
    "eval_every",
    "checkpoint_every",
    "log_every",
    "seed",
    "device",
    "progress",
    "tensorboard",
)


def trainer_options(cfg: Config) -> dict[str, Any]:
    """The ``Trainer`` keyword arguments that ``cfg.train`` and ``cfg.optim.grad_clip`` set."""
    options = {name: getattr(cfg.train, name) for name in _LOOP_OPTIONS}
    return {**options, "grad_clip": cfg.optim.grad_clip}


def build_trainer(
    model: OperatorModel,
    cfg: Config,
    *,
    x_normalizer: Any = None,
    y_normalizer: Any = None,
    dist: ddp.DistributedContext | None = None,
) -> Trainer:
    """The ``Trainer`` that ``cfg`` describes: loss, optimizer, schedule and task by name (with the PDE
    residual for physics-informed runs, ``pipeline.physics``), loop options, and ``cfg`` itself stored in
    every checkpoint. ``cfg`` should be adapted to the data already."""
    return Trainer(
        model,
        data_loss(cfg),
        build_optimizer(model.parameters(), cfg.optim),
        scheduler_factory(cfg.optim),
        task=physics_task(cfg, patching.patch_task(cfg, task_for(cfg), model), x_normalizer, y_normalizer),
        x_normalizer=x_normalizer,
        y_normalizer=y_normalizer,
        run_dir=cfg.run_dir,
        config=config_to_dict(cfg),
        dist=dist,
        **trainer_options(cfg),
    )
