import pytest
import torch

from specops.spectral import grid_coordinates, wavenumbers


def test_periodic_grid_excludes_right_end():
    (x,) = grid_coordinates((4,), 2.0, dtype=torch.float64)
    assert x.tolist() == [0.0, 0.5, 1.0, 1.5]


def test_wavenumbers_match_fftfreq():
    k = wavenumbers(8, length=2.0)
    assert torch.allclose(k, 2 * torch.pi / 2.0 * torch.fft.fftfreq(8, 1 / 8).double())
    assert wavenumbers(8, real=True).numel() == 5


def test_lengths_must_match_dimensions():
    with pytest.raises(ValueError, match="lengths"):
        grid_coordinates((4, 4), [1.0, 2.0, 3.0])
