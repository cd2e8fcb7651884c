"""Training checkpoints: a ``specops.save`` model file plus everything needed to continue the run exactly.

Layout (``torch.load(path, weights_only=True)`` reads it; ``specops.load(path)`` rebuilds the model)::

    format, format_version, specops_version     as every specops model file
    model          {"name", "kwargs"}           registry name and constructor arguments
    state_dict                                  the weights to use (the EMA average when EMA is on)
    spectral_modes
    extra
      config       the resolved run configuration (nested dicts)
      normalizers  {"x": state or None, "y": state or None}
      training     step, epoch, position, optimizer, scheduler, scaler, ema, raw_model (trained weights
                   when EMA is on), rng (torch, cuda, numpy, python), sampler, best, bad_evals, history,
                   stream (online training: the stream's position and buffer, ``trainer.stream.state_dict()``)

Files are written atomically (``specops.atomic.atomic_path``): a crash leaves the previous checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from specops.atomic import atomic_path
from specops.models.base import OperatorModel
from specops.models.serialization import model_spec, read_checkpoint, save

LAST = "last.pt"
BEST = "best.pt"


def capture_rng_state() -> dict[str, Any]:
    """The state of every random number generator a training step may draw from, as tensors and lists."""
    np_state = np.random.get_state()  # noqa: NPY002  (user code may draw from the legacy global RNG)
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put every generator back where ``capture_rng_state`` found it."""
    torch.set_rng_state(state["torch"].cpu())
    npst = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (npst["kind"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["gauss"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def _state(module: Any) -> Any:
    return module.state_dict() if module is not None and hasattr(module, "state_dict") else None


def save_checkpoint(
    path: str | os.PathLike,
    model: OperatorModel,
    *,
    training: dict[str, Any],
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    config: dict[str, Any] | None = None,
    inference_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a training checkpoint atomically.

    Parameters
    ----------
    model : OperatorModel
        The model being trained (not its DDP or compiled wrapper).
    training : dict
        Loop state (see module docstring); tensors, numbers, strings, lists and dicts only.
    x_normalizer, y_normalizer : module with ``state_dict()``, optional
    config : dict, optional
        The resolved configuration (``specops.config.config_to_dict``).
    inference_state : dict, optional
        Weights to store as the model's ``state_dict`` instead of the current ones (the EMA average); the
        current ones are then kept in ``training["raw_model"]`` for resuming.
    """
    training = dict(training)
    if inference_state is not None:
        # clone: on the CPU .cpu() shares storage, and the weights are overwritten with the average below
        training["raw_model"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    extra = {
        "config": config or {},
        "normalizers": {"x": _state(x_normalizer), "y": _state(y_normalizer)},
        "training": training,
    }
    if inference_state is None:
        return save(model, path, extra=extra)
    current = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(inference_state)
    try:
        return save(model, path, extra=extra)
    finally:
        model.load_state_dict(current)


def loop_state(trainer: Any) -> dict[str, Any]:
    """What a :class:`~specops.training.trainer.Trainer` needs to continue exactly (``extra.training``)."""
    return {
        "step": trainer.step,
        "epoch": trainer.epoch,
        "position": trainer.position,
        "best": trainer.stopping.best,
        "bad_evals": trainer.stopping.bad_evals,
        "history": torch.tensor(trainer.history, dtype=torch.float64),
        "val_history": [dict(v) for v in trainer.val_history],
        "stopped_early": trainer.stopped_early,
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": _state(trainer.scheduler),
        "scaler": _state(trainer.scaler),
        "ema": _state(trainer.ema),
        "rng": capture_rng_state(),
        "sampler": {"seed": trainer.seed, "epoch": trainer.epoch, "position": trainer.position},
        "world_size": trainer.dist.world_size,
        "batch_size": trainer.batch_size,
        "stream": _stream(trainer).state_dict() if _stream(trainer) is not None else None,
    }


def _stream(trainer: Any) -> Any:
    """The online data source a trainer draws from (set by ``pipeline.online``), or None."""
    return getattr(trainer, "stream", None)


def save_trainer(path: str | os.PathLike, trainer: Any) -> Path:
    """Write ``trainer``'s checkpoint: its model (the EMA average when EMA is on), normalizers, config and
    loop state."""
    norm = trainer.normalization
    return save_checkpoint(
        path,
        trainer.model,
        training=loop_state(trainer),
        x_normalizer=norm.x_normalizer,
        y_normalizer=norm.y_normalizer,
        config=trainer.config,
        inference_state=trainer.ema.shadow if trainer.ema is not None else None,
    )


def restore_loop_state(trainer: Any, payload: dict[str, Any]) -> None:
    """Put ``trainer`` back where the checkpoint ``payload`` (``load_checkpoint``) left it: weights,
    optimizer, schedule, scaler, EMA, normalizers, random generators and the position in the data."""
    state = payload["extra"]["training"]
    trainer.model.load_state_dict(state.get("raw_model") or payload["state_dict"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    for name in ("scheduler", "scaler", "ema"):
        part = getattr(trainer, name)
        if part is not None and state.get(name) is not None:
            part.load_state_dict(state[name])
    norms = payload["extra"].get("normalizers") or {}
    norm = trainer.normalization
    for key, module in (("x", norm.x_normalizer), ("y", norm.y_normalizer)):
        if module is not None and norms.get(key) is not None and hasattr(module, "load_state_dict"):
            module.load_state_dict(norms[key])
    trainer.step, trainer.epoch = int(state["step"]), int(state["epoch"])
    trainer.position = int(state["position"])
    trainer.stopping.best, trainer.stopping.bad_evals = float(state["best"]), int(state["bad_evals"])
    trainer.losses.values = [float(v) for v in state["history"].tolist()]
    trainer.val_history = [dict(v) for v in state["val_history"]]
    trainer.stopped_early = bool(state.get("stopped_early", False))
    if _stream(trainer) is not None:
        if state.get("stream") is None:
            raise ValueError("cannot resume an online run from a checkpoint without a stream state")
        _stream(trainer).load_state_dict(state["stream"], position=trainer.position)
    restore_rng_state(state["rng"])


def copy_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy a checkpoint atomically (``last.pt`` -> ``best.pt``)."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (``weights_only``); check it has training state."""
    payload = read_checkpoint(path)
    extra = payload.get("extra") or {}
    if "training" not in extra:
        raise ValueError(
            f"{path} is a specops model file without training state (saved with specops.save, not by the "
            f"trainer); it can be loaded with specops.load but not resumed"
        )
    return payload


def check_resumable(
    path: str | os.PathLike, model: OperatorModel, *, batch_size: int, world_size: int
) -> dict[str, Any]:
    """The payload of ``path`` if the run it belongs to can continue with ``model`` on ``world_size``
    processes of ``batch_size`` samples; otherwise a ``ValueError`` naming every difference."""
    payload = load_checkpoint(path)
    saved, now = payload["model"], model_spec(model)
    diffs = []
    if saved["name"] != now["name"]:
        diffs.append(f"model {saved['name']!r} in the checkpoint, {now['name']!r} now")
    else:
        for key in sorted(set(saved["kwargs"]) | set(now["kwargs"])):
            before, after = saved["kwargs"].get(key), now["kwargs"].get(key)
            if before != after:
                diffs.append(f"{key}={before!r} in the checkpoint, {after!r} now")
    if diffs:
        raise ValueError(
            f"cannot resume from {path}: its model differs from this command's ({'; '.join(diffs)}); give "
            f"the run's own settings again (its config.yaml) or start a new run with another --out"
        )
    state = payload["extra"]["training"]
    if state.get("batch_size") != batch_size or state.get("world_size") != world_size:
        raise ValueError(
            f"cannot resume from {path}: it was written with batch_size={state.get('batch_size')} on "
            f"{state.get('world_size')} process(es), this run has batch_size={batch_size} on {world_size}: "
            f"resume with the same batch size and process count (or start a new run from its weights)"
        )
    return payload


def normalizers_from_checkpoint(
    path_or_payload: str | os.PathLike | dict[str, Any],
    factory: Callable[[Any], nn.Module] | None = None,
) -> tuple[nn.Module | None, nn.Module | None]:
    """Rebuild the input and output normalizers saved in a checkpoint (None where there was none).

    ``factory`` turns a saved state into a normalizer; the default is
    ``specops.data.normalization.normalizer_from_state``.
    """
    payload = path_or_payload if isinstance(path_or_payload, dict) else read_checkpoint(path_or_payload)
    states = (payload.get("extra") or {}).get("normalizers") or {}
    if factory is None and any(states.get(k) is not None for k in ("x", "y")):
        from specops.data.normalization import normalizer_from_state as factory
    return tuple(None if states.get(k) is None else factory(states[k]) for k in ("x", "y"))  # type: ignore[return-value]


def config_from_checkpoint(path_or_payload: str | os.PathLike | dict[str, Any]) -> dict[str, Any]:
    """The resolved run configuration stored in a checkpoint (a nested dict)."""
    payload = path_or_payload if isinstance(path_or_payload, dict) else read_checkpoint(path_or_payload)
    return dict((payload.get("extra") or {}).get("config") or {})
