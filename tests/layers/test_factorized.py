import pytest
import torch

from specops.layers.factorized import CPWeight, TTWeight, TuckerWeight
from specops.layers.spectral_weight import DenseWeight
from tests.helpers import assert_close

MODES = (6, 4)


@pytest.mark.parametrize("cls", [CPWeight, TuckerWeight, TTWeight])
def test_factorized_contraction_equals_dense_einsum_in_float64(cls, monkeypatch):
    torch.manual_seed(0)
    w = cls(5, 3, MODES, rank=0.4).double()
    dense = w.to_dense()
    assert dense.shape == (5, 3, *MODES)
    x = torch.randn(2, 5, *MODES, dtype=torch.complex128)
    expected = torch.einsum("bixy,ioxy->boxy", x, dense)
    # the factorized forward must contract with the factors, never rebuild the dense tensor
    monkeypatch.setattr(cls, "to_dense", lambda *a, **k: (_ for _ in ()).throw(AssertionError("dense built")))
    assert_close(w.contract(x, None), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls", [CPWeight, TuckerWeight, TTWeight])
@pytest.mark.parametrize("rank", [0.05, 0.2, 0.5])
def test_rank_is_a_fraction_of_the_dense_parameter_count(cls, rank):
    w = cls(32, 32, (16, 9), rank=rank)
    n = sum(p.numel() for p in w.parameters())
    dense = 2 * 32 * 32 * 16 * 9
    assert 0.5 * rank * dense <= n <= 1.2 * rank * dense, (n, rank * dense)


@pytest.mark.parametrize("cls", [DenseWeight, CPWeight, TuckerWeight, TTWeight])
def test_grow_zero_pads_the_new_modes(cls):
    torch.manual_seed(1)
    w = cls(2, 2, (4, 3)) if cls is DenseWeight else cls(2, 2, (4, 3), rank=0.5)
    old = w.to_dense().detach().clone()
    w.grow((8, 5))
    new = w.to_dense().detach()
    assert new.shape == (2, 2, 8, 5)
    # centered storage on the first axis: old frequencies -2..1 sit at indices 2..5 of -4..3
    assert_close(new[:, :, 2:6, :3], old, atol=1e-6, rtol=0)
    mask = torch.ones_like(new, dtype=torch.bool)
    mask[:, :, 2:6, :3] = False
    assert new[mask].abs().max() < 1e-12


def test_initial_scale_matches_requested_std():
    torch.manual_seed(0)
    for cls in (DenseWeight, CPWeight, TuckerWeight, TTWeight):
        kwargs = {} if cls is DenseWeight else {"rank": 0.3}
        w = cls(32, 32, (8, 5), init_std=0.1, **kwargs)
        std = w.to_dense().abs().pow(2).mean().sqrt().item()
        assert 0.03 < std < 0.3, (cls.__name__, std)
