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
