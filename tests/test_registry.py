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
