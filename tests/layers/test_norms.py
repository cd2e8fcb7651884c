import pytest
import torch
import torch.nn.functional as F

from specops.layers import ChannelLayerNorm, InstanceNorm
from specops.layers.norms import norm_factory
from tests.helpers import assert_close


@pytest.mark.parametrize("space", [(7,), (5, 6), (3, 4, 5)])
def test_channel_layer_norm_is_layer_norm_over_channels_at_each_point(space):
    torch.manual_seed(0)
    norm = ChannelLayerNorm(4).double()
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = 3.0 + 2.0 * torch.randn(2, 4, *space, dtype=torch.float64)
    expected = F.layer_norm(x.movedim(1, -1), (4,), norm.weight, norm.bias, norm.eps).movedim(-1, 1)
    assert_close(norm(x), expected, atol=1e-13, rtol=0)


def test_instance_norm_normalizes_each_channel_over_space():
    x = 1.5 + 4.0 * torch.randn(3, 2, 6, 5, dtype=torch.float64)
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    assert_close(InstanceNorm()(x), (x - mean) / torch.sqrt(var + 1e-5), atol=1e-13, rtol=0)


def test_group_norm_is_one_group_over_channels_and_space():
    torch.manual_seed(1)
    norm = norm_factory("group", 4)().double()
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    var = x.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
    shape = (1, 4, 1, 1)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * norm.weight.reshape(shape) + norm.bias.reshape(shape)
    assert_close(norm(x), expected, atol=1e-13, rtol=0)


def test_norm_factory_resolves_names_once():
    assert norm_factory("none", 4) is None
    make = norm_factory("layer", 4)
    a, b = make(), make()
    assert isinstance(a, ChannelLayerNorm) and a is not b and a.weight.shape == (4,)
    with pytest.raises(ValueError, match=r"norm='batch' is not one of"):
        norm_factory("batch", 4)
