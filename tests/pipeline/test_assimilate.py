import json

import numpy as np
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
    assert main(["train-noda", str(data), "--out", str(model), *args]) == 0
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
    assert (
        main([*run, "--localization", "12", "--inflation", "1.05", "--samples", "1", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "enkf_solver" in printed and "noda_no_data" in printed
    res = json.loads(out.read_text())
    assert set(res["methods"]) == {"rollout", "noda", "noda_no_data", "enkf_solver"}
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
