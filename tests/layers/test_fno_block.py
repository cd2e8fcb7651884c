import pytest
import torch
import torch.nn.functional as F
from tests.helpers import assert_close

from specops.layers import ChannelMLP, FNOBlock, PointwiseLinear, SoftGating


def test_pointwise_linear_is_a_1x1_convolution():
    torch.manual_seed(0)
    lin = PointwiseLinear(3, 5).double()
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    expected = F.conv2d(x, lin.weight[:, :, None, None], lin.bias)
    assert_close(lin(x), expected, atol=1e-13, rtol=0)
    add = torch.randn(2, 5, 7, 6, dtype=torch.float64)
    assert_close(lin(x, add=add), expected + add, atol=1e-13, rtol=0)
    nobias = PointwiseLinear(3, 5, bias=False).double()
    assert_close(nobias(x), F.conv2d(x, nobias.weight[:, :, None, None]), atol=1e-13, rtol=0)


def naive_block(block: FNOBlock, x: torch.Tensor, last: bool) -> torch.Tensor:
    """Unfused reference of the post-activation block (neuraloperator's order of operations)."""
    act = F.gelu

    def skip(kind, module, t):
        if kind == "linear":
            return torch.einsum("oi,bi...->bo...", module.weight, t)
        if kind == "soft-gating":
            return t * module.weight.reshape(1, -1, *([1] * (t.dim() - 2)))
        if kind == "identity":
            return t
        return torch.zeros_like(t)

    h = block.conv(x)
    if block.norms is not None:
        h = block.norms[0](h)
    h = h + skip(block.skip_kind, block.skip, x)
    if not last:
        h = act(h)
    if block.mlp is not None:
        m = h
        for i, layer in enumerate(block.mlp.layers):
            m = torch.einsum("oi,bi...->bo...", layer.weight, m) + layer.bias.reshape(
                1, -1, *([1] * (m.dim() - 2))
            )
            if i < len(block.mlp.layers) - 1:
                m = act(m)
        h = m + skip(block.mlp_skip_kind, block.mlp_skip, x)
        if block.norms is not None:
            h = block.norms[1](h)
        if not last:
            h = act(h)
    return h


@pytest.mark.parametrize("skip", ["linear", "identity", "soft-gating", "none"])
@pytest.mark.parametrize("mlp_skip", ["linear", "soft-gating", "identity"])
@pytest.mark.parametrize("norm", ["none", "instance", "group", "layer"])
@pytest.mark.parametrize("last", [False, True])
def test_block_matches_unfused_reference(skip, mlp_skip, norm, last):
    torch.manual_seed(0)
    block = FNOBlock(4, (6, 6), skip=skip, channel_mlp_skip=mlp_skip, norm=norm).double()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 4, 12, 10, dtype=torch.float64, requires_grad=True)
    fused, naive = block(x, last=last), naive_block(block, x, last)
    assert_close(fused, naive, atol=1e-12, rtol=0)
    # the fused path accumulates in place: its gradients must equal the unfused ones
    weight = torch.randn_like(fused)
    params = [x, *block.parameters()]
    g_fused = torch.autograd.grad((fused * weight).sum(), params, allow_unused=True)
    g_naive = torch.autograd.grad((naive * weight).sum(), params, allow_unused=True)
    for a, b in zip(g_fused, g_naive):
        if a is None or b is None:
            assert (a is None and b is None) or (a if a is not None else b).abs().max() == 0
            continue
        assert_close(a, b, atol=1e-11, rtol=0)


def test_block_without_channel_mlp():
    block = FNOBlock(4, (6,), channel_mlp_expansion=0).double()
    assert block.mlp is None
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    assert_close(block(x), naive_block(block, x, False), atol=1e-12, rtol=0)


def test_block_options_are_validated():
    with pytest.raises(ValueError, match="skip"):
        FNOBlock(4, (6, 6), skip="gated")
    with pytest.raises(ValueError, match="norm"):
        FNOBlock(4, (6, 6), norm="batch")
    with pytest.raises(ValueError, match="activation"):
        FNOBlock(4, (6, 6), activation="swish2")


def test_channel_mlp_and_soft_gating():
    mlp = ChannelMLP(3, 2, 8).double()
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    ref = F.conv1d(
        F.gelu(F.conv1d(x, mlp.layers[0].weight[..., None], mlp.layers[0].bias)),
        mlp.layers[1].weight[..., None],
        mlp.layers[1].bias,
    )
    assert_close(mlp(x), ref, atol=1e-13, rtol=0)
    gate = SoftGating(3).double()
    assert_close(gate(x), x, atol=0, rtol=0)
