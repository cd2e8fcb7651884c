import json

import numpy as np
import pytest
import torch

import specops
from specops.cli import main
from specops.data.generate import generate_dataset
from specops.solvers.problems import make_problem


def test_observe_train_noda_assimilate_end_to_end(tmp_path, capsys):
    ks = make_problem("ks", resolution=64, t_final=8.0, save_interval=1.0, dt=0.05)
    data = generate_dataset(ks, 3, tmp_path / "ks.h5", progress=False)
    obs = tmp_path / "obs.h5"
    assert main(["observe", str(data), "--sensors", "24", "--noise", "0.01", "--out", str(obs)]) == 0
    model = tmp_path / "noda.pt"
    args = [
        "--sensors",
        "8",
        "--noise",
        "0.01",
        "--steps",
        "3",
        "--width",
        "8",
        "--modes",
        "4",
        "--window",
        "3",
    ]
    with pytest.raises(SystemExit, match="2"):
        main(["train-noda", str(data), "--out", str(model), *args, "--sensors", "5:x"])
    assert "'5:x' is not a count N or a range LO:HI" in capsys.readouterr().err
    options = ["--init-error", "0.2:0.5", "--prediction-noise", "0.1", "--pretrain-steps", "2"]
    assert main(["train-noda", str(data), "--out", str(model), *args, *options, "--smoothing", "0.5"]) == 0
    out = tmp_path / "r.json"
    run = [
        "assimilate",
        str(model),
        "--data",
        str(data),
        "--obs",
        str(obs),
        "--enkf",
        "solver",
        "--members",
        "16",
    ]
    enkf_options = ["--localization", "12", "--inflation", "1.05", "--additive", "0.01", "--samples", "1"]
    assert main([*run, *enkf_options, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "enkf_solver" in printed and "noda_no_data" in printed
    res = json.loads(out.read_text())
    assert set(res["methods"]) == {"rollout", "noda", "noda_no_data", "enkf_solver"}
    assert res["settings"]["additive"] == 0.01
    enkf = np.array(res["methods"]["enkf_solver"]["error"])
    assert len(enkf) == 9 and res["methods"]["rollout"]["error"][0] == 0.0
    # with the exact model and 24 sensors on 64 points the filter pulls the wrong background onto the truth
    assert enkf[-1] < 0.5 * enkf[0], enkf
    # the same output again is refused without --overwrite
    assert main([*run, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_bad_observation_input_is_named(tmp_path, capsys):
    ks = make_problem("ks", resolution=16, t_final=3.0, save_interval=1.0, dt=0.05)
    data = generate_dataset(ks, 1, tmp_path / "ks.h5", progress=False)
    assert (
        main(["observe", str(data), "--sensors", "3", "--noise", "-0.5", "--out", str(tmp_path / "o.h5")])
        == 2
    )
    assert "noise=-0.5 must be" in capsys.readouterr().err
    other = generate_dataset(
        make_problem("ks", resolution=32, t_final=3.0, save_interval=1.0, dt=0.05),
        1,
        tmp_path / "k32.h5",
        progress=False,
    )
    assert (
        main(["observe", str(other), "--sensors", "3", "--noise", "0.1", "--out", str(tmp_path / "o32.h5")])
        == 0
    )
    torch.manual_seed(0)
    from specops.assimilation import NODA
    from specops.models.serialization import save

    save(NODA([4], hidden_channels=4, n_layers=1, gain_channels=4, gain_layers=1), tmp_path / "m.pt")
    cmd = ["assimilate", str(tmp_path / "m.pt"), "--data", str(data), "--obs", str(tmp_path / "o32.h5")]
    assert main(cmd) == 2
    assert "resolution [32] does not match" in capsys.readouterr().err


def test_train_dgno_and_invert_from_the_command_line(tmp_path, capsys):
    darcy = generate_dataset(make_problem("darcy", resolution=9), 4, tmp_path / "d.h5", progress=False)
    model = tmp_path / "dgno.pt"
    args = ["--epochs", "1", "--latent", "4", "--width", "8", "--centres", "4", "--batch-size", "2"]
    args += ["--flux-weight", "5", "--latent-penalty", "0.1", "--interpolation", "bilinear"]
    assert main(["train-dgno", str(darcy), "--out", str(model), *args]) == 0
    from specops.models.dgno import darcy_scales

    trained = specops.load(model)
    assert (trained.u_scale, trained.flux_scale) == darcy_scales(1.0, (trained.a_lo, trained.a_hi))
    out = tmp_path / "inv.json"
    cmd = ["invert", str(model), "--data", str(darcy), "--sensors", "5", "--noise", "0.01", "--cases", "1"]
    assert main([*cmd, "--samples", "2", "--steps", "20", "--out", str(out)]) == 0
    case = json.loads(out.read_text())["cases"][0]
    assert np.isfinite(case["a_error"]) and case["a_std_mean"] >= 0
    assert main([*cmd[:-4], "--sensors", "500", "--noise", "0.01"]) == 2
    assert "sensors=500 must be between 1 and the 81 nodes" in capsys.readouterr().err
    ks = generate_dataset(
        make_problem("ks", resolution=16, t_final=2.0, save_interval=1.0, dt=0.05),
        1,
        tmp_path / "k.h5",
        progress=False,
    )
    assert main(["train-dgno", str(ks), "--out", str(tmp_path / "x.pt")]) == 2
    assert "is not a Darcy file" in capsys.readouterr().err


def test_a_specops_train_run_is_the_enkf_forecast_model(tmp_path, capsys):
    # a one-step surrogate from `specops train` (autoregressive, input noise) as the EnKF's forecast
    ks = make_problem("ks", resolution=32, t_final=6.0, save_interval=1.0, dt=0.05)
    data = generate_dataset(ks, 6, tmp_path / "ks.h5", progress=False)
    obs = tmp_path / "obs.h5"
    assert main(["observe", str(data), "--sensors", "12", "--noise", "0.01", "--out", str(obs)]) == 0
    run = tmp_path / "run"
    train = ["train", "--data", str(data), "--epochs", "2", "--batch-size", "8", "--out", str(run),
             "--set", "train.mode=autoregressive", "--set", "train.input_noise=0.1", "--set", "train.progress=false",
             "--set", "model.args.hidden_channels=8", "--set", "data.n_val=1", "--set", "data.n_test=1"]  # fmt: skip
    assert main(train) == 0, capsys.readouterr().err
    out = tmp_path / "r.json"
    argv = ["assimilate", str(run), "--data", str(data), "--obs", str(obs), "--enkf", "model",
            "--members", "8", "--additive", "0.02", "--localization", "4", "--samples", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    res = json.loads(out.read_text())
    assert set(res["methods"]) == {"rollout", "enkf_model"}
    err = np.array(res["methods"]["enkf_model"]["error"])
    assert len(err) == 7 and np.isfinite(err).all() and res["methods"]["rollout"]["error"][0] == 0.0
