"""The evaluation's files: ``results.json`` (every number) and ``report.md`` (tables and figures together)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specops.atomic import atomic_path

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


def _operator_section(op: Mapping[str, Any]) -> list[str]:
    res, fields, train = op["resolutions"], op["fields"], op.get("train_resolution")
    label = {r: f"{r} (training)" if r == train else (f"{r} (zero-shot)" if train else r) for r in res}
    out = ["## Errors per field and resolution", ""]
    out.append(
        "Sample means over the test sets, on decoded predictions. rel. L2 = ||e|| / ||u||; rel. H1 adds "
        "the gradient; nRMSE (PDEBench) equals the per-field rel. L2; VRMSE (The Well) = "
        "sqrt(mean e^2 / var u), 1 for predicting the mean."
    )
    out.append("")
    for metric, name in (
        ("rel_l2", "rel. L2"),
        ("rel_h1", "rel. H1"),
        ("vrmse", "VRMSE"),
        ("max_error", "max |e|"),
    ):
        rows = [[f, *[op[metric][f][r] for r in res]] for f in fields]
        out += [f"**{name}**", "", *_table(["field", *[label[r] for r in res]], rows), ""]
    out += [
        "**Error by wavenumber band** (RMS of the error in the band / RMS of the truth; bands of the "
        "integer radial wavenumber: low |k| < 4, mid 4 <= |k| < 12, high |k| >= 12; their squares add up "
        "to nRMSE^2 for each sample)",
        "",
    ]
    rows = [[f, r, *op["band_errors"][f][r].values()] for f in fields for r in res]
    bands = list(next(iter(next(iter(op["band_errors"].values())).values())).keys())
    out += [*_table(["field", "resolution", *bands], rows), ""]
    rows = [[label[r], op["spectrum_error"][r]] for r in res]
    out += ["**Energy spectrum error** sum_k |E_pred - E_true| / sum_k E_true", ""]
    out += [*_table(["resolution", "spectrum error"], rows), ""]
    out += ["## Speed", ""]
    rows = []
    for r in res:
        t = op["timing"][r]
        rows.append([label[r], t["model_s_per_sample"], t["solver_s_per_sample"], t["speedup"]])
    out += [
        *_table(["resolution", "model s/sample", "solver s/sample", "speed-up (solver / model)"], rows),
        "",
        "Model time: median of repeated batched inference after a warm-up, divided by the batch size.",
        "",
    ]
    return out


def _rollout_section(ro: Mapping[str, Any]) -> list[str]:
    ct = ro["correlation_time"]
    out = ["## Rollout", ""]
    out.append(
        f"{ro['n_trajectories']} trajectories at {ro['resolution']}, {ro['history']} given state(s), "
        f"{len(ro['times'])} predicted by feeding the model its own output."
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
