"""PNG figures of an evaluation: truth / prediction / error fields, energy spectra, error against time.

Needs matplotlib (``pip install 'specops[plot]'``); files are written atomically, without a display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

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
    truth: torch.Tensor, pred: torch.Tensor, path: str | os.PathLike, *, title: str = "", field: str = "u"
) -> Path:
    """Truth, prediction and error of one field (``(*space)``, 1D to 3D; 3D shows the middle plane)."""
    plt = _pyplot()
    truth, pred = truth.detach().double().cpu(), pred.detach().double().cpu()  # numpy views below
    if truth.shape != pred.shape or truth.dim() not in (1, 2, 3):
        raise ValueError(
            f"plot_fields needs truth and prediction of the same 1D-3D shape, got {tuple(truth.shape)} "
            f"and {tuple(pred.shape)}"
        )
    err = pred - truth
    if truth.dim() == 1:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        grid = torch.arange(truth.shape[0]) / truth.shape[0]
        axes[0].plot(grid.numpy(), truth.numpy(), label="truth")
        axes[0].plot(grid.numpy(), pred.numpy(), "--", label="prediction")
        axes[0].set_title(field)
        axes[0].legend()
        axes[1].plot(grid.numpy(), err.numpy(), color="C3")
        axes[1].set_title("prediction - truth")
        for ax in axes:
            ax.set_xlabel("x")
    else:
        t2, p2, e2 = _slice2d(truth), _slice2d(pred), _slice2d(err)
        lo, hi = float(min(t2.min(), p2.min())), float(max(t2.max(), p2.max()))
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, data, name in ((axes[0], t2, "truth"), (axes[1], p2, "prediction")):
            im = ax.imshow(data.T.numpy(), origin="lower", vmin=lo, vmax=hi, cmap="viridis")
            ax.set_title(f"{field}: {name}")
            fig.colorbar(im, ax=ax, shrink=0.8)
        bound = float(e2.abs().max()) or 1.0
        im = axes[2].imshow(e2.T.numpy(), origin="lower", vmin=-bound, vmax=bound, cmap="RdBu_r")
        axes[2].set_title("prediction - truth")
        fig.colorbar(im, ax=axes[2], shrink=0.8)
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
