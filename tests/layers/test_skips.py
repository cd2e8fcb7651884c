import pytest
import torch

from specops.layers import ChannelMLP, IdentitySkip, LinearSkip, NoSkip, SoftGatingSkip, make_skip
from tests.helpers import assert_close


def _reference(skip, x):
    """``S x`` by its definition, independent of the module's fused paths."""
    if isinstance(skip, LinearSkip):
        return torch.einsum("oi,bi...->bo...", skip.weight, x)
    if isinstance(skip, SoftGatingSkip):
        return skip.weight.reshape(1, -1, 1, 1) * x
    if isinstance(skip, IdentitySkip):
        return x
    return torch.zeros_like(x)


@pytest.mark.parametrize("kind", ["linear", "soft-gating", "identity", "none"])
def test_add_and_around_equal_the_unfused_sums(kind):
    torch.manual_seed(0)
    skip = make_skip(kind, 3).double()
    with torch.no_grad():
        for p in skip.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x, h = torch.randn(2, 3, 5, 4, dtype=torch.float64), torch.randn(2, 3, 5, 4, dtype=torch.float64)
    s = _reference(skip, x)
    assert_close(skip(x), s, atol=1e-14, rtol=0)
    assert_close(skip.add(h, x), h + s, atol=1e-14, rtol=0)
    mlp = ChannelMLP(3, 3, 6).double()
    assert_close(skip.around(mlp, h, x), mlp(h) + s, atol=1e-13, rtol=0)


def test_kinds_and_initial_values():
    assert isinstance(make_skip("none", 3), NoSkip)
    assert torch.equal(make_skip("soft-gating", 3).weight, torch.ones(3))  # starts as the identity
    torch.manual_seed(0)
    w = make_skip("linear", 64).weight
    assert w.abs().max() <= 1 / 8 and w.std() > 0.05  # uniform in +-1/sqrt(C), like nn.Conv1d
    with pytest.raises(ValueError, match=r"channel_mlp_skip='gated' is not one of"):
        make_skip("gated", 3, "channel_mlp_skip")
