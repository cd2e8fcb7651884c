import pytest
import torch

import specops
from specops.layers import CPWeight, DenseWeight, SpectralWeightSpec, TTWeight, TuckerWeight
from specops.layers.spectral_weight import mode_slices
from specops.registry import SPECTRAL_WEIGHTS
from tests.helpers import assert_close


def test_dense_storage_is_modes_first_but_to_dense_is_channels_first():
    w = DenseWeight(3, 2, (4, 3)).double()
    assert w.weight.shape == (4, 3, 3, 2, 2)
    assert w.to_dense().shape == (3, 2, 4, 3)
    x = torch.randn(5, 3, 4, 3, dtype=torch.complex128)
    assert_close(w.contract(x, None), torch.einsum("bixy,ioxy->boxy", x, w.to_dense()), atol=1e-13, rtol=0)


def test_mode_slices_take_the_centered_subset_and_the_leading_last_axis():
    # stored frequencies -4..3 on the first axis; using 4 of them keeps -2..1 (indices 2..5)
    assert mode_slices((8, 5), (4, 3)) == (slice(2, 6), slice(0, 3))
    with pytest.raises(ValueError, match="only 5 are stored"):
        mode_slices((8, 5), (4, 6))


@pytest.mark.parametrize(
    ("factorization", "cls"),
    [
        (None, DenseWeight),
        ("dense", DenseWeight),
        ("cp", CPWeight),
        ("TUCKER", TuckerWeight),
        ("tt", TTWeight),
    ],
)
def test_spec_builds_the_named_class_with_its_options(factorization, cls):
    spec = SpectralWeightSpec(factorization=factorization, rank=0.5, separable=True)
    w = spec(4, 4, (6, 4), 0.3)
    assert type(w) is cls and w.separable and w.modes == (6, 4)
    if cls is not DenseWeight:  # the rank reached the factors: about half the dense parameter count
        n = sum(p.numel() for p in w.parameters())
        assert 0.25 * w.dense_numel <= n <= 0.6 * w.dense_numel, n


def test_spec_validates_when_made():
    with pytest.raises(ValueError, match=r"factorization='qr' is not one of \(None, 'cp', 'dense', 'tt'"):
        SpectralWeightSpec(factorization="qr")
    with pytest.raises(ValueError, match=r"rank=2.0 must be a fraction"):
        SpectralWeightSpec(factorization="cp", rank=2.0)
    with pytest.raises(TypeError, match=r"rank='0.1' must be a number"):
        SpectralWeightSpec(factorization="cp", rank="0.1")
    with pytest.raises(TypeError, match=r"separable=1 must be true or false"):
        SpectralWeightSpec(separable=1)
    assert SpectralWeightSpec(rank=2.0).weight_class is DenseWeight  # rank does not apply to dense weights


class _HalfDense(DenseWeight):
    """A dense weight scaled by 1/2: a stand-in for a new weight type."""

    def to_dense(self, slices=None):
        return 0.5 * super().to_dense(slices)

    def _contract(self, x, slices):
        return 0.5 * super()._contract(x, slices)

    def contract_real(self, x, slices):
        return 0.5 * super().contract_real(x, slices)


@pytest.fixture
def half_dense():
    SPECTRAL_WEIGHTS.register("test-half-dense", _HalfDense)
    yield "test-half-dense"
    SPECTRAL_WEIGHTS.unregister("test-half-dense")


def test_a_registered_weight_type_reaches_models_and_checkpoints_with_no_other_change(half_dense, tmp_path):
    torch.manual_seed(0)
    model = specops.create_model(
        "fno", n_modes=(4, 4), hidden_channels=4, n_layers=2, spectral={"factorization": half_dense}
    )
    assert all(type(b.conv.weight) is _HalfDense for b in model.blocks)
    torch.manual_seed(0)
    dense = specops.create_model("fno", n_modes=(4, 4), hidden_channels=4, n_layers=2)
    dense.load_state_dict(model.state_dict())
    conv, ref = model.blocks[0].conv, dense.blocks[0].conv
    x = torch.randn(2, 4, 8, 8)
    bias = conv.bias.reshape(1, -1, 1, 1)
    assert_close(conv(x) - bias, 0.5 * (ref(x) - bias), atol=1e-6, rtol=0)
    again = specops.load(specops.save(model, tmp_path / "m.pt"))
    y = torch.randn(1, 1, 8, 8)
    assert type(again.blocks[0].conv.weight) is _HalfDense and torch.equal(again(y), model(y))
