"""Physics-informed runs end to end: label-free and mixed training read only the labels they may, bad
metadata are named, and `specops finetune` lowers the residual of each instance."""

from __future__ import annotations

import json

import pytest
import torch

from specops.cli import main
from specops.config import ConfigError, load_config
from specops.data.generate import generate_dataset
from specops.pipeline import load_run_data
from specops.pipeline.physics import HiddenLabels, build_physics_loss, hide_labels, uses_physics
from specops.solvers import make_problem
from tests.data.problems import HeatProblem

TINY = [
    "model.args.n_modes=[4,4]",
    "model.args.hidden_channels=8",
    "model.args.n_layers=2",
    "train.progress=false",
]


@pytest.fixture(scope="module")
def darcy_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("pino")
    return generate_dataset(make_problem("darcy", resolution=9), 20, root / "darcy9.h5", progress=False)


def _cfg(path, *sets):
    return load_config(None, [f"data.path={path}", "data.n_test=4", *TINY, *sets])


def test_label_free_run_hides_every_label_and_fits_no_output_normalizer(darcy_file):
    cfg = _cfg(darcy_file, "train.loss=physics")
    data = hide_labels(cfg, load_run_data(cfg))
    assert isinstance(data.train, HiddenLabels) and data.train.n_labelled == 0
    assert all(torch.isnan(data.train[i]["y"]).all() for i in range(len(data.train)))
    assert getattr(data.y_normalizer, "kind", None) == "none"
    assert uses_physics(cfg)


def test_mixed_run_keeps_the_first_fraction_of_labels_and_fits_on_them(darcy_file):
    cfg = _cfg(darcy_file, "train.physics_weight=0.5", "data.labelled_fraction=0.25")
    full = load_run_data(cfg)
    data = hide_labels(cfg, full)
    assert data.train.n_labelled == 4  # round(0.25 * 16)
    assert torch.isfinite(data.train[3]["y"]).all() and torch.isnan(data.train[4]["y"]).all()
    first = torch.stack([full.train[i]["y"] for i in range(4)])
    # per-channel statistics of the labelled samples only
    assert abs(data.y_normalizer.mean.item() - first.double().mean().item()) < 1e-9
    assert abs(full.y_normalizer.mean.item() - first.double().mean().item()) > 1e-6


def test_hidden_labels_without_physics_are_refused(darcy_file):
    cfg = _cfg(darcy_file, "data.labelled_fraction=0.5")
    with pytest.raises(ConfigError, match="physics_weight"):
        hide_labels(cfg, load_run_data(cfg))


def test_metadata_without_a_known_equation_name_the_setting(tmp_path):
    heat = generate_dataset(HeatProblem(resolution=8), 6, tmp_path / "heat.h5", progress=False)
    with pytest.raises(ConfigError, match=r"physics\.pde"):
        build_physics_loss(_cfg(heat, "train.loss=physics"))


def test_label_free_training_lowers_the_residual_and_finetune_lowers_it_further(darcy_file, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--data", str(darcy_file), "--out", str(run), "--epochs", "15", "--batch-size", "4"]
    args += ["--lr", "1e-2", "--no-eval", "--threads", "1"]
    for item in [*TINY, "train.loss=physics", "data.n_test=4", "physics.s=-1", "physics.alpha=0"]:
        args += ["--set", item]
    assert main(args) == 0, capsys.readouterr().err
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [h["epoch_train_loss"] for h in history if "epoch_train_loss" in h]
    assert losses[-1] < 0.5 * losses[0], losses
    code = main(
        ["finetune", str(run), "--data", str(darcy_file), "--steps", "15", "--lr", "3e-3", "--threads", "1"]
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads((run / "finetune.json").read_text())
    assert len(summary["instances"]) == 4  # the run's test split
    assert summary["mean_residual_after"] < summary["mean_residual_before"]
    assert "mean_rel_l2_after" in summary
    again = main(["finetune", str(run), "--data", str(darcy_file), "--steps", "1", "--threads", "1"])
    assert again == 2 and "--overwrite" in capsys.readouterr().err


def test_mixed_trajectory_runs_label_whole_trajectories(tmp_path):
    path = generate_dataset(
        HeatProblem(resolution=8, n_times=5, T=0.2), 5, tmp_path / "traj.h5", progress=False
    )
    cfg = load_config(
        None,
        [
            f"data.path={path}",
            "data.n_test=1",
            "train.mode=autoregressive",
            "train.horizon=2",
            "train.physics_weight=1",
            "data.labelled_fraction=0.5",
        ],
    )
    data = hide_labels(cfg, load_run_data(cfg))
    per = data.train.windows_per_sample
    assert per == 3 and len(data.train) == 12  # 4 trajectories of 5 frames: windows 1 -> 2
    labelled = [bool(torch.isfinite(data.train[i]["y"]).all()) for i in range(len(data.train))]
    assert labelled == [True] * 2 * per + [False] * 2 * per
