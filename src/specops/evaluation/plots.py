"""PNG figures of an evaluation: input / truth / prediction / error fields, energy spectra, error against time.

Needs matplotlib (``pip install 'specops[plot]'``); files are written atomically, without a display.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from specops.atomic import atomic_path


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'specops[plot]'") from exc
    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def _slice2d(u: torch.Tensor) -> torch.Tensor:
    """A 2D view of a field: itself in 2D, the middle plane of the first axis in 3D."""
    while u.dim() > 2:
        u = u[u.shape[0] // 2]
    return u


def plot_fields(
    truth: torch.Tensor,
    pred: torch.Tensor,
    path: str | os.PathLike,
    *,
    title: str = "",
    field: str = "u",
    inputs: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Input(s), truth, prediction and error of one field (``(*space)``, 1D to 3D; 3D shows the middle plane).

    ``inputs`` maps a label (``"a"``, ``"u at t = 0"``) to an input field on any grid of the same dimension;
    each gets its own panel before the truth (its own colour scale: inputs have other units).
    """
    plt = _pyplot()
    truth, pred = truth.detach().double().cpu(), pred.detach().double().cpu()  # numpy views below
    if truth.shape != pred.shape or truth.dim() not in (1, 2, 3):
        raise ValueError(
            f"plot_fields needs truth and prediction of the same 1D-3D shape, got {tuple(truth.shape)} "
            f"and {tuple(pred.shape)}"
        )
    inputs = {k: v.detach().double().cpu() for k, v in (inputs or {}).items()}
    for label, value in inputs.items():
        if value.dim() != truth.dim():
            raise ValueError(
                f"input {label!r} has shape {tuple(value.shape)}; expected a {truth.dim()}D field like the truth "
                f"{tuple(truth.shape)}"
            )
    err = pred - truth
    if truth.dim() == 1:
        fig, axes = plt.subplots(1, 2 + bool(inputs), figsize=(5 * (2 + bool(inputs)), 3.2))
        if inputs:
            for label, value in inputs.items():
                axes[0].plot(
                    (torch.arange(value.shape[0]) / value.shape[0]).numpy(), value.numpy(), label=label
                )
            axes[0].set_title("input")
            axes[0].legend()
        ax_field, ax_err = axes[-2], axes[-1]
        grid = torch.arange(truth.shape[0]) / truth.shape[0]
        ax_field.plot(grid.numpy(), truth.numpy(), label="truth")
        ax_field.plot(grid.numpy(), pred.numpy(), "--", label="prediction")
        ax_field.set_title(field)
        ax_field.legend()
        ax_err.plot(grid.numpy(), err.numpy(), color="C3")
        ax_err.set_title("prediction - truth")
        for ax in axes:
            ax.set_xlabel("x")
    else:
        t2, p2, e2 = _slice2d(truth), _slice2d(pred), _slice2d(err)
        lo, hi = float(min(t2.min(), p2.min())), float(max(t2.max(), p2.max()))
        n_panels = len(inputs) + 3
        fig, axes = plt.subplots(1, n_panels, figsize=(4.3 * n_panels, 3.8))
        for ax, (label, value) in zip(axes, inputs.items()):
            im = ax.imshow(_slice2d(value).T.numpy(), origin="lower", cmap="cividis")
            ax.set_title(f"input: {label}")
            fig.colorbar(im, ax=ax, shrink=0.8)
        ax_truth, ax_pred, ax_err = axes[-3:]
        for ax, data, name in ((ax_truth, t2, "truth"), (ax_pred, p2, "prediction")):
            im = ax.imshow(data.T.numpy(), origin="lower", vmin=lo, vmax=hi, cmap="viridis")
            ax.set_title(f"{field}: {name}")
            fig.colorbar(im, ax=ax, shrink=0.8)
        bound = float(e2.abs().max()) or 1.0
        im = ax_err.imshow(e2.T.numpy(), origin="lower", vmin=-bound, vmax=bound, cmap="RdBu_r")
        ax_err.set_title("prediction - truth")
        fig.colorbar(im, ax=ax_err, shrink=0.8)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_spectra(
    wavenumber: torch.Tensor, spectra: Mapping[str, torch.Tensor], path: str | os.PathLike, *, title: str = ""
) -> Path:
    """Energy spectra ``E(k)`` on log axes (``k = 0`` is left out), one line per label."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    k = torch.as_tensor(wavenumber).double().cpu()
    for i, (label, e) in enumerate(spectra.items()):
        e = torch.as_tensor(e).double().cpu()
        ax.loglog(k[1:].numpy(), e[1:].clamp_min(1e-300).numpy(), "-" if i == 0 else "--", label=label)
    ax.set_xlabel("wavenumber k")
    ax.set_ylabel("E(k)")
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_curves(
    x: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    *,
    xlabel: str = "time",
    ylabel: str = "relative L2 error",
    title: str = "",
    hline: float | None = None,
    log: bool = False,
) -> Path:
    """Curves against a common axis (error or correlation against time), with an optional threshold line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, y in curves.items():
        ax.plot(list(x), list(y), marker="o" if len(x) < 30 else None, label=label)
    if hline is not None:
        ax.axhline(hline, color="gray", linestyle=":", label=f"{hline:g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _file_part(name: str) -> str:
    """A test-set name as part of a file name (letters, digits and ``@._-`` kept)."""
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", name)


def _input_labels(names: Sequence[str] | None, channels: int) -> list[str]:
    if names is not None and len(names) == channels:
        return list(names)
    return ["a"] if channels == 1 else [f"x{i}" for i in range(channels)]


def operator_figures(
    predictions: Mapping[str, Mapping[str, torch.Tensor]],
    result: Mapping[str, Any],
    fig_dir: Path,
    n_samples: int,
    *,
    input_names: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Field figures (inputs, truth, prediction, error) of the first ``n_samples`` of every test set, and
    its mean energy spectra; ``predictions`` as ``evaluate_operator(..., return_predictions=True)`` gives."""
    from specops import metrics

    figures = {}
    fields = result["fields"]
    for name, sets in predictions.items():
        x, truth, pred = sets["input"], sets["truth"], sets["prediction"]
        grid, part = result["grids"][name], _file_part(name)
        labels = _input_labels(input_names, x.shape[1])
        for i in range(min(n_samples, truth.shape[0])):
            inputs = {label: x[i, c] for c, label in enumerate(labels)}
            for c, field in enumerate(fields):
                path = plot_fields(
                    truth[i, c],
                    pred[i, c],
                    fig_dir / f"fields_{part}_{field}_{i}.png",
                    field=field,
                    title=f"{field}, test set {name} ({grid}), sample {i}",
                    inputs=inputs,
                )
                figures[f"{field} on {name}, sample {i}"] = path
        k, e_true = metrics.energy_spectrum(truth)
        _, e_pred = metrics.energy_spectrum(pred)
        figures[f"energy spectrum on {name}"] = plot_spectra(
            k,
            {"truth": e_true.mean(0), "prediction": e_pred.mean(0)},
            fig_dir / f"spectrum_{part}.png",
            title=f"mean energy spectrum, {name} ({grid})",
        )
    return figures


def rollout_figures(
    result: Mapping[str, Any], initial: torch.Tensor, truth: torch.Tensor, pred: torch.Tensor, fig_dir: Path
) -> dict[str, Path]:
    """Error and correlation against time, and the last predicted state of trajectory 0 beside the
    state the rollout started from (``initial``, ``(B, C, *space)``)."""
    figures = {
        "rollout error against time": plot_curves(
            result["times"], result["rel_l2_vs_time"], fig_dir / "rollout_error.png", log=True
        ),
        "rollout correlation against time": plot_curves(
            result["times"],
            {"correlation": result["correlation_vs_time"]},
            fig_dir / "rollout_correlation.png",
            ylabel="correlation with truth",
            hline=result["correlation_time"]["threshold"],
        ),
    }
    t0, t_last = result["initial_time"], result["times"][-1]
    for c, field in enumerate(result["fields"]):
        figures[f"{field} at the last rollout step, trajectory 0"] = plot_fields(
            truth[0, -1, c],
            pred[0, -1, c],
            fig_dir / f"rollout_last_{field}.png",
            field=field,
            title=f"{field} at t = {t_last:g}, rolled out from t = {t0:g}",
            inputs={f"{field} at t = {t0:g}": initial[0, c]},
        )
    return figures
