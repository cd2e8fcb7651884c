import pytest
import torch

import specops
from specops.models.factformer import IFactFormer, rotary
from tests.helpers import assert_close


def test_rotary_scores_depend_on_the_position_difference_only():
    torch.manual_seed(0)
    q, k = torch.randn(1, 6, dtype=torch.float64), torch.randn(1, 6, dtype=torch.float64)
    at = lambda p: torch.tensor([p], dtype=torch.float64)  # noqa: E731
    a = rotary(q, at(0.1)) @ rotary(k, at(0.35)).T
    b = rotary(q, at(0.6)) @ rotary(k, at(0.85)).T
    assert_close(a, b, atol=1e-14)


@pytest.mark.parametrize("combine", ["parallel", "chained"])
def test_without_coordinates_the_model_commutes_with_periodic_shifts(combine):
    """Mean-pooled axis sequences, rotary kernels (functions of x - x'), pointwise layers and instance norm
    commute with a periodic shift of the grid; the Fourier features of the coordinates are what break it."""
    torch.manual_seed(0)
    model = IFactFormer(3, 3, 3, 16, 3, heads=2, head_channels=4, combine=combine, positional_frequencies=0)
    model = model.double()
    x = torch.randn(2, 3, 8, 6, 4, dtype=torch.float64)
    shifted = model(torch.roll(x, shifts=(3, 2), dims=(2, 3)))
    assert_close(shifted, torch.roll(model(x), shifts=(3, 2), dims=(2, 3)), atol=1e-12)
    with_coordinates = IFactFormer(3, 3, 3, 16, 3, heads=2, head_channels=4, combine=combine).double()
    y = with_coordinates(torch.roll(x, 3, dims=2))
    assert (y - torch.roll(with_coordinates(x), 3, dims=2)).abs().max() > 1e-6


def test_parallel_and_chained_differ_and_bad_input_is_refused():
    torch.manual_seed(0)
    m = specops.create_model("ifactformer-m-3d", hidden_channels=8, n_layers=2)
    torch.manual_seed(0)
    o = specops.create_model("ifactformer-o-3d", hidden_channels=8, n_layers=2)
    x = torch.randn(1, 3, 8, 8, 8)
    assert not torch.allclose(m(x), o(x))
    with pytest.raises(ValueError, match="4 axes"):
        m(torch.randn(1, 3, 8, 8))  # a 2D file's fields given to the 3D model
    with pytest.raises(ValueError, match="combine"):
        IFactFormer(combine="serial")
    with pytest.raises(ValueError, match="even"):
        IFactFormer(head_channels=3)
