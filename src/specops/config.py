"""Run configuration: dataclasses, YAML load/dump, dotted ``key=value`` overrides, strict key checking.

A configuration is plain data (numbers, strings, lists); the library takes objects. ``specops train``
reads a YAML file, applies ``--set section.key=value`` overrides, adapts the defaults to the data
(``specops.pipeline.adapt_to_data``), saves the resolved configuration in the run directory and in every checkpoint, and
only then builds objects from it.

>>> cfg = load_config("configs/darcy.yaml", ["optim.lr=3e-3", "model.args.n_modes=[16,16]"])
>>> dump_config(cfg, "runs/darcy/config.yaml")
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from specops.atomic import atomic_path
from specops.online_config import OnlineConfig
from specops.patching_config import PatchingConfig
from specops.physics_config import PhysicsConfig
from specops.seeding import check_seed
from specops.values import ConfigError, coerce, did_you_mean, parse_assignment, parse_value

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "ModelConfig",
    "OptimConfig",
    "PatchingConfig",
    "PhysicsConfig",
    "TrainConfig",
    "apply_overrides",
    "coerce",
    "config_from_dict",
    "config_to_dict",
    "did_you_mean",
    "dump_config",
    "load_config",
    "parse_assignment",
    "parse_value",
]

Mode = Literal["operator", "autoregressive", "unrolled"]
Precision = Literal["fp32", "bf16", "fp16"]
Schedule = Literal["constant", "cosine", "step", "one-cycle"]
OptimizerName = Literal["adam", "adamw"]


def _check(section: str, rules: dict[str, tuple[Any, str]]) -> None:
    """Raise ``ConfigError`` for the first ``key: (ok, expectation)`` whose ``ok`` is false."""
    for key, (ok, expected) in rules.items():
        if not ok:
            raise ConfigError(f"{section}.{key} must be {expected}")


def _positive(value: Any) -> bool:
    return value is None or value > 0


@dataclass
class ModelConfig:
    """Which model to build: a registered name (``specops list``), constructor arguments and patching."""

    name: str = "fno"
    args: dict[str, Any] = field(default_factory=lambda: {"n_modes": [12, 12], "hidden_channels": 32})
    patching: PatchingConfig = field(default_factory=PatchingConfig)


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
    labelled_fraction: float = 1.0  # physics-informed runs: targets of the rest are hidden (docs/training.md)

    def __post_init__(self) -> None:
        _check(
            "data",
            {
                "n_train": (self.n_train is None or self.n_train >= 1, f"at least 1, got {self.n_train}"),
                "n_val": (self.n_val >= 0, f"0 or more, got {self.n_val}"),
                "n_test": (self.n_test is None or self.n_test >= 0, f"0 or more, got {self.n_test}"),
                "num_workers": (self.num_workers >= 0, f"0 or more, got {self.num_workers}"),
                "labelled_fraction": (
                    0 <= self.labelled_fraction <= 1,
                    f"in [0, 1], got {self.labelled_fraction}",
                ),
            },
        )


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

    def __post_init__(self) -> None:
        lr_ok = isinstance(self.lr, str) or self.lr > 0  # a string is a rule such as "auto", checked by type
        _check(
            "optim",
            {
                "lr": (lr_ok, f"positive, got {self.lr}"),
                "weight_decay": (self.weight_decay >= 0, f"0 or more, got {self.weight_decay}"),
                "betas": (all(0 <= b < 1 for b in self.betas), f"two numbers in [0, 1), got {self.betas}"),
                "warmup_steps": (self.warmup_steps >= 0, f"0 or more, got {self.warmup_steps}"),
                "final_lr_ratio": (0 <= self.final_lr_ratio <= 1, f"in [0, 1], got {self.final_lr_ratio}"),
                "step_size": (self.step_size >= 1, f"at least 1, got {self.step_size}"),
                "gamma": (self.gamma > 0, f"positive, got {self.gamma}"),
                "pct_start": (0 < self.pct_start < 1, f"in (0, 1), got {self.pct_start}"),
                "grad_clip": (_positive(self.grad_clip), f"positive or null, got {self.grad_clip}"),
            },
        )


@dataclass
class TrainConfig:
    """The training loop: task, loss, length, precision, averaging, stopping, logging, checkpoints."""

    mode: Mode = "operator"
    history: int = 1
    horizon: int = 1
    unroll_steps: int = 1
    input_noise: float = 0.0  # smooth noise on the training inputs, up to this fraction of their std
    loss: str = "h1"  # or "physics": the PDE residual alone (label-free)
    physics_weight: float | None = None  # weight of the PDE residual (None: 1 for loss=physics, else off)
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

    def __post_init__(self) -> None:
        at_least_one = {
            name: getattr(self, name)
            for name in (
                "history",
                "horizon",
                "unroll_steps",
                "epochs",
                "batch_size",
                "eval_every",
                "log_every",
            )
        }
        rules = {name: (value >= 1, f"at least 1, got {value}") for name, value in at_least_one.items()}
        for name in ("max_steps", "eval_batch_size", "checkpoint_every", "early_stopping"):
            value = getattr(self, name)
            rules[name] = (value is None or value >= 1, f"at least 1 or null, got {value}")
        rules["ema_decay"] = (
            self.ema_decay is None or 0 < self.ema_decay < 1,
            f"in (0, 1) or null, got {self.ema_decay}",
        )
        rules["min_delta"] = (self.min_delta >= 0, f"0 or more, got {self.min_delta}")
        rules["input_noise"] = (
            self.input_noise >= 0 and self.input_noise == self.input_noise,
            f"0 or more (0.1 typical; 0 for none), got {self.input_noise}",
        )
        rules["physics_weight"] = (
            _positive(self.physics_weight),
            f"positive or null, got {self.physics_weight}",
        )
        _check("train", rules)
        try:
            check_seed(self.seed, "train.seed")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


@dataclass
class EvalConfig:
    """What ``specops evaluate`` computes besides the test files.

    ``resolutions``: grids (points per axis; nodes for Darcy) at which the training file's test samples are
    made again by the file's own solver and evaluated too (operator runs on generated data; other grids
    of converted data come as ``data.test_paths``). ``rollout_steps``: states predicted in a rollout
    (default: to the end of the test trajectories). ``solver_cost_samples``: test samples solved again on
    coarser grids to find the solver's cost at the model's accuracy (0: skip). ``plots``,
    ``n_plot_samples``: figures. ``timing_repeats``: timed model runs (median).
    """

    resolutions: list[int] = field(default_factory=list)
    rollout_steps: int | None = None
    solver_cost_samples: int = 8
    plots: bool = True
    n_plot_samples: int = 1
    timing_repeats: int = 5

    def __post_init__(self) -> None:
        _check(
            "eval",
            {
                "n_plot_samples": (self.n_plot_samples >= 0, f"0 or more, got {self.n_plot_samples}"),
                "timing_repeats": (self.timing_repeats >= 1, f"at least 1, got {self.timing_repeats}"),
            },
        )


@dataclass
class Config:
    """A whole run: ``model``, ``data``, ``optim``, ``train``, ``eval``, ``physics``, ``online`` sections and the
    run directory."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    online: OnlineConfig = field(default_factory=OnlineConfig)
    run_dir: str = "runs/run"


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest_key(key: str) -> str:
    """Suggest the valid dotted key closest to ``key``: a misspelt section corrected (``trian.seed`` ->
    ``train.seed``, ``trian`` -> ``train``), the same name in another section, else by spelling."""
    everything = _all_keys(Config)
    top = [f.name for f in dataclasses.fields(Config)]
    head, _, rest = key.partition(".")
    if head not in top:
        close = difflib.get_close_matches(head, top, n=1, cutoff=0.5)
        if close and (not rest or f"{close[0]}.{rest}" in everything):
            return f" Did you mean {(close[0] + '.' + rest) if rest else close[0]!r}?"
        if not rest:
            return did_you_mean(key, top)
    last = key.rsplit(".", 1)[-1]
    same_name = [k for k in everything if k.rsplit(".", 1)[-1] == last and k != key]
    if same_name:
        return f" Did you mean {same_name[0]!r}?"
    return did_you_mean(key, everything)


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(_all_keys(tp, f"{prefix}{f.name}."))
        else:
            out.append(f"{prefix}{f.name}")
    return out


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
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = value if isinstance(value, tp) else _section(value, tp, f"{prefix}{key}")
        else:
            kwargs[key] = coerce(value, tp, f"{prefix}{key}")
    return cls(**kwargs)


def _section(value: Any, cls: type, key: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping of {cls.__name__} keys, got {value!r}")
    return config_from_dict(value, cls, prefix=f"{key}.")


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
        key, value = parse_assignment(item)
        parts = key.split(".")
        node: dict[str, Any] = data
        cls: Any = Config  # None once inside a free-form mapping such as model.args
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            tp = None
            if cls is not None:
                names = [f.name for f in dataclasses.fields(cls)]
                if part not in names:
                    section = here.rsplit(".", 1)[0] + "."
                    valid = [k for k in everything if k.startswith(section)] if depth else names
                    raise ConfigError(
                        f"unknown configuration key {key!r}; valid keys: {', '.join(valid)}."
                        f"{_suggest_key(key)}"
                    )
                tp = _hints(cls)[part]
            if depth == len(parts) - 1:
                node[part] = value
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
