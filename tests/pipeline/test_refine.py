"""``specops refine`` end to end on a tiny Navier-Stokes run: outputs, their contents, and refusals."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest

from specops.cli import main
from specops.data.datasets import open_dataset
from specops.data.io import read_info
from specops.data.writer import ArraySource, write_dataset
from specops.physics import residual_for_file


@pytest.fixture(scope="module")
def ns_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("refine")
    data = root / "ns.h5"
    generate = ["generate", "ns", "--samples", "3", "--resolution", "16", "--out", str(data), "--no-progress"]
    assert main([*generate, "--set", "t_final=0.45", "--set", "save_interval=0.05", "--threads", "1"]) == 0
    run = root / "run"
    model = "model.args={n_modes: [8, 8], hidden_channels: 4, n_layers: 1, time_modes: 4}"
    train = ["train", "--data", str(data), "--model", "sfno", "--mode", "autoregressive", "--out", str(run)]
    settings = ["train.history=4", "train.horizon=4", model, "train.progress=false", "data.n_test=1"]
    sets = [item for s in settings for item in ("--set", s)]
    assert main([*train, *sets, "--epochs", "1", "--lr", "1e-3", "--no-eval", "--threads", "1"]) == 0
    return data, run


def test_refine_writes_predictions_and_a_report(ns_run, tmp_path, capsys):
    data, run = ns_run
    out = tmp_path / "refined"
    args = ["refine", str(run), "--data", str(data), "--out", str(out), "--samples", "2", "--start", "1"]
    assert main([*args, "--steps", "3", "--lr", "1e-2", "--no-progress", "--threads", "1"]) == 0
    results = json.loads((out / "refine.json").read_text())
    assert [s["sample"] for s in results["samples"]] == [0, 1]
    first = results["samples"][0]
    assert len(first["history"]["residual"]) == 4 and first["history"]["error"][-1] == first["error_after"]
    assert first["residual_after"] < first["residual_before"]
    info = read_info(out / "refined.h5")
    assert info.attrs["kind"] == "trajectory" and info.attrs["pde"] == "ns"
    with h5py.File(out / "refined.h5") as f:
        assert f["fields/refined"].shape == (2, 4, 1, 16, 16) == f["fields/predicted"].shape
    np.testing.assert_allclose(info.coords["t"], [0.25, 0.3, 0.35, 0.4])  # frames 5..8 of the file
    # a specops trajectory file the data layer reads, from which the physics rebuilds the residual
    assert open_dataset(out / "refined.h5").trajectory(1).shape == (4, 1, 16, 16)
    assert residual_for_file(out / "refined.h5").dt == pytest.approx(0.05)
    assert "| **median** |" in (out / "refine.md").read_text()
    assert "refined predictions in" in capsys.readouterr().out
    # the user's files are kept unless asked
    assert main([*args, "--steps", "1", "--no-progress"]) == 2
    assert "already holds refined.h5" in capsys.readouterr().err


def test_what_cannot_be_refined_is_refused_before_writing(ns_run, tmp_path, capsys):
    data, run = ns_run
    pairs = tmp_path / "darcy.h5"
    assert (
        main(
            ["generate", "darcy", "--samples", "2", "--resolution", "8", "--out", str(pairs), "--no-progress"]
        )
        == 0
    )
    converted = tmp_path / "converted.h5"
    frames = np.random.default_rng(0).standard_normal((2, 9, 1, 16, 16)).astype(np.float32)
    write_dataset(
        converted,
        {"w": ArraySource(frames)},
        layouts={"w": "sample time channel x y"},
        attrs={"kind": "trajectory", "input_fields": ["w"], "output_fields": ["w"], "source": "convert:npz"},
    )
    fno_run = tmp_path / "fno"
    train = [
        "train",
        "--data",
        str(data),
        "--model",
        "fno",
        "--mode",
        "autoregressive",
        "--out",
        str(fno_run),
    ]
    small = [
        "--set",
        "model.args={n_modes: [4, 4], hidden_channels: 4, n_layers: 1}",
        "--set",
        "train.progress=false",
    ]
    assert main([*train, *small, "--epochs", "1", "--lr", "1e-3", "--no-eval"]) == 0
    capsys.readouterr()
    cases = [
        (fno_run, data, "only runs of a space-time FNO can be refined"),
        (run, pairs, "holds input/output pairs with no time axis"),
        (run, converted, "name no known equation.*physics.pde"),
    ]
    for run_dir, path, message in cases:
        out = tmp_path / "never"
        assert main(["refine", str(run_dir), "--data", str(path), "--out", str(out), "--no-progress"]) == 2
        assert re.search(message, capsys.readouterr().err)
        assert not out.exists()


def test_an_sfno_run_is_evaluated_by_rollouts_like_other_time_stepping_runs(ns_run, tmp_path):
    data, run = ns_run
    out = tmp_path / "eval.json"
    assert (
        main(["evaluate", str(run), "--data", str(data), "--json", str(out), "--no-plots", "--threads", "1"])
        == 0
    )
    rollout = json.loads(out.read_text())["rollout"]
    assert rollout["model"]["name"] == "sfno" and rollout["history"] == 4
    assert len(rollout["rel_l2_vs_time"]["w"]) == rollout["n_steps"] and "correlation_time" in rollout
