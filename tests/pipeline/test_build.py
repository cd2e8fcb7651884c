"""From configuration to objects: data decide channels and modes; model arguments are typed."""

from __future__ import annotations

import pytest

from specops.config import Config, ConfigError, apply_overrides, load_config
from specops.pipeline.build import adapt_to_data, clamp_modes


def test_clamp_modes_and_adapt_to_data():
    assert clamp_modes([16, 8], [12, 32]) == (
        [12, 8],
        ["n_modes[0]: 16 -> 12 (the data have 12 points on axis 0)"],
    )
    cfg = apply_overrides(
        Config(), ["model.args.n_modes=[32, 32]", "train.mode=autoregressive", "train.history=3"]
    )
    adapted, notes = adapt_to_data(cfg, in_channels=6, out_channels=2, shape=(16, 24))
    assert adapted.model.args["n_modes"] == [16, 24] and len(notes) == 2
    assert adapted.model.args["in_channels"] == 6 and adapted.model.args["out_channels"] == 2
    from specops import create_model

    model = create_model(adapted.model.name, **adapted.model.args)  # the adapted arguments build a model
    assert model.n_modes == (16, 24)
    with pytest.raises(ConfigError, match=r"model.args.in_channels=5 but the data give 6"):
        adapt_to_data(
            apply_overrides(cfg, ["model.args.in_channels=5"]), in_channels=6, out_channels=2, shape=(16, 16)
        )
    with pytest.raises(ConfigError, match=r"model.args.hiden_channels.*Did you mean 'hidden_channels'"):
        adapt_to_data(
            apply_overrides(cfg, ["model.args.hiden_channels=5"]),
            in_channels=6,
            out_channels=2,
            shape=(16, 16),
        )
    with pytest.raises(ConfigError, match=r"has 2 entries but the data have 1 spatial axes"):
        adapt_to_data(cfg, in_channels=6, out_channels=2, shape=(16,))
    preset = apply_overrides(Config(), ["model.name=fno-2d-darcy", "model.args={}"])
    adapted, notes = adapt_to_data(preset, in_channels=1, out_channels=1, shape=(8, 8))
    assert adapted.model.args["n_modes"] == [8, 8] and len(notes) == 2


def test_model_arguments_are_checked_against_the_constructors_types():
    def adapt(*overrides):
        return adapt_to_data(
            load_config(None, list(overrides)), in_channels=1, out_channels=1, shape=(16, 16)
        )

    with pytest.raises(ConfigError, match=r"model.args.hidden_channels='abc' is not an integer"):
        adapt("model.args.hidden_channels=abc")
    with pytest.raises(ConfigError, match=r"model.args.n_modes\[1\]='x' is not an integer"):
        adapt("model.args.n_modes=[8,x]")
    with pytest.raises(
        ConfigError, match=r"model.args.activation='gelux' is not one of .* Did you mean 'gelu'"
    ):
        adapt("model.args.activation=gelux")
    cfg, _ = adapt("model.args.n_modes=8", "model.args.hidden_channels=16", "model.args.spectral.rank=0.5")
    assert cfg.model.args["n_modes"] == [8, 8] and cfg.model.args["spectral"] == {"rank": 0.5}
    # TFNO forwards **kwargs to FNO: FNO's annotations are checked too
    with pytest.raises(ConfigError, match=r"model\.args\.n_layers='four'"):
        adapt("model.name=tfno", "model.args.n_layers=four")


def test_task_for_config_modes():
    from specops.pipeline.build import task_for
    from specops.training.tasks import AutoregressiveTask, OperatorTask, PushforwardTask

    def task(*overrides):
        return task_for(load_config(None, list(overrides)))

    assert isinstance(task("train.mode=operator"), OperatorTask)
    assert type(task("train.mode=autoregressive")) is AutoregressiveTask
    unrolled = task("train.mode=unrolled", "train.unroll_steps=4")
    assert isinstance(unrolled, PushforwardTask) and unrolled.unroll_steps == 4


def test_option_groups_and_old_flat_spellings(tmp_path):
    from types import SimpleNamespace

    from specops.pipeline.build import build_model

    data = SimpleNamespace(kind="operator", in_channels=1, out_channels=1, spatial_shape=(16, 16))

    def build(*overrides):
        return build_model(load_config(None, list(overrides)), data)

    cfg, model, _ = build("model.name=tfno", "model.args.rank=0.5")  # a flat key of older configs
    assert cfg.model.args["spectral"] == {"rank": 0.5} and model.init_args["spectral"]["rank"] == 0.5
    with pytest.raises(ConfigError, match=r"^model\.args\.spectral: rank='abc' must be a number"):
        build("model.args.spectral.rank=abc")
    with pytest.raises(
        ConfigError, match=r"^model\.args\.spectral has no option 'rnak'.*Did you mean 'rank'"
    ):
        build("model.args.spectral.rnak=0.1")


def test_trajectory_models_learn_the_channels_of_one_frame_from_the_data():
    from types import SimpleNamespace

    from specops.pipeline.build import build_model

    data = SimpleNamespace(kind="trajectory", in_channels=2, out_channels=2, spatial_shape=(16, 16))
    cfg = apply_overrides(
        Config(),
        [
            "model.name=sfno",
            "model.args={n_modes: [8, 8], hidden_channels: 4, n_layers: 1}",
            "train.mode=autoregressive",
            "train.history=3",
            "train.horizon=2",
        ],
    )
    cfg, model, _ = build_model(cfg, data)
    assert (model.state_channels, model.in_channels, model.out_channels) == (2, 6, 4)
    assert cfg.model.args["state_channels"] == 2  # stored with the run, so the checkpoint rebuilds it


def test_a_presets_own_width_and_modes_win_over_the_configurations_generic_defaults():
    from types import SimpleNamespace

    from specops.pipeline.build import build_model

    data = SimpleNamespace(kind="operator", in_channels=1, out_channels=1, spatial_shape=(64,))
    _, model, notes = build_model(load_config(None, ["model.name=fno-1d-burgers"]), data)
    assert (model.hidden_channels, list(model.init_args["n_modes"])) == (64, [16])
    assert any("the preset's" in note for note in notes)
    # a value the user gives still wins over the preset
    _, model, _ = build_model(
        load_config(None, ["model.name=fno-1d-burgers", "model.args.hidden_channels=8"]), data
    )
    assert model.hidden_channels == 8
    # the plain model (no preset values) keeps the configuration's defaults
    _, model, _ = build_model(load_config(None, ["model.name=fno"]), data)
    assert (model.hidden_channels, list(model.init_args["n_modes"])) == (32, [12])
