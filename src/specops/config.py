"""Run configuration: dataclasses, YAML load/dump, dotted ``key=value`` overrides, strict key checking.

A configuration is plain data (numbers, strings, lists); the library takes objects. ``specops train``
reads a YAML file, applies ``--set section.key=value`` overrides, adapts the defaults to the data
(``adapt_to_data``), saves the resolved configuration in the run directory and in every checkpoint, and
only then builds objects from it.

>>> cfg = load_config("configs/darcy.yaml", ["optim.lr=3e-3", "model.args.n_modes=[16,16]"])
>>> dump_config(cfg, "runs/darcy/config.yaml")
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from specops.atomic import atomic_path

Mode = Literal["operator", "autoregressive", "unrolled"]
Precision = Literal["fp32", "bf16", "fp16"]
Schedule = Literal["constant", "cosine", "step", "one-cycle"]
OptimizerName = Literal["adam", "adamw"]


@dataclass
class ModelConfig:
    """Which model to build: a registered name (``specops list``) and constructor arguments."""

    name: str = "fno"
    args: dict[str, Any] = field(default_factory=lambda: {"n_modes": [12, 12], "hidden_channels": 32})


@dataclass
class DataConfig:
    """Where the data come from and how they are split and normalised."""

    path: str | None = None
    test_paths: list[str] = field(default_factory=list)
    n_train: int | None = None
    n_val: int = 0
    n_test: int | None = None
    normalize: bool = True
    num_workers: int = 0


@dataclass
class OptimConfig:
    """Optimizer, learning-rate schedule (per optimizer step) and gradient clipping."""

    name: OptimizerName = "adamw"
    lr: float | Literal["auto"] = "auto"  # a range test picks it (specops.training.lr_finder)
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Schedule = "cosine"
    warmup_steps: int = 0
    final_lr_ratio: float = 0.0
    step_size: int = 1000
    gamma: float = 0.5
    pct_start: float = 0.3
    grad_clip: float | None = None


@dataclass
class TrainConfig:
    """The training loop: task, loss, length, precision, averaging, stopping, logging, checkpoints."""

    mode: Mode = "operator"
    history: int = 1
    horizon: int = 1
    unroll_steps: int = 1
    loss: str = "l2"
    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 32
    eval_batch_size: int | None = None
    precision: Precision = "fp32"
    compile: bool = False
    ema_decay: float | None = None
    early_stopping: int | None = None
    min_delta: float = 0.0
    eval_every: int = 1
    checkpoint_every: int | None = None
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    tensorboard: bool | None = None


@dataclass
class EvalConfig:
    """What ``specops evaluate`` computes: resolutions, rollout length, plots, timing."""

    resolutions: list[int] = field(default_factory=list)
    rollout_steps: int | None = None
    plots: bool = True
    n_plot_samples: int = 1
    timing_repeats: int = 5


@dataclass
class Config:
    """A whole run: ``model``, ``data``, ``optim``, ``train``, ``eval`` sections and the run directory."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run_dir: str = "runs/run"


class ConfigError(ValueError):
    """A configuration value or key that cannot be used; the message says what is valid."""


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def _suggest_key(key: str) -> str:
    """Suggest the valid dotted key closest to ``key``: the same name in another section, else by spelling."""
    everything = _all_keys(Config)
    last = key.rsplit(".", 1)[-1]
    same_name = [k for k in everything if k.rsplit(".", 1)[-1] == last and k != key]
    if same_name:
        return f" Did you mean {same_name[0]!r}?"
    return _suggest(key, everything)


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(_all_keys(tp, f"{prefix}{f.name}."))
        else:
            out.append(f"{prefix}{f.name}")
    return out


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _parse_scalar(text: str) -> Any:
    """A command-line value as YAML would read it, plus numbers YAML 1.1 leaves as strings (``1e-3``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise ``ConfigError`` naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return _parse_scalar(value) if isinstance(value, str) else value
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}={value!r}: " + "; ".join(errors))
    if origin is Literal:
        text = str(value)
        if text not in [str(a) for a in args]:
            raise ConfigError(
                f"{key}={value!r} is not one of {', '.join(repr(a) for a in args)}.{_suggest(text, args)}"
            )
        return next(a for a in args if str(a) == text)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping of {tp.__name__} keys, got {value!r}")
        return config_from_dict(value, tp, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{key}={value!r} is not a boolean; use true or false")
    if tp is int:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
            raise ConfigError(f"{key}={value!r} is not an integer")
        return int(value)
    if tp is float:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}={value!r} is not a number")
        return float(value)
    if tp is str:
        if isinstance(value, (dict, list, tuple)):
            raise ConfigError(f"{key}={value!r} must be a string")
        return str(value)
    if origin in (list, tuple):
        if isinstance(value, str):
            text = value.strip()
            value = _parse_scalar(text if text.startswith("[") else f"[{text}]")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r} must be a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}={value!r} must have {len(args)} entries")
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, args[1] if args else Any, f"{key}.{k}") for k, v in value.items()}
    raise ConfigError(f"{key}: unsupported configuration type {tp!r}")  # a bug in the dataclasses


def config_from_dict(data: dict[str, Any] | None, cls: type = Config, *, prefix: str = "") -> Any:
    """Build ``cls`` from a nested mapping; unknown keys and wrong types raise ``ConfigError``."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'configuration'} must be a mapping, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            full = f"{prefix}{key}"
            hint = _suggest_key(full)
            raise ConfigError(
                f"unknown configuration key {full!r}; valid keys{' in ' + repr(prefix.rstrip('.')) if prefix else ''}: "
                f"{', '.join(names)}.{hint}"
            )
        kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}")
    return cls(**kwargs)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The configuration as nested dicts/lists of numbers and strings (YAML-, JSON- and checkpoint-safe)."""
    return _plain(cfg)


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """Return a copy of ``cfg`` with dotted ``section.key=value`` overrides applied and type-checked.

    Values are read as YAML (``[16, 16]``, ``true``, ``null``) and converted to the field's type
    (``optim.lr=1e-3`` is a float). ``model.args.<name>`` sets a model constructor argument.
    """
    data = config_to_dict(cfg)
    everything = _all_keys(Config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. optim.lr=1e-3)")
        key, text = (s.strip() for s in item.split("=", 1))
        parts = key.split(".")
        node: dict[str, Any] = data
        cls: Any = Config  # None once inside a free-form mapping such as model.args
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            tp = None
            if cls is not None:
                names = [f.name for f in dataclasses.fields(cls)]
                if part not in names:
                    valid = [
                        k for k in everything if k.startswith(here.rsplit(".", 1)[0] + ".")
                    ] or everything
                    raise ConfigError(
                        f"unknown configuration key {key!r}; valid keys: {', '.join(valid)}."
                        f"{_suggest_key(key)}"
                    )
                tp = _hints(cls)[part]
            if depth == len(parts) - 1:
                node[part] = _parse_scalar(text)
                break
            if cls is not None and dataclasses.is_dataclass(tp):
                cls = tp
            elif cls is None or typing.get_origin(tp) is dict:
                cls = None
                node.setdefault(part, {})
                if not isinstance(node[part], dict):
                    raise ConfigError(f"{here} holds a value, not a mapping; cannot set {key!r}")
            else:
                raise ConfigError(f"{here} is a value, not a section; cannot set {key!r}")
            node = node[part]
    return config_from_dict(data)


def load_config(path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read a YAML configuration (or start from the defaults when ``path`` is None) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"configuration file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of sections (model, data, optim, train, eval)")
    try:
        cfg = config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from exc
    return apply_overrides(cfg, overrides)


def dump_config(cfg: Config, path: str | os.PathLike) -> Path:
    """Write ``cfg`` as YAML atomically; ``load_config`` reads it back to an equal configuration."""
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def check_model_args(name: str, args: dict[str, Any]) -> None:
    """Raise ``ConfigError`` if ``args`` holds a name the registered model's constructor does not take."""
    import specops  # noqa: F401  (registers the models)
    from specops.registry import MODELS

    try:
        entry = MODELS.get(name)
    except ValueError as exc:
        raise ConfigError(f"model.name: {exc}") from exc
    target = entry.target
    params = inspect.signature(target).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        # TFNO forwards **kwargs to FNO: check against the parent constructor too.
        parents = [c for c in getattr(target, "__mro__", ())[1:] if "__init__" in vars(c)]
        for parent in parents[:1]:
            params = {**inspect.signature(parent.__init__).parameters, **params}
    valid = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
    for key in args:
        if key not in valid:
            raise ConfigError(
                f"model.args.{key}: model {name!r} takes no argument {key!r}; valid: {', '.join(valid)}."
                f"{_suggest(key, valid)}"
            )


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
        import specops  # noqa: F401
        from specops.registry import MODELS

        defaults = MODELS.get(cfg.model.name).defaults
        if "n_modes" in defaults:
            args["n_modes"] = list(defaults["n_modes"])
    if "n_modes" in args:
        modes = args["n_modes"]
        modes = [modes] * len(shape) if isinstance(modes, int) else list(modes)
        args["n_modes"], notes = clamp_modes(modes, shape)
    check_model_args(cfg.model.name, args)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args)), notes
