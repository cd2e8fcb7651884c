"""Configuration: YAML round trip, typed dotted overrides, strict keys with suggestions, data adaptation."""

from __future__ import annotations

import pytest

from specops.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
)


def test_yaml_round_trip_is_exact(tmp_path):
    cfg = apply_overrides(Config(), ["optim.lr=3e-3", "model.args.n_modes=[16, 8]", "train.ema_decay=0.99"])
    path = dump_config(cfg, tmp_path / "config.yaml")
    back = load_config(path)
    assert back == cfg
    assert config_to_dict(back)["optim"]["betas"] == [0.9, 0.999]


def test_overrides_coerce_to_field_types():
    cfg = apply_overrides(
        Config(),
        [
            "optim.lr=1e-3",  # YAML 1.1 reads this as a string
            "train.epochs=20",
            "train.max_steps=null",
            "train.compile=yes",
            "train.precision=bf16",
            "optim.betas=0.8,0.95",
            "optim.grad_clip=1",
            "data.test_paths=a.h5,b.h5",
            "eval.resolutions=[32, 64]",
            "model.args.hidden_channels=64",
        ],
    )
    assert cfg.optim.lr == 1e-3 and isinstance(cfg.optim.lr, float)
    assert cfg.train.epochs == 20 and cfg.train.max_steps is None and cfg.train.compile is True
    assert cfg.optim.betas == (0.8, 0.95) and cfg.optim.grad_clip == 1.0
    assert cfg.data.test_paths == ["a.h5", "b.h5"] and cfg.eval.resolutions == [32, 64]
    assert cfg.model.args["hidden_channels"] == 64 and cfg.model.args["n_modes"] == [12, 12]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=1", r"unknown configuration key 'optim.lrr'.*optim.lr.*Did you mean 'optim.lr'"),
        ("train.lr=1", r"unknown configuration key 'train.lr'.*Did you mean 'optim.lr'"),
        ("trian.epochs=3", r"unknown configuration key 'trian.epochs'.*Did you mean 'train.epochs'"),
        ("train.epochs=ten", r"train.epochs='ten' is not an integer"),
        ("train.epochs=2.5", r"train.epochs=2.5 is not an integer"),
        ("train.precision=fp8", r"train.precision='fp8' is not one of 'fp32', 'bf16', 'fp16'"),
        ("train.compile=maybe", r"train.compile='maybe' is not a boolean"),
        ("optim.betas=[0.9]", r"optim.betas=\[0.9\] must have 2 entries"),
        ("optim.lr", r"must look like key=value"),
        ("optim.lr.x=1", r"optim.lr is a value, not a section"),
    ],
)
def test_bad_overrides_say_what_is_valid(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Config(), [override])


def test_unknown_yaml_key_names_file_and_section(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lr: 1e-3\n  weigth_decay: 0.1\n")
    with pytest.raises(
        ConfigError, match=r"bad.yaml: unknown configuration key 'optim.weigth_decay'.*weight_decay"
    ):
        load_config(path)
    path.write_text("optim: [1, 2]\n")
    with pytest.raises(ConfigError, match="optim must be a mapping"):
        load_config(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        load_config(tmp_path / "missing.yaml")
    assert load_config(None, ["optim.lr=0.5"]).optim.lr == 0.5
    assert config_from_dict({"optim": {"lr": "2e-3"}}).optim.lr == 2e-3


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trian=3", "Did you mean 'train'?"),
        ("trian.epochs=3", "Did you mean 'train.epochs'?"),
        ("train.epohcs=3", "Did you mean 'train.epochs'?"),
    ],
)
def test_misspelt_section_suggests_the_section(override, expected):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert str(info.value).endswith(expected)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=-1", "train.epochs must be at least 1, got -1"),
        ("train.batch_size=0", "train.batch_size must be at least 1"),
        ("optim.lr=-1e-3", "optim.lr must be positive"),
        ("optim.pct_start=1.5", "optim.pct_start must be in (0, 1)"),
        ("data.n_val=-2", "data.n_val must be 0 or more"),
        ("train.ema_decay=1.0", "train.ema_decay must be in (0, 1)"),
        ("eval.timing_repeats=0", "eval.timing_repeats must be at least 1"),
        ("train.seed=-1", "train.seed=-1 is out of range; a seed is an integer in"),
    ],
)
def test_out_of_range_values_name_their_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, [override])
