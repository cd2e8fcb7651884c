import pytest
import torch
from torch import nn

import specops
from specops import FNO, OperatorModel, register_model
from specops.registry import MODELS


class Smoother(nn.Module):
    """A user's own plain nn.Module: y = conv1d(x, w) with a learned kernel of odd width."""

    def __init__(self, channels: int, width: int = 3, *, scale: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, width, padding=width // 2, padding_mode="circular")
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.conv(x)


class Residual(OperatorModel):
    """A user's OperatorModel: x + MLP(x)."""

    def __init__(self, channels: int, hidden: int = 4, **extra) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(self.check_input(x, self.net[0].in_channels, 1))


@pytest.fixture
def registered():
    """Register the user classes for one test, and forget them after it."""
    register_model("test-smoother")(Smoother)
    register_model("test-residual", description="residual MLP")(Residual)
    yield
    MODELS.unregister("test-smoother")
    MODELS.unregister("test-residual")


def test_a_plain_module_registered_by_the_user_saves_and_loads(registered, tmp_path):
    torch.manual_seed(0)
    model = specops.create_model("test-smoother", channels=2, scale=0.5)
    assert Smoother.registry_name == "test-smoother"
    assert model.init_args == {"channels": 2, "width": 3, "scale": 0.5}
    again = specops.load(specops.save(model, tmp_path / "s.pt"))
    assert type(again) is Smoother and again.scale == 0.5
    x = torch.randn(3, 2, 16)
    assert torch.equal(again(x), model(x))


def test_an_operator_model_registered_by_the_user_saves_and_loads(registered, tmp_path):
    torch.manual_seed(0)
    model = Residual(2, 5, note="kept")
    assert model.init_args == {"channels": 2, "hidden": 5, "note": "kept"}
    assert MODELS.get("test-residual").description == "residual MLP"
    again = specops.load(specops.save(model, tmp_path / "r.pt"))
    x = torch.randn(3, 2, 16)
    assert type(again) is Residual and torch.equal(again(x), model(x))


def test_an_unregistered_subclass_is_not_saved_under_its_parents_name(tmp_path):
    class Wider(FNO):
        def __init__(self, n_modes, extra_width: int = 2) -> None:
            super().__init__(n_modes, hidden_channels=4 + extra_width, n_layers=1)

    model = Wider((4,))
    assert model.registry_name == "fno"  # inherited, but not the name of this class
    with pytest.raises(TypeError, match=r"Wider is not a registered specops model.*register_model"):
        specops.save(model, tmp_path / "w.pt")


def test_registering_without_recording_arguments_is_reported(tmp_path):
    class Bare(nn.Module):
        def __init__(self, n: int = 2) -> None:
            super().__init__()
            self.lin = nn.Linear(n, n)

    MODELS.register("test-bare", Bare)
    try:
        with pytest.raises(TypeError, match=r"does not record its constructor arguments.*register_model"):
            specops.save(Bare(), tmp_path / "b.pt")
    finally:
        MODELS.unregister("test-bare")


def test_a_file_of_a_model_not_registered_here_names_what_to_do(registered, tmp_path):
    path = specops.save(Smoother(1), tmp_path / "s.pt")
    MODELS.unregister("test-smoother")
    try:
        with pytest.raises(ValueError, match=r"'test-smoother', which is not registered.*import the module"):
            specops.load(path)
    finally:
        register_model("test-smoother")(Smoother)


def test_one_class_one_name():
    with pytest.raises(ValueError, match=r"FNO is already registered as model 'fno'"):
        register_model("fno-again")(FNO)
    with pytest.raises(ValueError, match=r"model 'fno' is already registered"):
        register_model("fno")(type("Other", (nn.Module,), {}))
    with pytest.raises(TypeError, match=r"decorates an nn\.Module subclass"):
        register_model("not-a-module")(dict)
    assert "fno-again" not in MODELS and "not-a-module" not in MODELS
    assert MODELS.name_of(FNO) == "fno" and MODELS.get("fno-2d-small").target is FNO
