"""Evaluate a trained operator: errors per field and test set (zero-shot super-resolution included),
rollouts, and speed against the numerical solver. Results are JSON-able dicts.

The model is evaluated as the user would call it: physical fields in, physical fields out (a
``specops.models.Predictor``, which carries the normalizers of its training, or any module that works in
physical units). Metrics are computed per sample and field, and averaged over samples. Test sets are named by the caller (``specops evaluate`` names them ``<file stem>@<grid>``, e.g.
``"darcy_63@63x63"``), so two test sets on the same grid keep their own numbers; ``grids`` gives each one's
grid (``"63x63"``) and ``train_resolution`` the training grid. Layout of ``evaluate_operator``'s result::

    {"task": "operator", "model": {...}, "fields": ["u"],
     "test_sets": ["darcy_32@32x32", "darcy_63@63x63"],
     "grids": {"darcy_32@32x32": "32x32", "darcy_63@63x63": "63x63"}, "train_resolution": "32x32",
     "lengths": {"darcy_32@32x32": [1.0, 1.0], ...}, "n_samples": {"darcy_32@32x32": 16, ...},
     "rel_l2": {"u": {"darcy_32@32x32": 0.021, "darcy_63@63x63": 0.034}}, "rel_h1": ..., "nrmse": ...,
     "vrmse": ..., "max_error": ...,
     "band_errors": {"u": {"darcy_32@32x32": {"low": ..., "mid": ..., "high": ...}}},
     "spectrum_error": {"darcy_32@32x32": ...},
     "timing": {"darcy_32@32x32": {"model_s_per_sample": ..., "solver_s_per_sample": ..., "speedup": ...,
                                   "batch_size": 16, "solver_equal_accuracy": {...} or None,
                                   "speedup_equal_accuracy": ... or None}}}

``solver_s_per_sample`` is what the solver that made the data needs for the same output (its own grid and
time step); ``solver_equal_accuracy`` (see :mod:`specops.evaluation.solver_cost`) is the cheapest solver run
found whose error against the same reference is no larger than the model's. A speed-up below 1 means the
solver is faster than the model; the report and the demo say so in words.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from specops import metrics
from specops.layers.resample import NativeGrid
from specops.models.predictor import Predictor, as_predictor

Data = Dataset | tuple[torch.Tensor, torch.Tensor]
SolverTime = float | Mapping[str, float | None] | Callable[[tuple[int, ...]], float | None]
SolverCost = Callable[[torch.Tensor], dict[str, Any] | None]
Lengths = Sequence[float] | float
_FIELD_METRICS = ("rel_l2", "rel_h1", "nrmse", "vrmse", "max_error")


def resolution_key(shape: Sequence[int]) -> str:
    """``(32, 64) -> "32x64"``: how results name a grid."""
    return "x".join(str(int(n)) for n in shape)


def _field_names(names: Sequence[str] | None, channels: int) -> list[str]:
    if names is None:
        return ["u"] if channels == 1 else [f"c{i}" for i in range(channels)]
    names = list(names)
    if names and len(names) != channels and channels % len(names) == 0:
        # vector fields (a 3D velocity "u" stored as 3 channels): one name per component
        per = channels // len(names)
        names = [f"{name}_{i}" for name in names for i in range(per)]
    if len(names) != channels:
        raise ValueError(f"field_names={names} has {len(names)} names but the data have {channels} channels")
    return names


def _model_info(model: nn.Module) -> dict[str, Any]:
    if isinstance(model, Predictor):
        model = model.model
    info: dict[str, Any] = {"n_parameters": sum(p.numel() for p in model.parameters())}
    if getattr(model, "registry_name", ""):
        info["name"] = model.registry_name
        info["kwargs"] = dict(getattr(model, "init_args", {}))
    return info


def native_resolution(model: nn.Module) -> tuple[int, ...] | None:
    """The training grid of a model tied to it (one holding a ``NativeGrid``), else None."""
    for module in model.modules():
        if isinstance(module, NativeGrid):
            return module.resolution
    return None


def _batches(data: Data, batch_size: int):
    if isinstance(data, tuple):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"inputs have {x.shape[0]} samples but targets have {y.shape[0]}")
        for i in range(0, x.shape[0], batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]
        return
    for batch in DataLoader(data, batch_size=batch_size):
        if not isinstance(batch, dict) or "x" not in batch or "y" not in batch:
            raise ValueError("evaluation datasets must give {'x': input, 'y': target} items")
        yield batch["x"], batch["y"]


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def predict(
    model: nn.Module, data: Data, *, batch_size: int = 32, with_inputs: bool = False
) -> tuple[torch.Tensor, ...]:
    """Truth and prediction for every sample of ``data`` (physical units), on the CPU: ``(y, y_pred)``.

    ``model`` maps physical inputs to physical outputs (a ``Predictor``). With ``with_inputs`` the inputs
    come first: ``(x, y, y_pred)``.
    """
    device = _device_of(model)
    was_training = model.training
    model.eval()
    inputs, truths, preds = [], [], []
    try:
        for x, y in _batches(data, batch_size):
            if with_inputs:
                inputs.append(x.cpu())
            pred = model(x.to(device))
            truths.append(y.cpu())
            preds.append(pred.float().cpu() if pred.dtype != torch.float64 else pred.cpu())
    finally:
        model.train(was_training)
    if not truths:
        raise ValueError("the evaluation data are empty")
    y, pred = torch.cat(truths), torch.cat(preds)
    if y.shape != pred.shape:
        raise ValueError(f"model output {tuple(pred.shape[1:])} does not match targets {tuple(y.shape[1:])}")
    return (torch.cat(inputs), y, pred) if with_inputs else (y, pred)


def field_metrics(
    pred: torch.Tensor,
    truth: torch.Tensor,
    names: Sequence[str],
    *,
    periodic: bool = True,
    lengths: Sequence[float] | float = 1.0,
) -> dict[str, Any]:
    """Sample means of every field metric: ``{metric: {field: value}}`` plus band and spectrum errors."""
    per = {
        "rel_l2": metrics.relative_l2(pred, truth),
        "rel_h1": metrics.relative_h1(pred, truth, periodic=periodic, lengths=lengths),
        "nrmse": metrics.nrmse(pred, truth),
        "vrmse": metrics.vrmse(pred, truth),
        "max_error": metrics.max_error(pred, truth),
    }
    out: dict[str, Any] = {m: {n: float(v[:, i].mean()) for i, n in enumerate(names)} for m, v in per.items()}
    bands = metrics.band_errors(pred, truth)
    out["band_errors"] = {
        n: {b: float(v[:, i].mean()) for b, v in bands.items()} for i, n in enumerate(names)
    }
    out["spectrum_error"] = float(metrics.spectrum_error(pred, truth).mean())
    return out


@torch.no_grad()
def model_time_per_sample(model: nn.Module, x: torch.Tensor, *, repeats: int = 5) -> float:
    """Median wall time of ``model(x)`` over ``repeats`` runs (after one warm-up), per sample, seconds."""
    device = _device_of(model)
    x = x.to(device)
    was_training = model.training
    model.eval()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    try:
        model(x)
        sync()
        times = []
        for _ in range(max(int(repeats), 1)):
            start = time.perf_counter()
            model(x)
            sync()
            times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return statistics.median(times) / x.shape[0]


def _solver_seconds(solver_time: SolverTime | None, name: str, shape: tuple[int, ...]) -> float | None:
    if solver_time is None:
        return None
    if isinstance(solver_time, Mapping):
        value = solver_time.get(name)
    elif callable(solver_time):
        value = solver_time(shape)
    else:
        value = solver_time
    if value is None:  # no solver known for this test set
        return None
    value = float(value)
    if not value > 0:
        raise ValueError(f"solver time {value} s per sample for test set {name!r} ({shape}) must be positive")
    return value


def _per_set(value: Any, name: str, what: str) -> Any:
    """``value[name]`` for a mapping of per-test-set values, else ``value`` itself (one for all)."""
    if isinstance(value, Mapping):
        if name not in value:
            raise ValueError(f"{what} has no entry for test set {name!r}; it names {sorted(value)}")
        return value[name]
    return value


def _lengths_list(lengths: Lengths, ndim: int) -> list[float]:
    if isinstance(lengths, (int, float)):
        return [float(lengths)] * ndim
    out = [float(v) for v in lengths]
    if len(out) != ndim:
        raise ValueError(f"lengths {out} has {len(out)} entries; the data have {ndim} spatial axes")
    return out


def evaluate_operator(
    model: nn.Module,
    datasets: Mapping[str, Data],
    *,
    field_names: Sequence[str] | None = None,
    train_resolution: Sequence[int] | None = None,
    periodic: bool = True,
    lengths: Lengths | Mapping[str, Lengths] = 1.0,
    batch_size: int = 32,
    solver_time: SolverTime | None = None,
    solver_cost: Mapping[str, SolverCost | None] | None = None,
    timing_repeats: int = 5,
    return_predictions: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """Errors per field and test set, and inference time against the solver's.

    Parameters
    ----------
    model : nn.Module
        Maps physical ``(B, C_in, *space) -> (B, C_out, *space)`` at any resolution: a ``Predictor``
        (an FNO with its normalizers) or any module working in physical units. Its timing includes the
        normalization.
    datasets : mapping name -> Dataset of ``{"x", "y"}`` items or a pair of tensors ``(x, y)``
        The test sets (physical units); results are keyed by these names (any grids, several per grid).
    field_names : names of the output channels (default ``u`` or ``c0, c1, ...``).
    train_resolution : the training grid, marked in the result (others are zero-shot).
    periodic : H1 spectrally (True) or by finite differences (False).
    lengths : domain lengths (one number, one per axis, or a mapping test-set name -> those)
        The relative H1 error weighs the gradient by ``2 pi k / L``: it depends on the domain.
    solver_time : seconds per sample; a mapping test-set name -> seconds (or None); or a callable
        ``shape -> seconds``. What the numerical solver needs to produce the same output; gives
        ``speedup = solver / model``.
    solver_cost : mapping test-set name -> callable, optional
        Called with the decoded predictions ``(N, C_out, *space)`` of that test set; returns the solver's
        cost at the model's accuracy (``specops.evaluation.solver_cost.equal_accuracy``) or None. Gives
        ``speedup_equal_accuracy``.
    return_predictions : also return ``{name: {"input", "truth", "prediction"}}`` (raw inputs; for plots).
    """
    if not datasets:
        raise ValueError("evaluate_operator needs at least one test set")
    result: dict[str, Any] = {"task": "operator", "model": _model_info(model)}
    result.update({m: {} for m in (*_FIELD_METRICS, "band_errors")})
    result.update({"spectrum_error": {}, "n_samples": {}, "timing": {}, "test_sets": [], "grids": {}})
    result["lengths"] = {}
    predictions = {}
    names: list[str] | None = None
    for key, data in datasets.items():
        name = str(key)
        x, truth, pred = predict(model, data, batch_size=batch_size, with_inputs=True)
        shape = tuple(truth.shape[2:])
        names = names or _field_names(field_names, truth.shape[1])
        domain = _lengths_list(_per_set(lengths, name, "lengths"), len(shape))
        result["test_sets"].append(name)
        result["grids"][name] = resolution_key(shape)
        result["lengths"][name] = domain
        result["n_samples"][name] = int(truth.shape[0])
        native = native_resolution(model)
        if native is not None and tuple(native) != shape:  # a grid-tied model ran on its own grid
            result.setdefault("resampled", {})[name] = {"grid": list(shape), "native": list(native)}
        found = field_metrics(pred, truth, names, periodic=periodic, lengths=domain)
        for metric in (*_FIELD_METRICS, "band_errors"):
            for field in names:
                result[metric].setdefault(field, {})[name] = found[metric][field]
        result["spectrum_error"][name] = found["spectrum_error"]
        x_probe = x[:batch_size]
        model_s = model_time_per_sample(model, x_probe, repeats=timing_repeats)
        solver_s = _solver_seconds(solver_time, name, shape)
        cost_fn = (solver_cost or {}).get(name)
        cost = cost_fn(pred) if cost_fn is not None else None
        cost_s = cost.get("s_per_sample") if cost else None
        result["timing"][name] = {
            "model_s_per_sample": model_s,
            "solver_s_per_sample": solver_s,
            "speedup": solver_s / model_s if solver_s is not None else None,
            "batch_size": int(x_probe.shape[0]),
            "solver_equal_accuracy": cost,
            "speedup_equal_accuracy": cost_s / model_s if cost_s is not None else None,
        }
        if return_predictions:
            predictions[name] = {"input": x, "truth": truth, "prediction": pred}
    result["fields"] = names
    result["train_resolution"] = resolution_key(train_resolution) if train_resolution is not None else None
    return (result, predictions) if return_predictions else result


def evaluate_rollout(
    model: nn.Module,
    trajectories: torch.Tensor,
    history: int,
    *,
    n_steps: int | None = None,
    times: Sequence[float] | torch.Tensor | None = None,
    field_names: Sequence[str] | None = None,
    threshold: float = 0.8,
    batch_size: int = 32,
    return_predictions: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], tuple[torch.Tensor, torch.Tensor]]:
    """Roll the model out from the first ``history`` states of each trajectory and compare with the rest.

    Parameters
    ----------
    model : Predictor (``task="autoregressive"``), or a module stepping physical states
        ``(B, k * C, *space) -> (B, m * C, *space)``
    trajectories : Tensor ``(B, T, C, *space)`` in physical units
    history : int
        States given to the model (``k``).
    n_steps : int, optional
        States predicted, ``1 <= n_steps <= T - k`` (default: all ``T - k`` remaining ones); the rollout
        horizon of the result.
    times : ``(T,)`` times of the states (default: step numbers).

    Returns
    -------
    dict with ``times`` (of the predicted states), ``rel_l2_vs_time`` (per field), ``correlation_vs_time``,
    ``correlation_time`` (mean, median over trajectories, and the fraction that stayed above
    ``threshold`` for the whole horizon, counted at the horizon in the mean and median) and the
    rollout-averaged ``rel_l2``. With ``return_predictions`` also ``(truth, prediction)`` of the predicted
    states.
    """
    if trajectories.dim() < 4 or not 1 <= history < trajectories.shape[1]:
        raise ValueError(
            f"trajectories must be (batch, time, channel, *space) with more than history={history} states; "
            f"got shape {tuple(trajectories.shape)}"
        )
    n_t = trajectories.shape[1]
    available = n_t - history
    if n_steps is None:
        n_steps = available
    if not 1 <= int(n_steps) <= available:
        raise ValueError(
            f"n_steps={n_steps} rollout steps do not fit trajectories of {n_t} states after history={history}; "
            f"use 1 to {available} (eval.rollout_steps), or longer trajectories"
        )
    n_steps = int(n_steps)
    times = torch.arange(n_t, dtype=torch.float64) if times is None else torch.as_tensor(times).double()
    if times.shape != (n_t,):
        raise ValueError(f"times has shape {tuple(times.shape)}, expected ({n_t},)")
    stepper = as_predictor(model, task="autoregressive")
    device = _device_of(stepper)
    preds = []
    for i in range(0, trajectories.shape[0], batch_size):
        x0 = trajectories[i : i + batch_size, :history].to(device)
        preds.append(stepper.rollout(x0, n_steps).cpu())
    pred = torch.cat(preds)
    truth = trajectories[:, history : history + n_steps]
    names = _field_names(field_names, truth.shape[2])
    err = metrics.error_vs_time(pred, truth)  # (B, T', C)
    corr = metrics.correlation(pred, truth)  # (B, T')
    future = times[history : history + n_steps]
    ct = metrics.correlation_time(corr, future, threshold=threshold)
    horizon = float(future[-1])
    capped = torch.where(torch.isinf(ct), torch.full_like(ct, horizon), ct)
    result = {
        "task": "rollout",
        "model": _model_info(model),
        "fields": names,
        "history": int(history),
        "n_steps": n_steps,
        "n_trajectories": int(truth.shape[0]),
        "resolution": resolution_key(truth.shape[3:]),
        "times": future.tolist(),
        "initial_time": float(times[history - 1]),
        "rel_l2_vs_time": {n: err[:, :, i].mean(0).tolist() for i, n in enumerate(names)},
        "rel_l2": {n: float(err[:, :, i].mean()) for i, n in enumerate(names)},
        "correlation_vs_time": corr.mean(0).tolist(),
        "correlation_time": {
            "threshold": threshold,
            "mean": float(capped.mean()),
            "median": float(capped.median()),
            "fraction_above_at_horizon": float(torch.isinf(ct).double().mean()),
            "horizon": horizon,
        },
    }
    if not math.isfinite(result["correlation_time"]["mean"]):
        raise ValueError("the rollout produced non-finite values; check the model and the normalizers")
    return (result, (truth, pred)) if return_predictions else result
