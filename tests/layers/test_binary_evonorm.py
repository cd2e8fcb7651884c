import math

import pytest
import torch

from specops.layers.block_options import BiPer, EvoNormB0, EvoNormS0, binarize_
from specops.layers.mlp import ChannelMLP
from tests.helpers import assert_close


def test_biper_forward_is_the_scaled_sign_of_the_sine_and_backward_its_derivative():
    w = torch.tensor([[0.3, -1.0, 2.5, -0.1], [1.2, 0.0, -3.0, 0.7]], dtype=torch.float64, requires_grad=True)
    omega = 2.0
    out = BiPer(omega)(w)
    alpha = w.detach().abs().mean(1, keepdim=True)
    assert_close(out, alpha * torch.sign(torch.sin(omega * w.detach())), rtol=0, atol=0)
    assert set(torch.unique(out / alpha).tolist()) <= {-1.0, 0.0, 1.0}
    g = torch.randn_like(w)
    out.backward(g)
    assert_close(w.grad, g * alpha * omega * torch.cos(omega * w.detach()), rtol=1e-14, atol=0)


def test_binarize_keeps_latent_weights_in_the_state_dict_and_round_trips():
    torch.manual_seed(0)
    mlp = binarize_(ChannelMLP(3, 3, 4))
    x = torch.randn(2, 3, 5)
    w = mlp.layers[0].weight
    assert all(torch.unique(row.abs()).numel() == 1 for row in w)  # one magnitude per row
    again = binarize_(ChannelMLP(3, 3, 4))
    again.load_state_dict(mlp.state_dict())
    assert torch.equal(again(x), mlp(x))
    assert any("original" in k for k in mlp.state_dict())
    with pytest.raises(ValueError, match="omega=0 must be positive"):
        BiPer(0)


def test_evonorm_b0_definition_and_running_variance():
    torch.manual_seed(1)
    x = torch.randn(4, 3, 5, 6, dtype=torch.float64)
    norm = EvoNormB0(3).double()
    with torch.no_grad():
        norm.v.copy_(torch.tensor([0.5, -1.0, 2.0]))
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        norm.bias.copy_(torch.tensor([0.1, 0.0, -0.3]))
    y = norm(x)
    for c in range(3):
        xc = x[:, c]
        sb = torch.sqrt(xc.var(unbiased=False) + 1e-5)
        si = torch.sqrt(xc.reshape(4, -1).var(1, unbiased=False) + 1e-5)[:, None, None]
        ref = xc / torch.maximum(sb, norm.v[c] * xc + si) * norm.weight[c] + norm.bias[c]
        assert_close(y[:, c], ref, rtol=1e-12, atol=1e-13)
    expected = 0.9 + 0.1 * x.transpose(0, 1).reshape(3, -1).var(1)
    assert_close(norm.running_var, expected, rtol=1e-12, atol=0)
    norm.eval()
    sb = torch.sqrt(norm.running_var + 1e-5).reshape(1, 3, 1, 1)
    si = torch.sqrt(x.reshape(4, 3, -1).var(-1, unbiased=False) + 1e-5).reshape(4, 3, 1, 1)
    v, g, b = (t.reshape(1, 3, 1, 1) for t in (norm.v, norm.weight, norm.bias))
    assert_close(norm(x), x / torch.maximum(sb, v * x + si) * g + b, rtol=1e-12, atol=1e-13)


def test_evonorm_s0_definition():
    torch.manual_seed(2)
    x = torch.randn(2, 6, 4, 3, dtype=torch.float64)
    norm = EvoNormS0(6, groups=3).double()
    with torch.no_grad():
        norm.v.normal_()
    y = norm(x)
    for group in range(3):
        xs = x[:, 2 * group : 2 * group + 2]
        std = torch.sqrt(xs.reshape(2, -1).var(1, unbiased=False) + 1e-5).reshape(2, 1, 1, 1)
        v = norm.v[2 * group : 2 * group + 2].reshape(1, 2, 1, 1)
        assert_close(
            y[:, 2 * group : 2 * group + 2], xs * torch.sigmoid(v * xs) / std, rtol=1e-12, atol=1e-13
        )
    assert EvoNormS0(48).groups == 24 and EvoNormS0(64).groups == 32
    with pytest.raises(ValueError, match="groups=4 must divide channels=6"):
        EvoNormS0(6, groups=4)
    assert math.isfinite(norm(torch.zeros(1, 6, 2, 2, dtype=torch.float64)).sum().item())
