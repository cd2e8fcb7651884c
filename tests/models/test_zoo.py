"""The operator zoo (T1, F-FNO, U-Net, U-NO, MgNO, LSM): properties each model states, bad input, and
`specops train --model NAME` with no other flag (the sweep over presets is in test_fno.py)."""

import json
from types import SimpleNamespace

import pytest
import torch

import specops
from specops.cli import main
from specops.config import load_config
from specops.data.generate import generate_dataset
from specops.layers.resample import fourier_resample
from specops.pipeline.build import build_model
from tests.data.problems import HeatProblem
from tests.helpers import assert_close


def _shift(x, k=3):
    return torch.roll(x, shifts=(k, -k), dims=(-2, -1))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        (
            "mgno",
            {"resolution": [16, 16], "hidden_channels": 4, "n_layers": 1, "iterations": [[1, 1], [1, 1]]},
        ),
        ("unet", {"resolution": [16, 16], "hidden_channels": 4, "channel_multipliers": [1, 2]}),
    ],
)
def test_periodic_padding_makes_the_conv_models_translation_equivariant_and_zero_padding_does_not(
    name, kwargs
):
    # the boundary condition is the padding: circular commutes with periodic shifts (by a multiple of the
    # coarsest level's spacing), zeros (Dirichlet) does not
    torch.manual_seed(0)
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    key = "padding" if name == "mgno" else "padding_mode"
    periodic = specops.create_model(name, **kwargs, **{key: "circular"}).double().eval()
    assert_close(periodic(_shift(x, 2)), _shift(periodic(x), 2), atol=1e-12)
    walls = specops.create_model(name, **kwargs, **{key: "zeros"}).double().eval()
    assert (walls(_shift(x, 2)) - _shift(walls(x), 2)).abs().max() > 1e-3


def test_mgno_with_identity_activation_is_linear_in_its_input():
    torch.manual_seed(0)
    m = specops.create_model("mgno", resolution=[16], hidden_channels=3, n_layers=2, iterations=[[1, 1]] * 3)
    m = m.double()
    m.activation = lambda h: h  # the V-cycles themselves are linear operators (no bias anywhere)
    a, b = torch.randn(2, 1, 1, 16, dtype=torch.float64)
    out_bias = m.out.bias.detach().reshape(1, -1, 1)
    assert_close(m(a + 2 * b) - out_bias, (m(a) - out_bias) + 2 * (m(b) - out_bias), atol=1e-12)


def test_grid_tied_models_give_the_native_output_on_coarser_grids_sampled():
    torch.manual_seed(0)
    m = specops.create_model("lsm", resolution=[16, 16], hidden_channels=8, patch_size=2, n_scales=3).eval()
    x = fourier_resample(torch.randn(1, 1, 8, 8, dtype=torch.float64), (16, 16)).float()
    coarse = m(x[..., ::2, ::2])
    assert m.grid.last_resampled == (8, 8)
    assert_close(coarse, m(x)[..., ::2, ::2], atol=1e-5)  # band-limited input: the same function


def test_t1_forward_is_one_inverse_of_its_coefficients_and_kspace_loss_is_the_relative_coefficient_error():
    torch.manual_seed(0)
    m = specops.create_model("t1", n_modes=[6, 6], hidden_channels=4, n_layers=2).double()
    x, y = torch.randn(2, 2, 1, 16, 16, dtype=torch.float64)
    c = m.coefficients(x)
    assert_close(m.transform.inverse(c, [16, 16]), m(x), atol=1e-12)
    t = m.transform(y)
    expected = ((c - t).flatten(1).norm(dim=1) / t.flatten(1).norm(dim=1)).mean()
    loss = m.kspace_loss(x, y)
    assert_close(loss, expected, rtol=1e-12)
    loss.backward()  # trainable in k-space: the gradient reaches the layers without an inverse transform
    assert m.layers[0].channel_weight.grad.abs().sum() > 0


def test_ffno_shared_weights_are_one_set_of_parameters():
    shared = specops.create_model("ffno", n_modes=[8, 8], hidden_channels=8, n_layers=3, share_weights=True)
    own = specops.create_model("ffno", n_modes=[8, 8], hidden_channels=8, n_layers=3)
    per_layer = sum(w.numel() for w in own.blocks[0].conv.weights)
    assert own.n_parameters - shared.n_parameters == 2 * per_layer
    assert shared.blocks[0].conv.weights[0] is shared.blocks[2].conv.weights[0]


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("lsm", {"resolution": [64]}, r"lsm: resolution=\[64\] has 1 axes; LSM supports 2D and 3D"),
        ("lsm", {"resolution": [48, 48]}, r"lsm: resolution=\[48, 48\].*multiple of 64 \(patches"),
        (
            "mgno",
            {"resolution": [40, 40]},
            r"mgno: resolution=\[40, 40\].*multiple of 16 \(5 multigrid levels",
        ),
        ("t1", {"n_modes": [4, 4, 4, 4]}, r"t1: n_modes=\[4, 4, 4, 4\].*1D-3D"),
        ("ffno", {"n_modes": [4, 4, 4, 4]}, r"ffno: n_modes=.*1D-3D"),
        (
            "uno",
            {"n_modes": [8], "level_scales": [1, 2], "channel_multipliers": [1, 2]},
            r"uno: level_scales",
        ),
        (
            "unet",
            {"resolution": [8, 8], "channel_multipliers": [1, 2, 2, 2, 2]},
            r"unet: resolution=\[8, 8\]",
        ),
        ("t1", {"n_modes": [4], "transform": "wavelet"}, r"t1: transform='wavelet'"),
    ],
)
def test_unsupported_dimensions_and_resolutions_are_named(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        specops.create_model(name, **kwargs)


@pytest.mark.parametrize("name", ["t1", "ffno", "uno", "unet", "unet-2d", "mgno", "lsm", "lsm-2d"])
def test_every_family_builds_from_the_data_with_no_argument_but_its_name(name):
    cfg = load_config(None, [f"model.name={name}"])
    data = SimpleNamespace(kind="operator", in_channels=2, out_channels=1, spatial_shape=(24, 24))
    cfg, model, notes = build_model(cfg, data)
    assert (model.in_channels, model.out_channels) == (2, 1)
    assert model(torch.randn(1, 2, 24, 24)).shape == (1, 1, 24, 24)
    if name.startswith("lsm"):  # 24 is not a multiple of 64: the grid is rounded up, and the log says so
        assert cfg.model.args["resolution"] == [64, 64]
        assert any("resolution: [24, 24] -> [64, 64]" in n for n in notes), notes


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    train = generate_dataset(HeatProblem(resolution=16), 12, root / "heat16.h5", progress=False)
    fine = generate_dataset(HeatProblem(resolution=32), 2, root / "heat32.h5", seed=10_000, progress=False)
    return train, fine


def test_specops_train_and_evaluate_a_grid_tied_model_say_it_was_resampled(heat, tmp_path):
    train, fine = heat
    run = tmp_path / "run"
    args = ["train", "--data", str(train), "--test-data", str(fine), "--model", "mgno", "--epochs", "1"]
    args += ["--batch-size", "4", "--lr", "1e-3", "--out", str(run), "--set", "train.progress=false"]
    args += [
        "--set",
        "data.n_val=2",
        "--set",
        "model.args.hidden_channels=4",
        "--set",
        "model.args.n_layers=1",
    ]
    assert main(args) == 0
    loaded = specops.load(run / "checkpoints" / "best.pt")
    assert loaded.registry_name == "mgno" and loaded.init_args["resolution"] == [16, 16]
    # evaluated at 32x32 through the native 16x16 grid, and the report says so
    results = json.loads((run / "results.json").read_text())["operator"]
    assert results["resampled"] == {"heat32@32x32": {"grid": [32, 32], "native": [16, 16]}}
    assert "tied to its 16x16 training grid" in (run / "report.md").read_text()
