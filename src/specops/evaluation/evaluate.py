"""Evaluate a trained operator: errors per field at the training resolution and others (zero-shot
super-resolution), rollouts, and speed against the numerical solver. Results are JSON-able dicts.

Metrics are computed on decoded predictions (physical units), per sample and field, and averaged over
samples. A resolution is named by its grid, e.g. ``"32x32"``. Layout of ``evaluate_operator``'s result::

    {"task": "operator", "model": {...}, "fields": ["u"], "resolutions": ["16x16", "32x32"],
     "train_resolution": "16x16", "n_samples": {"16x16": 200, ...},
     "rel_l2": {"u": {"16x16": 0.021, "32x32": 0.034}}, "rel_h1": ..., "nrmse": ..., "vrmse": ...,
     "max_error": ..., "band_errors": {"u": {"16x16": {"low": ..., "mid": ..., "high": ...}}},
     "spectrum_error": {"16x16": ...},
     "timing": {"16x16": {"model_s_per_sample": ..., "solver_s_per_sample": ..., "speedup": ...}}}
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from specops import metrics
from specops.evaluation.rollout import rollout

Data = Dataset | tuple[torch.Tensor, torch.Tensor]
SolverTime = float | Callable[[tuple[int, ...]], float]
_FIELD_METRICS = ("rel_l2", "rel_h1", "nrmse", "vrmse", "max_error")


def resolution_key(shape: Sequence[int]) -> str:
    """``(32, 64) -> "32x64"``: how results name a grid."""
    return "x".join(str(int(n)) for n in shape)


def _field_names(names: Sequence[str] | None, channels: int) -> list[str]:
    if names is None:
        return ["u"] if channels == 1 else [f"c{i}" for i in range(channels)]
    names = list(names)
    if len(names) != channels:
        raise ValueError(f"field_names={names} has {len(names)} names but the data have {channels} channels")
    return names


def _model_info(model: nn.Module) -> dict[str, Any]:
    info: dict[str, Any] = {"n_parameters": sum(p.numel() for p in model.parameters())}
    if getattr(model, "registry_name", ""):
        info["name"] = model.registry_name
        info["kwargs"] = dict(getattr(model, "init_args", {}))
    return info


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
    model: nn.Module,
    data: Data,
    *,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    batch_size: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Truth and decoded prediction for every sample of ``data``, on the CPU: ``(y, y_pred)``."""
    device = _device_of(model)
    was_training = model.training
    model.eval()
    truths, preds = [], []
    try:
        for x, y in _batches(data, batch_size):
            x = x.to(device)
            if x_normalizer is not None:
                x = x_normalizer.encode(x)
            pred = model(x)
            if y_normalizer is not None:
                pred = y_normalizer.decode(pred)
            truths.append(y.cpu())
            preds.append(pred.float().cpu() if pred.dtype != torch.float64 else pred.cpu())
    finally:
        model.train(was_training)
    if not truths:
        raise ValueError("the evaluation data are empty")
    y, pred = torch.cat(truths), torch.cat(preds)
    if y.shape != pred.shape:
        raise ValueError(f"model output {tuple(pred.shape[1:])} does not match targets {tuple(y.shape[1:])}")
    return y, pred


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


def _solver_seconds(solver_time: SolverTime | None, shape: tuple[int, ...]) -> float | None:
    if solver_time is None:
        return None
    value = solver_time(shape) if callable(solver_time) else solver_time
    if value is None:  # no solver known for this test set
        return None
    value = float(value)
    if not value > 0:
        raise ValueError(f"solver time {value} s per sample at {shape} must be positive")
    return value


def evaluate_operator(
    model: nn.Module,
    datasets: Mapping[Any, Data],
    *,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    field_names: Sequence[str] | None = None,
    train_resolution: Sequence[int] | None = None,
    periodic: bool = True,
    batch_size: int = 32,
    solver_time: SolverTime | None = None,
    timing_repeats: int = 5,
    return_predictions: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Errors per field and resolution, and inference time against the solver's.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C_in, *space) -> (B, C_out, *space)`` at any resolution (an FNO).
    datasets : mapping name -> Dataset of ``{"x", "y"}`` items or a pair of tensors ``(x, y)``
        One test set per resolution; results are keyed by grid (``"32x32"``).
    x_normalizer, y_normalizer : optional
        Encode inputs; decode predictions before any metric.
    field_names : names of the output channels (default ``u`` or ``c0, c1, ...``).
    train_resolution : the training grid, marked in the result (others are zero-shot).
    periodic : H1 spectrally (True) or by finite differences (False).
    solver_time : seconds per sample, or a callable ``shape -> seconds per sample``
        What the numerical solver needs to produce the same output; gives ``speedup = solver / model``.
    return_predictions : also return ``{resolution: (truth, prediction)}`` (for plots).
    """
    if not datasets:
        raise ValueError("evaluate_operator needs at least one test set")
    result: dict[str, Any] = {"task": "operator", "model": _model_info(model)}
    result.update({m: {} for m in (*_FIELD_METRICS, "band_errors")})
    result.update({"spectrum_error": {}, "n_samples": {}, "timing": {}, "resolutions": []})
    predictions = {}
    names: list[str] | None = None
    for data in datasets.values():
        truth, pred = predict(
            model, data, x_normalizer=x_normalizer, y_normalizer=y_normalizer, batch_size=batch_size
        )
        key = resolution_key(truth.shape[2:])
        names = names or _field_names(field_names, truth.shape[1])
        result["resolutions"].append(key)
        result["n_samples"][key] = int(truth.shape[0])
        found = field_metrics(pred, truth, names, periodic=periodic)
        for metric in (*_FIELD_METRICS, "band_errors"):
            for name in names:
                result[metric].setdefault(name, {})[key] = found[metric][name]
        result["spectrum_error"][key] = found["spectrum_error"]
        x_probe = next(iter(_batches(data, batch_size)))[0]
        if x_normalizer is not None:
            x_probe = x_normalizer.encode(x_probe.to(_device_of(model)))
        model_s = model_time_per_sample(model, x_probe, repeats=timing_repeats)
        solver_s = _solver_seconds(solver_time, tuple(truth.shape[2:]))
        result["timing"][key] = {
            "model_s_per_sample": model_s,
            "solver_s_per_sample": solver_s,
            "speedup": solver_s / model_s if solver_s is not None else None,
            "batch_size": int(x_probe.shape[0]),
        }
        if return_predictions:
            predictions[key] = (truth, pred)
    result["fields"] = names
    result["train_resolution"] = resolution_key(train_resolution) if train_resolution is not None else None
    return (result, predictions) if return_predictions else result


def evaluate_rollout(
    model: nn.Module,
    trajectories: torch.Tensor,
    history: int,
    *,
    times: Sequence[float] | torch.Tensor | None = None,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    field_names: Sequence[str] | None = None,
    threshold: float = 0.8,
    batch_size: int = 32,
    return_predictions: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], tuple[torch.Tensor, torch.Tensor]]:
    """Roll the model out from the first ``history`` states of each trajectory and compare with the rest.

    Parameters
    ----------
    trajectories : Tensor ``(B, T, C, *space)`` in physical units
    history : int
        States given to the model (``k``); the remaining ``T - k`` are predicted.
    times : ``(T,)`` times of the states (default: step numbers).

    Returns
    -------
    dict with ``times`` (of the predicted states), ``rel_l2_vs_time`` (per field), ``correlation_vs_time``,
    ``correlation_time`` (mean, median over trajectories, and the fraction that stayed above
    ``threshold`` for the whole horizon, counted at the horizon in the mean and median) and the
    rollout-averaged ``rel_l2``.
    """
    if trajectories.dim() < 4 or not 1 <= history < trajectories.shape[1]:
        raise ValueError(
            f"trajectories must be (batch, time, channel, *space) with more than history={history} states; "
            f"got shape {tuple(trajectories.shape)}"
        )
    n_t = trajectories.shape[1]
    times = torch.arange(n_t, dtype=torch.float64) if times is None else torch.as_tensor(times).double()
    if times.shape != (n_t,):
        raise ValueError(f"times has shape {tuple(times.shape)}, expected ({n_t},)")
    device = _device_of(model)
    preds = []
    for i in range(0, trajectories.shape[0], batch_size):
        x0 = trajectories[i : i + batch_size, :history].to(device)
        preds.append(
            rollout(model, x0, n_t - history, x_normalizer=x_normalizer, y_normalizer=y_normalizer).cpu()
        )
    pred = torch.cat(preds)
    truth = trajectories[:, history:]
    names = _field_names(field_names, truth.shape[2])
    err = metrics.error_vs_time(pred, truth)  # (B, T', C)
    corr = metrics.correlation(pred, truth)  # (B, T')
    future = times[history:]
    ct = metrics.correlation_time(corr, future, threshold=threshold)
    horizon = float(future[-1])
    capped = torch.where(torch.isinf(ct), torch.full_like(ct, horizon), ct)
    result = {
        "task": "rollout",
        "model": _model_info(model),
        "fields": names,
        "history": int(history),
        "n_trajectories": int(truth.shape[0]),
        "resolution": resolution_key(truth.shape[3:]),
        "times": future.tolist(),
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


def _figures_operator(predictions, fields, fig_dir: Path, n_samples: int) -> dict[str, Path]:
    from specops.evaluation import plots

    figures = {}
    for key, (truth, pred) in predictions.items():
        for i in range(min(n_samples, truth.shape[0])):
            for c, name in enumerate(fields):
                path = plots.plot_fields(
                    truth[i, c],
                    pred[i, c],
                    fig_dir / f"fields_{key}_{name}_{i}.png",
                    field=name,
                    title=f"{name} at {key}, test sample {i}",
                )
                figures[f"{name} at {key}, sample {i}"] = path
        k, e_true = metrics.energy_spectrum(truth)
        _, e_pred = metrics.energy_spectrum(pred)
        figures[f"energy spectrum at {key}"] = plots.plot_spectra(
            k,
            {"truth": e_true.mean(0), "prediction": e_pred.mean(0)},
            fig_dir / f"spectrum_{key}.png",
            title=f"mean energy spectrum, {key}",
        )
    return figures


def _figures_rollout(ro, truth, pred, fig_dir: Path) -> dict[str, Path]:
    from specops.evaluation import plots

    figures = {
        "rollout error against time": plots.plot_curves(
            ro["times"], ro["rel_l2_vs_time"], fig_dir / "rollout_error.png", log=True
        ),
        "rollout correlation against time": plots.plot_curves(
            ro["times"],
            {"correlation": ro["correlation_vs_time"]},
            fig_dir / "rollout_correlation.png",
            ylabel="correlation with truth",
            hline=ro["correlation_time"]["threshold"],
        ),
    }
    for c, name in enumerate(ro["fields"]):
        figures[f"{name} at the last rollout step, trajectory 0"] = plots.plot_fields(
            truth[0, -1, c],
            pred[0, -1, c],
            fig_dir / f"rollout_last_{name}.png",
            field=name,
            title=f"{name} at t = {ro['times'][-1]:g}",
        )
    return figures


def run_evaluation(
    model: nn.Module,
    run_dir: str | os.PathLike,
    *,
    datasets: Mapping[Any, Data] | None = None,
    trajectories: torch.Tensor | None = None,
    history: int = 1,
    times: Sequence[float] | torch.Tensor | None = None,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
    field_names: Sequence[str] | None = None,
    train_resolution: Sequence[int] | None = None,
    solver_time: SolverTime | None = None,
    plots: bool = True,
    n_plot_samples: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate, draw and report: ``run_dir/results.json``, ``run_dir/figures/*.png``, ``run_dir/report.md``.

    ``datasets`` (operator test sets per resolution) and/or ``trajectories`` (rollout test set
    ``(B, T, C, *space)``) select what is evaluated; ``options`` go to ``evaluate_operator``
    (``periodic``, ``batch_size``, ``timing_repeats``). Without matplotlib the report says so and has
    no figures. Returns ``{"operator": ..., "rollout": ...}`` as written to ``results.json``.
    """
    from specops.evaluation.report import RESULTS, save_results, write_report

    if datasets is None and trajectories is None:
        raise ValueError("run_evaluation needs test datasets, trajectories, or both")
    run_dir = Path(run_dir)
    fig_dir = run_dir / "figures"
    results: dict[str, Any] = {}
    figures: dict[str, Path] = {}
    notes = []
    norms = {"x_normalizer": x_normalizer, "y_normalizer": y_normalizer}
    can_plot = plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            can_plot = False
            notes.append("No figures: matplotlib is not installed (pip install 'specops[plot]').")
    if datasets is not None:
        op, predictions = evaluate_operator(
            model,
            datasets,
            field_names=field_names,
            train_resolution=train_resolution,
            solver_time=solver_time,
            return_predictions=True,
            **norms,
            **options,
        )
        results["operator"] = op
        if can_plot:
            figures.update(_figures_operator(predictions, op["fields"], fig_dir, n_plot_samples))
    if trajectories is not None:
        ro, (truth, pred) = evaluate_rollout(
            model,
            trajectories,
            history,
            times=times,
            field_names=field_names,
            return_predictions=True,
            batch_size=options.get("batch_size", 32),
            **norms,
        )
        results["rollout"] = ro
        if can_plot:
            figures.update(_figures_rollout(ro, truth, pred, fig_dir))
    save_results(results, run_dir / RESULTS)
    write_report(run_dir, results, figures, notes=notes)
    return results
