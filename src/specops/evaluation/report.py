"""The evaluation's files: ``results.json`` (every number) and ``report.md`` (tables and figures together),
and :func:`run_evaluation`, which computes, draws and writes them in one call."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specops.atomic import atomic_path
from specops.evaluation.evaluate import Data, SolverTime, evaluate_operator, evaluate_rollout

RESULTS = "results.json"
REPORT = "report.md"


def _finite(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def save_results(results: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``results`` as strict JSON (non-finite numbers become null), atomically."""
    text = json.dumps(_finite(dict(results)), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def set_labels(op: Mapping[str, Any]) -> dict[str, str]:
    """``name -> "name (grid, training grid | zero-shot)"``: how tables name a test set."""
    train = op.get("train_resolution")
    out = {}
    for name in op["test_sets"]:
        grid = op["grids"][name]
        tag = "" if not train else (", training grid" if grid == train else ", zero-shot")
        out[name] = f"{name} ({grid}{tag})"
    return out


def _setting(entry: Mapping[str, Any]) -> str:
    dt = entry.get("dt")
    return f"grid {entry['grid']}" + (f", dt {dt:g}" if dt is not None else "")


def _grid(size: list[int]) -> str:
    return "x".join(str(n) for n in size)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def speed_verdicts(op: Mapping[str, Any]) -> list[str]:
    """One plain sentence per comparison with the solver, saying which is faster (for the report and demo)."""
    lines = []
    for name in op["test_sets"]:
        t = op["timing"][name]
        model_s = t["model_s_per_sample"]
        speed = t.get("speedup")
        if speed is not None:
            solver_s = t["solver_s_per_sample"]
            if speed < 1:
                lines.append(
                    f"{name}: the solver is faster than the model here: its reference run takes "
                    f"{_ms(solver_s)} per sample, the model {_ms(model_s)} (speed-up {speed:.2f})."
                )
            else:
                lines.append(
                    f"{name}: the model is {speed:.1f}x faster than the solver's reference run "
                    f"({_ms(model_s)} vs {_ms(solver_s)} per sample)."
                )
        eq = t.get("solver_equal_accuracy")
        if not eq:
            continue
        target = f"the model's {_fmt(eq['target_rel_l2'])} on {eq['n_samples']} samples"
        if eq["reached"]:
            best, speed = eq["setting"], t["speedup_equal_accuracy"]
            run = (
                f"a solver run on {_setting(best)} reaches rel. L2 {_fmt(best['rel_l2'])} ({target}) in "
                f"{_ms(best['s_per_sample'])} per sample"
            )
            coarsest = (
                " (the coarsest grid tried: coarser runs may be cheaper still)" if eq["coarsest_grid"] else ""
            )
            if speed < 1:
                lines.append(
                    f"{name}: at equal accuracy the solver is faster than the model here: {run}, "
                    f"{1 / speed:.1f}x less than the model's {_ms(model_s)}{coarsest}."
                )
            else:
                lines.append(
                    f"{name}: at equal accuracy the model is {speed:.1f}x faster: the cheapest solver run as "
                    f"accurate, on {_setting(best)} (rel. L2 {_fmt(best['rel_l2'])}, {target}), takes "
                    f"{_ms(best['s_per_sample'])} per sample against the model's {_ms(model_s)}."
                )
        else:
            close = eq.get("closest")
            closest = (
                f"; the most accurate, {_setting(close)}, has {_fmt(close['rel_l2'])} at "
                f"{_ms(close['s_per_sample'])} per sample"
                if close
                else ""
            )
            stopped = " (stopped by the time budget)" if eq.get("budget_exhausted") else ""
            lines.append(
                f"{name}: no solver run tried from the same inputs ({len(eq['tried'])} runs, up to the test "
                f"grid{stopped}) is as accurate as the model ({target}){closest}."
            )
    return lines


def _operator_section(op: Mapping[str, Any]) -> list[str]:
    sets, fields = op["test_sets"], op["fields"]
    label = set_labels(op)
    out = ["## Errors per field and test set", ""]
    out.append(
        "Sample means over the test sets, on decoded predictions. rel. L2 = ||e|| / ||u||; rel. H1 adds "
        "the gradient (on each set's domain); nRMSE (PDEBench) equals the per-field rel. L2; VRMSE "
        "(The Well) = sqrt(mean e^2 / var u), 1 for predicting the mean."
    )
    out.append("")
    for metric, name in (
        ("rel_l2", "rel. L2"),
        ("rel_h1", "rel. H1"),
        ("vrmse", "VRMSE"),
        ("max_error", "max |e|"),
    ):
        rows = [[f, *[op[metric][f][r] for r in sets]] for f in fields]
        out += [f"**{name}**", "", *_table(["field", *[label[r] for r in sets]], rows), ""]
    out += [
        "**Error by wavenumber band** (RMS of the error in the band / RMS of the truth; bands of the "
        "integer radial wavenumber: low |k| < 4, mid 4 <= |k| < 12, high |k| >= 12; their squares add up "
        "to nRMSE^2 for each sample)",
        "",
    ]
    rows = [[f, label[r], *op["band_errors"][f][r].values()] for f in fields for r in sets]
    bands = list(next(iter(next(iter(op["band_errors"].values())).values())).keys())
    out += [*_table(["field", "test set", *bands], rows), ""]
    rows = [[label[r], op["spectrum_error"][r]] for r in sets]
    out += ["**Energy spectrum error** sum_k |E_pred - E_true| / sum_k E_true", ""]
    out += [*_table(["test set", "spectrum error"], rows), ""]
    for r, where in (op.get("resampled") or {}).items():
        out.append(
            f"- {label[r]}: the model is tied to its {_grid(where['native'])} training grid; inputs on "
            f"{_grid(where['grid'])} were Fourier-resampled to it and outputs interpolated back (input-output "
            "interpolation), not run at this grid."
        )
    out += ["", "## Speed", ""] if op.get("resampled") else ["## Speed", ""]
    rows = []
    for r in sets:
        t = op["timing"][r]
        eq = t.get("solver_equal_accuracy") or {}
        best = eq.get("setting") or {}
        rows.append(
            [
                label[r],
                t["model_s_per_sample"],
                t["solver_s_per_sample"],
                t["speedup"],
                _setting(best) if best else ("not reached" if eq else None),
                best.get("rel_l2"),
                eq.get("target_rel_l2"),
                best.get("s_per_sample"),
                t.get("speedup_equal_accuracy"),
            ]
        )
    header = [
        "test set",
        "model s/sample",
        "solver s/sample",
        "speed-up",
        "solver at equal accuracy",
        "its rel. L2",
        "model's rel. L2",
        "its s/sample",
        "speed-up at equal accuracy",
    ]
    out += [*_table(header, rows), ""]
    out += [f"- {line}" for line in speed_verdicts(op)]
    out += [
        "",
        "Speed-up = solver time / model time: below 1 the solver is faster. Model time: median of repeated "
        "batched inference after a warm-up, divided by the batch size. Solver time: the run that made the "
        "reference (its own grid and time step). Equal accuracy: the solver run again from the same "
        "inputs on coarser grids (and larger time steps), its solution interpolated to the test grid; the "
        "cheapest run whose rel. L2 error on the same samples is no larger than the model's.",
        "",
    ]
    return out


def _rollout_section(ro: Mapping[str, Any]) -> list[str]:
    ct = ro["correlation_time"]
    out = ["## Rollout", ""]
    out.append(
        f"{ro['n_trajectories']} trajectories at {ro['resolution']}, {ro['history']} given state(s), "
        f"{len(ro['times'])} predicted by feeding the model its own output (from t = "
        f"{_fmt(ro.get('initial_time'))} to t = {_fmt(ro['times'][-1])})."
    )
    out.append("")
    rows = [
        [f, ro["rel_l2"][f], ro["rel_l2_vs_time"][f][0], ro["rel_l2_vs_time"][f][-1]] for f in ro["fields"]
    ]
    out += [*_table(["field", "mean rel. L2", "first step", "last step"], rows), ""]
    out.append(
        f"Time until the correlation with the truth falls below {ct['threshold']}: mean {_fmt(ct['mean'])}, "
        f"median {_fmt(ct['median'])} (horizon {_fmt(ct['horizon'])}; "
        f"{100 * ct['fraction_above_at_horizon']:.0f}% of trajectories stayed above it to the horizon and "
        f"count as the horizon)."
    )
    out.append("")
    return out


def write_report(
    run_dir: str | os.PathLike,
    results: Mapping[str, Any],
    figures: Mapping[str, str | os.PathLike] | None = None,
    *,
    title: str = "Evaluation report",
    notes: list[str] | None = None,
) -> Path:
    """Write ``run_dir/report.md``: the tables of ``results`` (``operator`` and/or ``rollout`` sections)
    and the figures (paths relative to ``run_dir`` are used as links)."""
    run_dir = Path(run_dir)
    lines = [f"# {title}", ""]
    model = (results.get("operator") or results.get("rollout") or {}).get("model", {})
    if model:
        desc = model.get("name", "model")
        lines += [f"Model: `{desc}` with {model['n_parameters']:,} parameters.", ""]
        if model.get("kwargs"):
            args = ", ".join(f"{k}={v}" for k, v in model["kwargs"].items())
            lines += [f"Arguments: {args}", ""]
    for note in notes or []:
        lines += [f"> {note}", ""]
    if results.get("operator"):
        lines += _operator_section(results["operator"])
    if results.get("rollout"):
        lines += _rollout_section(results["rollout"])
    if figures:
        lines += ["## Figures", ""]
        for caption, path in figures.items():
            rel = os.path.relpath(Path(path), run_dir)
            lines += [f"**{caption}**", "", f"![{caption}]({rel})", ""]
    lines += [f"All numbers: [{RESULTS}]({RESULTS}).", ""]
    with atomic_path(run_dir / REPORT) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return run_dir / REPORT


def run_evaluation(
    model: nn.Module,
    run_dir: str | os.PathLike,
    *,
    datasets: Mapping[str, Data] | None = None,
    trajectories: torch.Tensor | None = None,
    history: int = 1,
    rollout_steps: int | None = None,
    times: Sequence[float] | torch.Tensor | None = None,
    field_names: Sequence[str] | None = None,
    input_names: Sequence[str] | None = None,
    train_resolution: Sequence[int] | None = None,
    solver_time: SolverTime | None = None,
    plots: bool = True,
    n_plot_samples: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate, draw and report: ``run_dir/results.json``, ``run_dir/figures/*.png``, ``run_dir/report.md``.

    ``model`` maps physical fields to physical fields (a ``specops.models.Predictor``). ``datasets`` (operator test sets by name) and/or ``trajectories`` (rollout test set
    ``(B, T, C, *space)``, rolled out ``rollout_steps`` states from the first ``history``) select what is
    evaluated; ``options`` go to ``evaluate_operator`` (``periodic``, ``lengths``, ``batch_size``,
    ``timing_repeats``, ``solver_cost``). ``input_names`` label the input channels in the field figures.
    Without matplotlib the report says so and has no figures. Returns ``{"operator": ..., "rollout": ...}``
    as written to ``results.json``.
    """
    if datasets is None and trajectories is None:
        raise ValueError("run_evaluation needs test datasets, trajectories, or both")
    run_dir = Path(run_dir)
    fig_dir = run_dir / "figures"
    results: dict[str, Any] = {}
    figures: dict[str, Path] = {}
    can_plot, notes = _can_plot(plots)
    if datasets is not None:
        op, predictions = evaluate_operator(
            model,
            datasets,
            field_names=field_names,
            train_resolution=train_resolution,
            solver_time=solver_time,
            return_predictions=True,
            **options,
        )
        results["operator"] = op
        if can_plot:
            from specops.evaluation.plots import operator_figures

            figures.update(
                operator_figures(predictions, op, fig_dir, n_plot_samples, input_names=input_names)
            )
    if trajectories is not None:
        ro, (truth, pred) = evaluate_rollout(
            model,
            trajectories,
            history,
            n_steps=rollout_steps,
            times=times,
            field_names=field_names,
            return_predictions=True,
            batch_size=options.get("batch_size", 32),
        )
        results["rollout"] = ro
        if can_plot:
            from specops.evaluation.plots import rollout_figures

            figures.update(rollout_figures(ro, trajectories[:, history - 1], truth, pred, fig_dir))
    save_results(results, run_dir / RESULTS)
    write_report(run_dir, results, figures, notes=notes)
    return results


def _can_plot(wanted: bool) -> tuple[bool, list[str]]:
    """Whether figures can be drawn, and the report's note when they were wanted but cannot."""
    if not wanted:
        return False, []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False, ["No figures: matplotlib is not installed (pip install 'specops[plot]')."]
    return True, []


def results_table(results: dict) -> str:
    """The results as text (``specops train`` and ``specops evaluate`` print it): rel. L2 per field and
    test set (with its grid and speed-ups against the solver), or the rollout summary; then a sentence per
    comparison saying plainly which is faster."""
    lines = []
    op = results.get("operator")
    if op:
        width = max(12, *(len(name) for name in op["test_sets"]))
        lines.append(
            f"{'field':10s} {'test set':{width}s} {'grid':>9s} {'rel. L2':>9s} {'model s':>9s} "
            f"{'speed-up':>9s} {'at equal accuracy':>18s}"
        )
        for field, by_set in op["rel_l2"].items():
            for name, value in by_set.items():
                timing = op["timing"].get(name, {})
                speed, equal = timing.get("speedup"), timing.get("speedup_equal_accuracy")
                mark = " (train)" if op["grids"][name] == op.get("train_resolution") else ""
                lines.append(
                    f"{field:10s} {name:{width}s} {op['grids'][name]:>9s} {value:9.4f} "
                    f"{timing.get('model_s_per_sample', float('nan')):9.2e} "
                    f"{(f'{speed:8.2f}x' if speed else '        -')} "
                    f"{(f'{equal:17.2f}x' if equal else '                 -')}{mark}"
                )
        lines += speed_verdicts(op)
    ro = results.get("rollout")
    if ro:
        ct = ro.get("correlation_time", {})
        lines.append(
            f"rollout: mean rel. L2 {_mean_value(ro.get('rel_l2')):.4f}; time until correlation < 0.8: "
            f"mean {ct.get('mean', float('nan')):.3g}, median {ct.get('median', float('nan')):.3g}"
        )
    return "\n".join(lines)


def _mean_value(value) -> float:
    if isinstance(value, dict):
        values = [_mean_value(v) for v in value.values()]
        return sum(values) / len(values) if values else float("nan")
    return float(value) if value is not None else float("nan")
