import itertools

import pytest
import torch
import torch.nn.functional as F

from specops.layers.fdconv import FDConv
from specops.layers.local_conv import WeightedConv, periodic_conv
from tests.helpers import assert_close


def test_fdconv_group_kernels_are_disjoint_in_frequency_and_sum_to_the_full_kernel():
    torch.manual_seed(0)
    conv = FDConv(3, 4, 2, kernel_size=3, n_groups=6).double()
    kernels = conv.group_kernels()
    assert kernels.shape == (conv.n_groups, 4, 3, 3, 3)
    assert_close(kernels.sum(0), conv.full_kernel(), rtol=1e-12, atol=1e-14)
    masks = conv.group_masks
    assert torch.equal(masks.sum(0), torch.ones_like(masks[0]))  # a partition of the frequencies
    for g in range(conv.n_groups):
        mat = kernels[g].permute(0, 2, 1, 3).reshape(conv.matrix_shape)  # (C_out k, C_in k)
        spec = torch.fft.rfft2(mat)
        outside = spec * (1 - masks[g])
        assert outside.abs().max() < 1e-13
        assert (spec * masks[g]).abs().max() > 1e-3


def test_fdconv_starts_as_the_periodic_convolution_with_its_kernel():
    torch.manual_seed(1)
    conv = FDConv(2, 3, 2, n_groups=4, n_bands=3).double()
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 2, 8, 6, dtype=torch.float64)
    assert_close(conv(x), periodic_conv(x, conv.full_kernel(), conv.bias), rtol=1e-11, atol=1e-12)
    masks = conv.band_masks((8, 6), "cpu")
    assert torch.equal(masks.sum(0), torch.ones(8, 6, dtype=masks.dtype))


def test_fdconv_band_modulation_scales_each_band():
    torch.manual_seed(2)
    conv = FDConv(2, 2, 1, n_groups=3, n_bands=2).double()
    with torch.no_grad():
        conv.band_attention.bias.copy_(torch.tensor([0.0, 50.0]))  # A_0 = 1, A_1 = 2
    x = torch.randn(1, 2, 16, dtype=torch.float64)
    z = periodic_conv(x, conv.full_kernel())
    zh = torch.fft.fft(z)
    high = torch.fft.fftfreq(16).abs() * 2 >= 0.5
    expected = torch.fft.ifft(zh * (1 + high)).real
    assert_close(conv(x), expected, rtol=1e-10, atol=1e-12)


def test_fdconv_gradients_reach_every_part():
    torch.manual_seed(3)
    conv = FDConv(2, 2, 2, n_groups=3)
    for p in (conv.group_attention.weight, conv.global_modulation.weight, conv.band_attention.weight):
        torch.nn.init.normal_(p, 0, 0.1)
    conv(torch.randn(2, 2, 6, 6)).square().sum().backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for n, p in conv.named_parameters() if "local" not in n
    )


def test_uniform_weighted_convolution_is_the_plain_convolution():
    torch.manual_seed(4)
    conv = WeightedConv(3, 2, 2, kernel_size=5).double()
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    expected = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="circular"), conv.weight, conv.bias)
    assert_close(conv(x), expected, rtol=1e-12, atol=1e-13)


def test_weighted_convolution_weights_each_neighbour_by_the_density():
    torch.manual_seed(5)
    conv = WeightedConv(1, 1, 2, kernel_size=3, density=[0.25]).double()
    x = torch.randn(1, 1, 5, 4, dtype=torch.float64)
    r = {-1: 0.25, 0: 1.0, 1: 0.25}
    expected = torch.full((5, 4), conv.bias.item(), dtype=torch.float64)
    for i, j, a, b in itertools.product(range(5), range(4), (-1, 0, 1), (-1, 0, 1)):
        expected[i, j] += r[a] * r[b] * conv.weight[0, 0, a + 1, b + 1] * x[0, 0, (i + a) % 5, (j + b) % 4]
    assert_close(conv(x)[0, 0], expected, rtol=1e-12, atol=1e-13)
    learned = WeightedConv(1, 1, 1, kernel_size=5, density=[0.5, 0.1], learn_density=True)
    learned(torch.randn(1, 1, 9)).sum().backward()
    assert learned.density.grad is not None and learned.density.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"density=\[0.5\] must give 2 values"):
        WeightedConv(1, 1, 1, kernel_size=5, density=[0.5])
    with pytest.raises(ValueError, match="kernel_size=4 must be an odd"):
        WeightedConv(1, 1, 1, kernel_size=4)


def test_radius_groups_do_not_depend_on_the_default_device():
    from specops.layers.fdconv import radial_groups

    with torch.device("meta"):
        on_meta = radial_groups(12, 12, 4)
    assert torch.equal(on_meta, radial_groups(12, 12, 4)) and int(on_meta.max()) == 3
