"""End-to-end runs of `specops train` / `specops evaluate` on tiny exact data (heat equation, 16^2)."""

import dataclasses
import json

import pytest
import torch

import specops
from specops.cli import main
from specops.data.generate import generate_dataset
from specops.pipeline import split_counts
from tests.data.problems import HeatProblem


@pytest.fixture(scope="module")
def heat_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("heat")
    train = generate_dataset(HeatProblem(resolution=16), 48, root / "heat16.h5", progress=False)
    fine = generate_dataset(HeatProblem(resolution=32), 8, root / "heat32.h5", seed=10_000, progress=False)
    traj = generate_dataset(
        HeatProblem(resolution=16, n_times=8, T=0.2), 12, root / "traj.h5", progress=False
    )
    return train, fine, traj


def _run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_then_evaluate_end_to_end(heat_files, tmp_path, capsys):
    train, fine, _ = heat_files
    run = tmp_path / "run"
    code, _, err = _run(
        [
            "train",
            "--data",
            str(train),
            "--test-data",
            str(fine),
            "--epochs",
            "40",
            "--batch-size",
            "8",
            "--lr",
            "3e-3",
            "--out",
            str(run),
            "--set",
            "train.progress=false",
            "--set",
            "model.args.hidden_channels=16",
            "--set",
            "data.n_val=4",
        ],
        capsys,
    )
    assert code == 0, err
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "best.pt").is_file()
    assert (run / "report.md").is_file() and (run / "results.json").is_file()
    # the checkpoint alone rebuilds the model
    assert isinstance(specops.load(run / "checkpoints" / "best.pt"), specops.FNO)
    code, _out, err = _run(["evaluate", str(run), "--json", str(tmp_path / "r.json"), "--no-plots"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "r.json").read_text())["operator"]
    errors = results["rel_l2"]["u"]
    # the heat operator is smooth and linear: a short training gets within a few percent, zero-shot at 32^2
    assert errors["heat32@32x32"] < 0.15, errors
    assert results["train_resolution"] == "16x16"
    # with a separate test file the training file has no test split: only the 32^2 file is a test set
    assert results["n_samples"] == {"heat32@32x32": 8}, results["n_samples"]
    saved = specops.config.load_config(run / "config.yaml")
    assert (saved.data.n_train, saved.data.n_val, saved.data.n_test) == (44, 4, 0)


def test_split_trains_on_every_sample_when_test_files_are_given(tmp_path):
    base = specops.config.Config()
    data = dataclasses.replace(base.data, path=str(tmp_path / "train.h5"), n_val=5)
    alone = dataclasses.replace(base, data=data)
    assert split_counts(alone, 100) == (85, 5, 10)  # no test file: a tenth of the file is held out
    with_test = dataclasses.replace(base, data=dataclasses.replace(data, test_paths=[str(tmp_path / "t.h5")]))
    assert split_counts(with_test, 100) == (95, 5, 0)  # validation by n_val only
    explicit = dataclasses.replace(with_test, data=dataclasses.replace(with_test.data, n_test=20))
    assert split_counts(explicit, 100) == (75, 5, 20)  # an explicit n_test is kept
    # naming the training file itself as a test file means its held-out split
    itself = dataclasses.replace(base, data=dataclasses.replace(data, test_paths=[data.path]))
    assert split_counts(itself, 100) == (85, 5, 10)


def test_autoregressive_training_on_trajectories(heat_files, tmp_path, capsys):
    _, _, traj = heat_files
    run = tmp_path / "ar"
    code, out, err = _run(
        [
            "train",
            "--data",
            str(traj),
            "--mode",
            "autoregressive",
            "--epochs",
            "10",
            "--batch-size",
            "16",
            "--lr",
            "3e-3",
            "--out",
            str(run),
            "--set",
            "train.progress=false",
            "--set",
            "train.history=2",
            "--set",
            "model.args.hidden_channels=12",
            "--set",
            "data.n_test=2",
        ],
        capsys,
    )
    assert code == 0, err
    assert "rollout: mean rel. L2" in out
    results = json.loads((run / "results.json").read_text())
    assert results["rollout"]["times"] and len(results["rollout"]["times"]) == 6


def test_resume_continues_a_run(heat_files, tmp_path, capsys):
    train, _, _ = heat_files
    base = [
        "train",
        "--data",
        str(train),
        "--batch-size",
        "16",
        "--out",
        str(tmp_path / "r"),
        "--no-eval",
        "--set",
        "train.progress=false",
        "--set",
        "model.args.hidden_channels=8",
    ]
    assert _run([*base, "--epochs", "2"], capsys)[0] == 0
    code, _out, err = _run([*base, "--epochs", "4", "--resume"], capsys)
    assert code == 0, err
    payload = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=True)
    assert payload["extra"]["training"]["epoch"] == 4


def test_bad_configuration_is_a_clear_error(heat_files, tmp_path, capsys):
    train, _, traj = heat_files
    code, _, err = _run(
        ["train", "--data", str(train), "--set", "train.learning_rate=1", "--out", str(tmp_path)], capsys
    )
    assert code == 2 and "train.learning_rate" in err and "valid" in err.lower()
    code, _, err = _run(["train", "--data", str(traj), "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "train.mode=autoregressive" in err
    code, _, err = _run(["train", "--out", str(tmp_path / "y")], capsys)
    assert code == 2 and "--data" in err
    code, _out, err = _run(["evaluate", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "no checkpoint" in err


def test_data_without_kind_is_named_as_incomplete(heat_files, tmp_path, capsys):
    import h5py

    from specops import pipeline
    from specops.config import load_config

    bad = tmp_path / "nokind.h5"
    bad.write_bytes(heat_files[0].read_bytes())
    with h5py.File(bad, "r+") as h5:
        del h5.attrs["kind"]
    code, _, err = _run(["train", "--data", str(bad), "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{bad} has no root attribute kind, so it is not a complete specops dataset" in err
    assert "trajector" not in err
    with pytest.raises(ValueError, match="has no root attribute kind"):
        pipeline.data.open_test_sets(load_config(None, [f"data.path={heat_files[0]}"]), [bad], "operator")


def test_auto_learning_rate_is_reproducible_and_leaves_no_trace(heat_files, tmp_path):
    from specops.config import load_config
    from specops.pipeline import train

    data, _, _ = heat_files

    def run(name: str, lr: str) -> tuple[float, dict]:
        cfg = load_config(
            None,
            [
                f"data.path={data}",
                "train.epochs=2",
                "train.batch_size=8",
                "train.progress=false",
                "model.args.hidden_channels=8",
                "model.args.n_modes=[6,6]",
                f"optim.lr={lr}",
                f"run_dir={tmp_path / name}",
            ],
        )
        torch.manual_seed(0)  # the model's initial weights
        train(cfg, evaluate_after=False, log=lambda message: None)
        saved = specops.config.load_config(tmp_path / name / "config.yaml")
        weights = torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=True)["state_dict"]
        return saved.optim.lr, weights

    lr_a, weights_a = run("a", "auto")
    lr_b, weights_b = run("b", "auto")
    assert isinstance(lr_a, float) and lr_a == lr_b  # the chosen number is stored with the run
    assert (tmp_path / "a" / "lr_range_test.json").is_file()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    # training with that number given explicitly ends on the same weights: the test left nothing behind
    lr_c, weights_c = run("c", repr(lr_a))
    assert lr_c == lr_a and all(torch.equal(weights_a[k], weights_c[k]) for k in weights_a)


def test_default_learning_rate_is_a_range_test_kept_on_resume(heat_files, tmp_path, capsys):
    data, _, _ = heat_files
    base = ["train", "--data", str(data), "--batch-size", "16", "--out", str(tmp_path / "r"), "--no-eval"]
    base += ["--set", "train.progress=false", "--set", "model.args.hidden_channels=8"]
    code, out, err = _run([*base, "--epochs", "1"], capsys)  # no --lr: the default is auto
    assert code == 0, err
    assert "learning rate: auto ->" in out
    record = json.loads((tmp_path / "r" / "lr_range_test.json").read_text())
    lr = specops.config.load_config(tmp_path / "r" / "config.yaml").optim.lr
    assert isinstance(lr, float) and lr == record["suggestion"]
    code, out, err = _run([*base, "--epochs", "2", "--resume"], capsys)
    assert code == 0, err
    assert f"learning rate: auto -> {lr:.3g} (from" in out  # the checkpoint's number, no second test
    assert specops.config.load_config(tmp_path / "r" / "config.yaml").optim.lr == lr
