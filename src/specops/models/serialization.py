"""Model checkpoints that rebuild themselves: registry name, constructor arguments, weights, version.

Format versions: 1 (specops 0.1.0) stored FNO/TFNO/IFNO options as flat arguments (``rank=0.05``);
2 groups them (``spectral={"rank": 0.05}``). Version-1 files are read through the model class's
``upgrade_args``, so they rebuild the same model, weights and all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specops.atomic import atomic_path
from specops.models.base import to_plain
from specops.registry import MODELS

FORMAT = "specops-model"
FORMAT_VERSION = 2


def _spectral_convs(model: torch.nn.Module):
    from specops.layers.spectral_conv import SpectralConv

    return [(name, m) for name, m in model.named_modules() if isinstance(m, SpectralConv)]


def _spectral_modes(model: torch.nn.Module) -> dict[str, list[list[int]]]:
    return {name: [list(m.n_modes), list(m.max_n_modes)] for name, m in _spectral_convs(model)}


def model_spec(model: nn.Module) -> dict[str, Any]:
    """``{"name", "kwargs"}``: what ``MODELS.create`` needs to rebuild ``model`` (without weights).

    The name is looked up by the model's exact class, so it always builds that class (an unregistered
    subclass of a registered model is refused rather than saved under its parent's name).
    """
    cls = type(model)
    name = MODELS.name_of(cls)
    if name is None:
        raise TypeError(
            f"{cls.__name__} is not a registered specops model; build one with specops.create_model, or "
            f"register the class with @specops.register_model('name')"
        )
    if not isinstance(getattr(model, "init_args", None), dict):
        raise TypeError(
            f"{cls.__name__} is registered as model {name!r} but does not record its constructor arguments; "
            f"register it with @specops.register_model({name!r}) instead of MODELS.register"
        )
    kwargs = {k: to_plain(v, f"{cls.__name__}.{k}") for k, v in model.init_args.items()}
    return {"name": name, "kwargs": kwargs}


def upgrade_model_args(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments of model ``name`` as a format-1 file stored them, in today's form."""
    upgrade = getattr(MODELS.get(name).target, "upgrade_args", None)
    return upgrade(dict(kwargs)) if upgrade is not None else dict(kwargs)


def save(model: nn.Module, path: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` atomically; ``specops.load(path)`` rebuilds it with no other file.

    ``extra`` holds anything else to keep beside it (normalizer state, resolved config): tensors, numbers,
    strings, lists and dicts, so the file loads with ``torch.load(weights_only=True)``.
    """
    from specops import __version__

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "specops_version": __version__,
        "model": model_spec(model),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "spectral_modes": _spectral_modes(model),
        "extra": extra or {},
    }
    # Through a Python file object, so a full disk surfaces as an OSError that atomic_path reports cleanly
    # (torch's own file writer reports it as a bare RuntimeError without the cause).
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(payload, fh)
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a model file's payload (no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise ValueError(
            f"{path} is not a readable specops model file ({type(exc).__name__}: {exc}); it may be truncated "
            f"or written by another program: re-save it with specops.save"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a specops model file (no '{FORMAT}' marker); save models with specops.save"
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {payload['format_version']}, newer than this specops reads "
            f"({FORMAT_VERSION}); upgrade specops"
        )
    spec = payload.get("model")
    if (
        payload.get("format_version", 1) < 2
        and isinstance(spec, dict)
        and isinstance(spec.get("kwargs"), dict)
        and spec.get("name") in MODELS
    ):
        payload["model"] = {**spec, "kwargs": upgrade_model_args(spec["name"], spec["kwargs"])}
    return payload


def _build(spec: dict[str, Any], modes: dict[str, Any], path: Path) -> nn.Module:
    """The model ``spec`` describes, with its spectral layers set to the stored kept modes."""
    if not isinstance(spec, dict) or not isinstance(spec.get("kwargs"), dict) or "name" not in spec:
        raise ValueError(f"{path}: the 'model' entry is damaged (expected a name and constructor arguments)")
    if spec["name"] not in MODELS:
        raise ValueError(
            f"{path} holds model {spec['name']!r}, which is not registered in this process: import the module "
            f"that registers it (@specops.register_model) before loading; registered: "
            f"{', '.join(MODELS.names())}"
        )
    try:
        model = MODELS.create(spec["name"], **spec["kwargs"])
        convs = dict(_spectral_convs(model))
        for name, (n_modes, max_n_modes) in (modes or {}).items():
            if name in convs:  # weights may have grown past the constructor's modes (refinement)
                convs[name].n_modes = max_n_modes
                convs[name].n_modes = n_modes
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: cannot rebuild model {spec['name']!r} from its stored arguments ({exc}); the file is "
            f"damaged or was written by an incompatible specops"
        ) from exc
    return model


def _check_weights(skeleton: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Compare the stored weights' names and shapes with the model the file describes (built without
    memory, on the meta device) before anything of that size is allocated."""
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    problems = []
    for key, shape in expected.items():
        if key not in weights:
            problems.append(f"{key} is missing")
        elif not isinstance(weights[key], torch.Tensor):
            problems.append(f"{key} is not a tensor")
        elif tuple(weights[key].shape) != shape:
            problems.append(f"{key} has shape {tuple(weights[key].shape)}, the model needs {shape}")
    problems += [f"{key} is not a weight of the model" for key in weights if key not in expected]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError(
            f"{path}: the stored weights do not fit the model the file describes: {'; '.join(problems[:3])}"
            f"{more}; the file is damaged or was edited: re-save the model with specops.save"
        )


def load(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved with ``specops.save`` (architecture, weights, kept modes).

    The network works in the units it was trained in: a model trained by ``specops train`` takes and
    returns normalized fields. ``specops.load_predictor`` wraps it with the run's normalizers, for
    physical inputs and outputs.
    """
    path = Path(path)
    payload = read_checkpoint(path)
    weights = payload.get("state_dict")
    if not isinstance(weights, dict):
        raise ValueError(f"{path}: the file holds no weights ('state_dict' is missing or damaged)")
    with torch.device("meta"):
        skeleton = _build(payload["model"], payload.get("spectral_modes", {}), path)
    _check_weights(skeleton, weights, path)
    model = _build(payload["model"], payload.get("spectral_modes", {}), path)
    model.load_state_dict(weights)
    return model.to(map_location)
