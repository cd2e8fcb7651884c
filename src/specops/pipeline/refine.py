"""``specops refine``: a trained SFNO run and a trajectory file in; refined predictions and a before/after
report out (Spectral-Refiner, ``specops.training.refine``).

For each trajectory of the file, the window starting at frame ``start`` gives the run's ``t_in`` input
frames and the ``t_out`` frames the model predicts (also the reference for errors). The output directory
(default ``RUN/refine``) receives:

- ``refined.h5``: a specops trajectory file with fields ``refined`` and ``predicted`` (before refinement),
  ``(sample, time, channel, *space)``, the data's equation attributes (so ``specops.physics`` rebuilds the
  residual from it) and the output frames' times;
- ``refine.json``: every number (per sample and step: residual and error), ``refine.md``: the report.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specops.atomic import atomic_path
from specops.config import ConfigError
from specops.data.datasets import TrajectoryDataset
from specops.data.io import read_info
from specops.data.schema import check_usable, layout_for
from specops.data.writer import ArraySource, write_dataset
from specops.device import resolve_device
from specops.evaluation.report import save_results
from specops.physics import residual_for_file
from specops.pipeline.evaluate import load_run
from specops.progress import Progress
from specops.training.refine import Refiner, check_refinable

OUTPUTS = ("refined.h5", "refine.json", "refine.md")
_KEPT_ATTRS = ("pde", "parameters", "domain", "boundary", "resolution", "dt", "solver", "stepper")


def _window_data(
    path: str | os.PathLike, model, samples: int | None, start: int
) -> tuple[TrajectoryDataset, list[int]]:
    info = read_info(path)
    check_usable(info.attrs, path)
    if info.attrs["kind"] != "trajectory":
        raise ConfigError(
            f"{path} holds input/output pairs with no time axis; refinement minimises the residual of a predicted "
            f"trajectory: give a trajectory file (`specops generate <pde> --set save_interval=...`)"
        )
    t_in, t_out = model.in_channels // model.state_channels, model.out_steps
    ds = TrajectoryDataset(path, history=t_in, horizon=t_out)
    if ds.in_channels != model.state_channels:
        raise ConfigError(
            f"{path} has {ds.in_channels} channels per frame but the model takes {model.state_channels}"
        )
    if not 0 <= start < ds.windows_per_sample:
        raise ConfigError(
            f"start={start}: a window of {t_in} + {t_out} frames fits {path}'s {ds.n_times} frames only from frame "
            f"0 to {ds.windows_per_sample - 1}"
        )
    n = ds.n_samples if samples is None else int(samples)
    if not 1 <= n <= ds.n_samples:
        raise ConfigError(
            f"samples={samples} must be between 1 and the {ds.n_samples} trajectories of {path}"
        )
    return ds, [i * ds.windows_per_sample + start for i in range(n)]


def _check_out(out: Path, overwrite: bool) -> None:
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out} already holds {', '.join(existing)} of an earlier refinement; pass --overwrite to replace them "
            f"or --out another directory"
        )


def refine(
    run_dir: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    checkpoint: str | None = None,
    samples: int | None = None,
    start: int = 0,
    steps: int = 50,
    lr: float = 1e-4,
    weight_lr: float = 1e-5,
    alpha: float = 0.1,
    float64: bool = True,
    physics: Mapping[str, Any] | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Refine a trained SFNO run's predictions on the trajectories of ``data_path``; returns the results.

    ``samples``: the first so many trajectories (default all); ``start``: first input frame of each window;
    ``steps``, ``lr``, ``weight_lr``, ``alpha``: see :class:`~specops.training.refine.Refiner`;
    ``physics``: overrides of the equation's parameters (``nu``, ``lengths``, ``dt``, ``forcing``, ``pde``,
    ``params``; see ``specops.physics.build``). Everything is checked before anything is written.
    """
    out = Path(run_dir) / "refine" if out is None else Path(out)
    _check_out(out, overwrite)
    dev = resolve_device(device, what="--device")
    predictor, _ = load_run(run_dir, checkpoint, map_location=dev)
    model = predictor.model
    check_refinable(model)
    ds, items = _window_data(data_path, model, samples, int(start))
    residual = residual_for_file(data_path, physics)
    refiner = Refiner(
        model,
        residual,
        normalization=predictor.normalization,
        steps=steps,
        lr=lr,
        weight_lr=weight_lr,
        alpha=alpha,
        dtype=torch.float64 if float64 else torch.float32,
    )
    out.mkdir(parents=True, exist_ok=True)
    before, after, per_sample = [], [], []
    with Progress(len(items) * (steps + 1), desc="refine", unit="step", enabled=progress) as bar:

        def report(sample: int, step: int, res: float, err: float | None) -> None:
            bar.set_postfix(residual=f"{res:.3e}", **({"error": f"{err:.3e}"} if err is not None else {}))
            bar.update()

        for i, item in enumerate(items):
            window = ds[item]
            x, y = window["x"][None].to(dev), window["y"][None].to(dev)
            done = refiner.refine(x, y, callback=report)
            before.append(done.before.float().cpu())
            after.append(done.after.float().cpu())
            per_sample.append(
                {
                    "sample": int(ds.indices[item // ds.windows_per_sample]),
                    "residual_before": done.residual_before.item(),
                    "residual_after": done.residual_after.item(),
                    "error_before": done.error_before.item(),
                    "error_after": done.error_after.item(),
                    "seconds": done.seconds,
                    "history": done.history[0],
                }
            )
            log(
                f"sample {i + 1}/{len(items)}: residual {done.residual_before.item():.3e} -> "
                f"{done.residual_after.item():.3e}, error {done.error_before.item():.3e} -> "
                f"{done.error_after.item():.3e} ({done.seconds:.1f} s)"
            )
    results = _summary(per_sample, run_dir, data_path, refiner, start, ds)
    _write(out, ds, start, torch.cat(before), torch.cat(after), run_dir, data_path)
    save_results(results, out / "refine.json")
    with atomic_path(out / "refine.md") as tmp:
        tmp.write_text(report_markdown(results), encoding="utf-8")
    log(f"refined predictions in {out / 'refined.h5'}; report {out / 'refine.md'}")
    return results


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def _summary(
    per_sample, run_dir, data_path, refiner: Refiner, start: int, ds: TrajectoryDataset
) -> dict[str, Any]:
    med = {
        k: _median([s[k] for s in per_sample])
        for k in ("residual_before", "residual_after", "error_before", "error_after", "seconds")
    }
    return {
        "run": str(run_dir),
        "data": str(data_path),
        "start_frame": start,
        "input_frames": ds.history,
        "output_frames": ds.horizon,
        "grid": list(ds.spatial_shape),
        "equation": repr(refiner.residual),
        "steps": refiner.steps,
        "lr": refiner.lr,
        "weight_lr": refiner.weight_lr,
        "norm": {"s": refiner.s, "alpha": refiner.alpha},
        "dtype": str(refiner.dtype).replace("torch.", ""),
        "median": med,
        "error_ratio": med["error_before"] / med["error_after"] if med["error_after"] > 0 else math.inf,
        "samples": per_sample,
    }


def _write(out: Path, ds: TrajectoryDataset, start: int, before, after, run_dir, data_path) -> None:
    info = ds.info
    attrs = {k: info.attrs[k] for k in _KEPT_ATTRS if k in info.attrs}
    attrs.update(
        kind="trajectory",
        input_fields=["refined"],
        output_fields=["refined"],
        source="refine",
        refined_run=str(Path(run_dir).resolve()),
        refined_data=str(Path(data_path).resolve()),
        start_frame=int(start),
    )
    coords = {k: v for k, v in info.coords.items() if k in ("x", "y", "z")}
    t = info.coords.get("t")
    if t is not None:
        first = start + ds.history
        coords["t"] = np.asarray(t)[first : first + ds.horizon]
    layout = layout_for("trajectory", len(ds.spatial_shape))
    fields = {
        "refined": ArraySource(after.numpy(), label="refined"),
        "predicted": ArraySource(before.numpy(), label="predicted"),
    }
    write_dataset(
        out / "refined.h5",
        fields,
        layouts={"refined": layout, "predicted": layout},
        attrs=attrs,
        coords=coords,
        descriptions={"refined": "SFNO prediction after refinement", "predicted": "SFNO prediction before"},
    )


def report_markdown(results: Mapping[str, Any]) -> str:
    """The refinement report: settings, then residual and error before/after per trajectory."""
    med = results["median"]
    lines = [
        "# Spectral-Refiner: refinement of the output layer by the H^-1 residual",
        "",
        f"Run `{results['run']}`, data `{results['data']}` (grid {'x'.join(map(str, results['grid']))}, "
        f"{results['input_frames']} frames in, {results['output_frames']} out, from frame {results['start_frame']}).",
        f"Equation: {results['equation']}; norm H^{results['norm']['s']:g} (alpha {results['norm']['alpha']:g}); "
        f"{results['steps']} Adam steps (lr {results['lr']:g}, weights {results['weight_lr']:g}), {results['dtype']}.",
        "",
        "| sample | residual before | residual after | rel. L2 error before | rel. L2 error after | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for s in results["samples"]:
        lines.append(
            f"| {s['sample']} | {s['residual_before']:.3e} | {s['residual_after']:.3e} | {s['error_before']:.3e} | "
            f"{s['error_after']:.3e} | {s['seconds']:.2f} |"
        )
    lines += [
        f"| **median** | {med['residual_before']:.3e} | {med['residual_after']:.3e} | {med['error_before']:.3e} | "
        f"{med['error_after']:.3e} | {med['seconds']:.2f} |",
        "",
        f"Median error lowered {results['error_ratio']:.3g}x by refinement.",
        "",
    ]
    return "\n".join(lines)
