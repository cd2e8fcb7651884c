"""Results JSON and the markdown report: strict JSON, every number reachable, figures linked."""

from __future__ import annotations

import json

from specops.evaluation.report import save_results, write_report


def _operator():
    return {
        "task": "operator",
        "model": {"name": "fno", "n_parameters": 1234, "kwargs": {"n_modes": [8, 8]}},
        "fields": ["u"],
        "test_sets": ["d@16x16", "d@32x32"],
        "grids": {"d@16x16": "16x16", "d@32x32": "32x32"},
        "train_resolution": "16x16",
        "rel_l2": {"u": {"d@16x16": 0.0123, "d@32x32": 0.0456}},
        "rel_h1": {"u": {"d@16x16": 0.02, "d@32x32": 0.05}},
        "nrmse": {"u": {"d@16x16": 0.0123, "d@32x32": 0.0456}},
        "vrmse": {"u": {"d@16x16": 0.03, "d@32x32": 0.06}},
        "max_error": {"u": {"d@16x16": 0.1, "d@32x32": 0.2}},
        "band_errors": {"u": {r: {"low": 0.01, "mid": 0.005, "high": 0.001} for r in ("d@16x16", "d@32x32")}},
        "spectrum_error": {"d@16x16": 0.01, "d@32x32": 0.02},
        "timing": {
            r: {"model_s_per_sample": 0.001, "solver_s_per_sample": None, "speedup": None}
            for r in ("d@16x16", "d@32x32")
        },
    }


def test_results_json_is_strict_and_round_trips(tmp_path):
    results = {"operator": _operator(), "extra": {"inf": float("inf"), "nan": float("nan"), "ok": [1.5]}}
    path = save_results(results, tmp_path / "results.json")
    back = json.loads(path.read_text())
    assert back["operator"] == _operator()
    assert back["extra"] == {"inf": None, "nan": None, "ok": [1.5]}


def test_report_tables_label_resolutions_and_link_figures(tmp_path):
    fig = tmp_path / "figures" / "a.png"
    fig.parent.mkdir()
    fig.write_bytes(b"")
    path = write_report(tmp_path, {"operator": _operator()}, {"a figure": fig}, notes=["a note"])
    text = path.read_text()
    assert "| u | 0.0123 | 0.0456 |" in text
    assert "d@16x16 (16x16, training grid)" in text and "d@32x32 (32x32, zero-shot)" in text
    assert "![a figure](figures/a.png)" in text and "> a note" in text
    assert (
        "`fno` with 1,234 parameters" in text and "| d@16x16 (16x16, training grid) | 0.001 | – | – |" in text
    )
