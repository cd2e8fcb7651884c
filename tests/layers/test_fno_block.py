import pytest
import torch
import torch.nn.functional as F

from specops.layers import ChannelMLP, FNOBlock, FNOBlockSpec, PointwiseLinear, SpectralConv
from tests.helpers import assert_close


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


def naive_block(block: FNOBlock, spec: FNOBlockSpec, x: torch.Tensor, last: bool) -> torch.Tensor:
    """Unfused reference of the post-activation block (neuraloperator's order of operations), reading
    the skip kinds from the plain options rather than from the modules they were resolved to."""
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
    h = h + skip(spec.skip, block.skip, x)
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
        h = m + skip(spec.channel_mlp_skip, block.mlp_skip, x)
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
    spec = FNOBlockSpec(skip=skip, channel_mlp_skip=mlp_skip, norm=norm)
    block = spec.build(4, SpectralConv(4, 4, (6, 6)), F.gelu).double()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 4, 12, 10, dtype=torch.float64, requires_grad=True)
    fused, naive = block(x, last=last), naive_block(block, spec, x, last)
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
    spec = FNOBlockSpec(channel_mlp_expansion=0)
    block = spec.build(4, SpectralConv(4, 4, (6,))).double()
    assert block.mlp is None and block.mlp_skip is None
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    assert_close(block(x), naive_block(block, spec, x, False), atol=1e-12, rtol=0)


def test_block_options_are_validated_when_the_spec_is_made():
    with pytest.raises(ValueError, match=r"skip='gated' is not one of"):
        FNOBlockSpec(skip="gated")
    with pytest.raises(ValueError, match=r"channel_mlp_skip='gated' is not one of"):
        FNOBlockSpec(channel_mlp_skip="gated")
    with pytest.raises(ValueError, match=r"norm='batch' is not one of"):
        FNOBlockSpec(norm="batch")
    with pytest.raises(TypeError, match=r"channel_mlp_expansion='half' must be a number"):
        FNOBlockSpec(channel_mlp_expansion="half")
    with pytest.raises(ValueError, match=r"block has no option 'nrom'.*Did you mean 'norm'"):
        FNOBlockSpec.coerce({"nrom": "layer"}, "block")


def test_block_takes_any_mixer_and_activation():
    """The block composes the objects it is given: y = act(K x + S x) with K any module."""
    torch.manual_seed(0)
    mixer = PointwiseLinear(3, 3).double()  # a stand-in for a non-spectral mixer
    block = FNOBlock(mixer, None, activation=torch.tanh)
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    assert_close(block(x), torch.tanh(mixer(x)), atol=1e-14, rtol=0)
    assert_close(block(x, last=True), mixer(x), atol=1e-14, rtol=0)


def test_channel_mlp_equals_stacked_1x1_convolutions():
    mlp = ChannelMLP(3, 2, 8).double()  # activation: F.gelu
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    ref = F.conv1d(
        F.gelu(F.conv1d(x, mlp.layers[0].weight[..., None], mlp.layers[0].bias)),
        mlp.layers[1].weight[..., None],
        mlp.layers[1].bias,
    )
    assert_close(mlp(x), ref, atol=1e-13, rtol=0)
