"""Mixers chosen by name in the FNO, the BiPer/EvoNorm block options, and the FNO on irregular points."""

import pytest
import torch

import specops
from specops import FNO
from specops.config import load_config
from specops.layers.mixers import MIXERS, mixer_options
from specops.models.fno_variants import NUFTFNO, grid_points
from specops.pipeline.build import adapt_to_data
from tests.helpers import assert_close

SMALL = {
    "spectral": {},
    "aff": {"groups": 2},
    "ffc": {},
    "fdconv": {"n_groups": 4},
    "weighted-conv": {"density": [0.5], "learn_density": True},
    "rpe-attention": {"heads": 2, "features": 4},
    "karat": {"heads": 2, "order": 3, "landmarks": 4},
}


@pytest.mark.parametrize("mixer", list(MIXERS))
@pytest.mark.parametrize("n_modes", [(4,), (4, 4)])
def test_every_mixer_builds_runs_and_round_trips(mixer, n_modes, tmp_path):
    torch.manual_seed(0)
    model = FNO(n_modes, 1, 1, 8, 2, mixer=mixer, mixer_options=SMALL[mixer])
    x = torch.randn(2, 1, *([12] * len(n_modes)))
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    again = specops.load(specops.save(model, tmp_path / "m.pt"))
    assert again.init_args["mixer"] == mixer
    # equal weights; oneDNN may pick another kernel for the same convolution (FDConv's per-sample
    # grouped one) depending on memory alignment, hence a float32 round-off tolerance, not equality
    assert_close(again(x), y, rtol=1e-5, atol=1e-6)
    y.square().mean().backward()
    assert all(p.grad is not None for p in model.blocks.parameters() if p.requires_grad)
    if not MIXERS[mixer].resolution_free:  # the recorded grid survives the round trip
        with pytest.raises(ValueError, match=r"cannot change resolution: it was built for the grid \(12"):
            again(torch.randn(2, 1, *([24] * len(n_modes))))


def test_default_mixer_is_the_spectral_convolution_of_before():
    torch.manual_seed(1)
    a = FNO((6, 6), 1, 1, 8, 2)
    torch.manual_seed(1)
    b = FNO((6, 6), 1, 1, 8, 2, mixer="spectral")
    x = torch.randn(1, 1, 16, 16)
    assert torch.equal(a(x), b(x)) and a.n_parameters == b.n_parameters


def test_mixer_names_and_options_are_checked():
    with pytest.raises(ValueError, match=r"mixer='afff' is not a mixer; valid: spectral, aff, ffc"):
        FNO((4,), mixer="afff")
    with pytest.raises(ValueError, match=r"mixer_options has 'head'.*valid: heads, features"):
        FNO((4,), mixer="rpe-attention", mixer_options={"head": 2})
    with pytest.raises(ValueError, match=r"mixer 'spectral' does not take; valid: none"):
        FNO((4,), mixer_options={"heads": 2})
    assert "activation" not in mixer_options("ffc") and "ratio" in mixer_options("ffc")


def test_mixer_is_a_config_key():
    cfg = load_config(None, ["model.args.n_modes=4", "model.args.hidden_channels=8", "model.args.mixer=aff"])
    cfg, _ = adapt_to_data(cfg, in_channels=1, out_channels=1, shape=(8, 8))
    model = specops.create_model(cfg.model.name, **cfg.model.args)
    assert type(model.blocks[0].conv).__name__ == "AFFMixer"


def test_biper_and_evonorm_block_options(tmp_path):
    torch.manual_seed(2)
    model = FNO((4, 4), 1, 1, 8, 2, block={"weights": "biper", "norm": "evonorm-s0"})
    skip_w = model.blocks[0].skip.weight
    assert all(torch.unique(row.abs()).numel() == 1 for row in skip_w)  # +-alpha per row
    assert type(model.blocks[0].norms[0]).__name__ == "EvoNormS0"
    x = torch.randn(2, 1, 8, 8)
    again = specops.load(specops.save(model, tmp_path / "b.pt"))
    assert torch.equal(again(x), model(x))
    with pytest.raises(ValueError, match=r"weights='binary' is not one of \('real', 'biper'\)"):
        FNO((4,), block={"weights": "binary"})


def test_nuft_fno_on_the_grid_points_equals_its_grid_path_and_takes_any_points():
    torch.manual_seed(3)
    model = NUFTFNO((5, 5), 1, 1, 8, 2, latent_grid=(12, 12), tol=1e-10).double()
    x = torch.randn(2, 1, 10, 10, dtype=torch.float64)
    on_grid = model(x)
    pts = grid_points((10, 10), torch.float64, "cpu")
    assert_close(model(x.flatten(2), pts), on_grid.flatten(2), rtol=0, atol=1e-12)
    # per-sample scattered points, output at other points
    cloud = torch.rand(2, 150, 2, dtype=torch.float64)
    out_pts = torch.rand(40, 2, dtype=torch.float64)
    y = model(torch.randn(2, 1, 150, dtype=torch.float64), cloud, out_pts)
    assert y.shape == (2, 1, 40) and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="outside the domain"):
        model(torch.randn(1, 1, 3, dtype=torch.float64), torch.tensor([[0.1, 0.2], [0.5, 1.5], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="must be odd"):
        NUFTFNO((5, 5), nuft_modes=(12, 12))


def test_nuft_fno_output_is_the_band_limited_interpolation_of_its_latent_output():
    torch.manual_seed(4)
    model = NUFTFNO((4, 4), 1, 1, 8, 1, latent_grid=(9, 9), tol=1e-12).double()
    x = torch.randn(1, 1, 9, 9, dtype=torch.float64)
    latent = model.fno(x)  # on the latent grid itself the input NUFT reproduces x exactly (9 odd modes)
    fine = model(
        x.flatten(2), grid_points((9, 9), torch.float64, "cpu"), grid_points((27, 27), torch.float64, "cpu")
    )
    assert_close(fine.reshape(1, 1, 27, 27)[..., ::3, ::3], latent, rtol=0, atol=1e-10)


def test_a_fixed_resolution_mixer_with_other_evaluation_grids_is_refused_before_training():
    from types import SimpleNamespace

    from specops.config import ConfigError
    from specops.pipeline.build import build_model

    data = SimpleNamespace(kind="operator", in_channels=1, out_channels=1, spatial_shape=(16, 16))
    base = ["model.args.n_modes=4", "model.args.hidden_channels=8", "model.args.mixer=ffc"]
    cfg = load_config(None, [*base, "eval.resolutions=[32]"])
    with pytest.raises(ConfigError, match=r"FFCMixer has kernels of a fixed size.*mixer=spectral, aff"):
        build_model(cfg, data)
    _, model, _ = build_model(load_config(None, [*base, "eval.resolutions=[16]"]), data)
    assert type(model.blocks[0].conv).__name__ == "FFCMixer"


@pytest.mark.parametrize("mixer", list(MIXERS))
@pytest.mark.parametrize("n_modes", [(4,), (4, 4)])
def test_every_mixer_has_the_same_shapes_when_built_on_the_meta_device(mixer, n_modes):
    # specops.load builds the skeleton on the meta device to check shapes: a shape computed from tensor
    # values there (FDConv's radius groups) read uninitialised memory, and loading failed now and then
    def shapes(model):
        return {k: tuple(v.shape) for k, v in model.state_dict().items()}

    args = (n_modes, 1, 1, 8, 2)
    with torch.device("meta"):
        skeleton = FNO(*args, mixer=mixer, mixer_options=SMALL[mixer])
    assert shapes(skeleton) == shapes(FNO(*args, mixer=mixer, mixer_options=SMALL[mixer]))
