"""``model.patching`` from the CLI to the checkpoint and back through ``specops evaluate``."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

import specops
from specops import TFNO, MultigridPatching
from specops.cli import main
from specops.config import ConfigError, load_config
from specops.data.generate import generate_dataset
from specops.pipeline import build_model, load_predictor, train
from tests.data.problems import HeatProblem


def data(shape=(16, 16), boundary=None):
    attrs = {} if boundary is None else {"boundary": boundary}
    return SimpleNamespace(
        kind="operator", in_channels=1, out_channels=1, spatial_shape=shape, info=SimpleNamespace(attrs=attrs)
    )


def build(*overrides, **kw):
    return build_model(load_config(None, list(overrides)), data(**kw))


def test_patching_keys_wrap_the_configured_model():
    cfg, model, _ = build(
        "model.patching.patches=[2,4]", "model.patching.levels=1", "model.patching.padding=0.125"
    )
    assert isinstance(model, MultigridPatching) and isinstance(model.model, specops.FNO)
    assert model.patches == (2, 4) and model.levels == 1 and model.padding == 0.125 and model.periodic
    assert model.in_channels == 1 and model.model.in_channels == 2
    assert cfg.model.args["in_channels"] == 1  # the configuration keeps the fields' channels
    _, plain, _ = build()
    assert not isinstance(plain, MultigridPatching)
    # periodicity comes from the data file unless set
    _, walls, _ = build("model.patching.patches=2", boundary="dirichlet")
    assert walls.periodic is False
    _, forced, _ = build("model.patching.patches=2", "model.patching.periodic=true", boundary="dirichlet")
    assert forced.periodic is True


def test_a_patched_preset_is_its_inner_model_with_patching():
    cfg, model, notes = build("model.name=mg-tfno-2d", "model.args.hidden_channels=8")
    assert isinstance(model, MultigridPatching) and isinstance(model.model, TFNO)
    assert cfg.model.name == "tfno" and cfg.model.patching.levels == 2 and cfg.model.patching.patches == 2
    assert model.model.spectral.joint_factorization and model.model.hidden_channels == 8
    assert model.model.in_channels == 3 and notes
    # a key set in the run wins over the preset's
    _, one_level, _ = build(
        "model.name=mg-tfno-2d", "model.args.hidden_channels=8", "model.patching.levels=1"
    )
    assert one_level.levels == 1 and one_level.model.in_channels == 2


def test_patching_the_grid_does_not_allow_is_refused_before_training():
    with pytest.raises(
        ConfigError, match=r"model\.patching: patches=3 on axis 0 does not divide the grid size 16"
    ):
        build("model.patching.patches=3")
    with pytest.raises(ConfigError, match=r"model\.patching: levels=4 strides 16 points"):
        build("model.patching.patches=2", "model.patching.levels=4")
    with pytest.raises(ConfigError, match=r"model\.patching\.padding must be in \[0, 1\), got 2"):
        build("model.patching.padding=2")


def test_train_with_patching_then_evaluate_applies_it_from_the_checkpoint(tmp_path, capsys):
    train = generate_dataset(HeatProblem(resolution=16), 24, tmp_path / "heat16.h5", progress=False)
    fine = generate_dataset(
        HeatProblem(resolution=32), 4, tmp_path / "heat32.h5", seed=10_000, progress=False
    )
    run = tmp_path / "run"
    args = ["train", "--data", str(train), "--test-data", str(fine), "--epochs", "2", "--batch-size", "8"]
    args += ["--lr", "3e-3", "--out", str(run), "--set", "train.progress=false"]
    for key in ("model.args.hidden_channels=8", "model.patching.patches=2", "model.patching.levels=1"):
        args += ["--set", key]
    assert main(args) == 0, capsys.readouterr().err
    model = specops.load(run / "checkpoints" / "last.pt")
    assert isinstance(model, MultigridPatching) and model.patches == (2, 2) and model.levels == 1
    assert model.periodic  # the heat data are periodic
    out = tmp_path / "r.json"
    assert main(["evaluate", str(run), "--json", str(out), "--no-plots"]) == 0, capsys.readouterr().err
    results = json.loads(out.read_text())["operator"]
    assert "heat32@32x32" in results["rel_l2"]["u"]
    # the run's predictor applies the patching from the checkpoint: normalization around the wrapper
    predictor = load_predictor(run)
    assert isinstance(predictor.model, MultigridPatching)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        norm = predictor.normalization
        expected = norm.decode_output(model(norm.encode_input(x)))
        assert torch.allclose(predictor(x), expected, atol=1e-6)


def test_train_on_patches_runs_patch_items_and_evaluates_stitched(tmp_path):
    data_file = generate_dataset(HeatProblem(resolution=16), 20, tmp_path / "heat16.h5", progress=False)
    overrides = [
        f"data.path={data_file}",
        f"run_dir={tmp_path / 'run'}",
        "data.n_val=4",
        "train.epochs=1",
        "train.batch_size=8",
        "train.progress=false",
        "optim.lr=3e-3",
        "model.args.hidden_channels=8",
        "model.patching.patches=2",
        "model.patching.levels=1",
        "model.patching.train_on_patches=true",
    ]
    result = train(load_config(None, overrides), log=lambda _: None)
    n_train = load_config(result["run_dir"] + "/config.yaml").data.n_train
    assert n_train > 0
    assert result["fit"]["step"] == math.ceil(4 * n_train / 8)  # an epoch is every patch of every sample once
    assert result["fit"]["best_val_rel_l2"] is not None  # validated on whole, stitched fields
    model = specops.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert isinstance(model, MultigridPatching) and model.patches == (2, 2)
    assert "operator" in result["evaluation"]


def test_train_on_patches_where_it_cannot_work_is_refused():
    with pytest.raises(ConfigError, match=r"train_on_patches=true needs a patched model"):
        build("model.patching.train_on_patches=true")
    with pytest.raises(
        ConfigError, match=r"train_on_patches=true works with train.mode=operator or autoregressive"
    ):
        build_model(
            load_config(
                None,
                ["model.patching.patches=2", "model.patching.train_on_patches=true", "train.mode=unrolled"],
            ),
            SimpleNamespace(**{**vars(data()), "kind": "trajectory"}),
        )
    with pytest.raises(ConfigError, match=r"cannot be combined with a physics loss"):
        build("model.patching.patches=2", "model.patching.train_on_patches=true", "train.physics_weight=0.5")
