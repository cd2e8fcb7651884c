"""Figures: valid PNGs for 1D to 3D fields, spectra and curves; a clear error without matplotlib."""

from __future__ import annotations

import builtins

import pytest
import torch

from specops.evaluation import plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("shape", [(32,), (16, 12), (8, 8, 8)])
def test_field_figures_are_pngs(tmp_path, shape):
    truth = torch.randn(shape)
    path = plots.plot_fields(truth, truth + 0.1, tmp_path / f"f{len(shape)}.png", title="t", field="u")
    assert path.read_bytes()[:8] == PNG
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left no temporary file
    with pytest.raises(ValueError, match="same 1D-3D shape"):
        plots.plot_fields(truth, truth[..., :2], tmp_path / "bad.png")


def test_spectrum_and_curve_figures(tmp_path):
    k = torch.arange(9.0)
    assert plots.plot_spectra(k, {"a": k + 1, "b": k + 2}, tmp_path / "s.png").read_bytes()[:8] == PNG
    curve = plots.plot_curves([0, 1, 2], {"err": [0.1, 0.2, 0.4]}, tmp_path / "c.png", hline=0.8, log=True)
    assert curve.read_bytes()[:8] == PNG


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'specops\[plot\]'"):
        plots.plot_fields(torch.zeros(4), torch.zeros(4), tmp_path / "x.png")


def _capture_titles(monkeypatch) -> list[list[str]]:
    """Record the panel titles of every figure saved."""
    saved: list[list[str]] = []
    real_save = plots._save

    def save(fig, path):
        saved.append([ax.get_title() for ax in fig.axes if ax.get_title()])
        return real_save(fig, path)

    monkeypatch.setattr(plots, "_save", save)
    return saved


@pytest.mark.parametrize("shape", [(32,), (16, 12)])
def test_field_figures_show_the_inputs(tmp_path, monkeypatch, shape):
    saved = _capture_titles(monkeypatch)
    truth = torch.randn(shape)
    plots.plot_fields(truth, truth + 0.1, tmp_path / "f.png", field="u", inputs={"a": torch.rand(shape)})
    titles = saved[-1]
    assert titles[0] == ("input" if len(shape) == 1 else "input: a"), titles
    assert "prediction - truth" in titles
    with pytest.raises(ValueError, match="input 'a' has shape"):
        plots.plot_fields(truth, truth, tmp_path / "g.png", inputs={"a": torch.rand(4, 4, 4)})


def test_evaluation_figures_pass_the_input_and_the_initial_state(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(plots, "plot_fields", lambda *a, **k: calls.append(k) or tmp_path / "x.png")
    monkeypatch.setattr(plots, "plot_spectra", lambda *a, **k: tmp_path / "s.png")
    x, y = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    op = {"fields": ["u"], "grids": {"d@8x8": "8x8"}}
    plots.operator_figures(
        {"d@8x8": {"input": x, "truth": y, "prediction": y}}, op, tmp_path, 1, input_names=["a"]
    )
    assert list(calls[0]["inputs"]) == ["a"] and torch.equal(calls[0]["inputs"]["a"], x[0, 0])
    calls.clear()
    monkeypatch.setattr(plots, "plot_curves", lambda *a, **k: tmp_path / "c.png")
    ro = {
        "times": [0.5, 1.0],
        "rel_l2_vs_time": {},
        "correlation_vs_time": [],
        "fields": ["w"],
        "correlation_time": {"threshold": 0.8},
        "initial_time": 0.25,
    }
    initial = torch.rand(2, 1, 8, 8)
    plots.rollout_figures(ro, initial, torch.rand(2, 2, 1, 8, 8), torch.rand(2, 2, 1, 8, 8), tmp_path)
    assert list(calls[0]["inputs"]) == ["w at t = 0.25"] and torch.equal(
        calls[0]["inputs"]["w at t = 0.25"], initial[0, 0]
    )
