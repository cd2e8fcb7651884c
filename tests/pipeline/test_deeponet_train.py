"""DeepONet and MultiONet trained by `specops train` on Darcy (operator pairs) and Burgers (trajectories) files."""

import json

import pytest

import specops
from specops.cli import main
from specops.data.generate import generate_dataset
from specops.models.deeponet import DeepONet, MultiONet
from specops.solvers.problems import make_problem


def _train(data, model, out, extra, capsys):
    args = ["train", "--data", str(data), "--model", model, "--batch-size", "8", "--lr", "3e-3",
            "--out", str(out), "--set", "train.progress=false", "--set", "data.n_val=4",
            "--set", "model.args={width: 32}", *extra]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_multionet_learns_darcy_through_specops_train(tmp_path, capsys):
    data = generate_dataset(make_problem("darcy", resolution=16), 40, tmp_path / "darcy.h5", progress=False)
    metrics = _train(data, "multionet-2d", tmp_path / "run", ["--epochs", "30"], capsys)
    assert isinstance(specops.load(tmp_path / "run" / "checkpoints" / "best.pt"), MultiONet)
    val = [m["val_rel_l2"] for m in metrics if "val_rel_l2" in m]
    # from ~1 (the untrained output is near zero) to well below it on held-out coefficients
    assert val[-1] < 0.6 and val[-1] < 0.7 * val[0], val


@pytest.mark.parametrize("model, cls", [("deeponet-1d", DeepONet), ("multionet-1d", MultiONet)])
def test_deeponets_train_on_burgers_trajectories(tmp_path, capsys, model, cls):
    data = generate_dataset(make_problem("burgers", resolution=32), 12, tmp_path / "b.h5", progress=False)
    extra = ["--epochs", "3", "--set", "train.mode=autoregressive"]
    metrics = _train(data, model, tmp_path / "run", extra, capsys)
    assert isinstance(specops.load(tmp_path / "run" / "checkpoints" / "last.pt"), cls)
    losses = [m["train_loss"] for m in metrics if "train_loss" in m]
    assert losses and losses[-1] < losses[0], losses
