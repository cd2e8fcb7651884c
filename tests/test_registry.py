import pytest

import specops
from specops.registry import Registry


def test_unknown_name_lists_valid_ones_and_suggests():
    with pytest.raises(ValueError, match=r"unknown model 'fn0'.*valid names: .*fno.*Did you mean 'fno'"):
        specops.create_model("fn0", n_modes=(4,))


def test_presets_apply_defaults_and_accept_overrides():
    model = specops.create_model("fno-2d-darcy", hidden_channels=8)
    assert model.n_modes == (12, 12) and model.hidden_channels == 8
    assert "fno-2d-darcy" in specops.list_models()


def test_duplicate_registration_is_refused():
    reg = Registry("thing")
    reg.register("a", dict)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("A", dict)
    assert reg.create("a", x=1) == {"x": 1}


def test_mapping_arguments_merge_with_a_presets_key_by_key():
    reg = Registry("thing")
    reg.register("base", dict)
    reg.register("preset", dict, defaults={"a": 1, "group": {"x": 1, "y": 2}}, family="base")
    assert reg.create("preset", group={"y": 3}) == {"a": 1, "group": {"x": 1, "y": 3}}
    assert reg.create("preset", group=None) == {"a": 1, "group": None}  # a non-mapping replaces
    assert reg.name_of(dict) == "base"  # presets of a target are not its name
    assert reg.unregister("preset").family == "base" and "preset" not in reg


def test_options_coerce_from_plain_data_and_back():
    from dataclasses import dataclass

    from specops.registry import Options

    @dataclass(frozen=True)
    class Opts(Options):
        size: int = 2
        scale: float = 1.0
        shape: tuple[int, ...] | None = None

    assert Opts.coerce(None, "opts") == Opts()
    assert Opts.coerce({"size": 3}, "opts", {"scale": 0.5}) == Opts(3, 0.5)
    same = Opts(4)
    assert Opts.coerce(same, "opts") is same
    assert Opts(1, 2, [3, 4]).to_plain() == {"size": 1, "scale": 2, "shape": [3, 4]}
    with pytest.raises(TypeError, match=r"opts: size=2.5 must be an integer"):
        Opts.coerce({"size": 2.5}, "opts")
    with pytest.raises(TypeError, match=r"opts: scale=True must be a number"):
        Opts.coerce({"scale": True}, "opts")
    with pytest.raises(TypeError, match=r"opts: shape=\[1, 'a'\] must be a list of integers"):
        Opts.coerce({"shape": [1, "a"]}, "opts")
    with pytest.raises(
        ValueError, match=r"opts has no option 'sise'; valid: size, scale, shape. Did you mean 'size'"
    ):
        Opts.coerce({"sise": 1}, "opts")
    with pytest.raises(TypeError, match=r"opts=\[1\] must be a mapping of options"):
        Opts.coerce([1], "opts")
