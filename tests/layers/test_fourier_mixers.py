import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from specops.layers.fourier_mixers import AFFMixer, FFCMixer, FourierUnit, spectrum
from tests.helpers import assert_close


def circular_conv_direct(x, kernel):
    """y_c(i) = sum_j K_c(j) x_c(i - j) by explicit loops (depthwise, any dimension)."""
    space = x.shape[2:]
    y = torch.zeros_like(x)
    for i in itertools.product(*[range(n) for n in space]):
        for j in itertools.product(*[range(n) for n in space]):
            src = tuple((a - b) % n for a, b, n in zip(i, j, space))
            y[(slice(None), slice(None), *i)] += (
                kernel[(slice(None), *j)] * x[(slice(None), slice(None), *src)]
            )
    return y


@pytest.mark.parametrize("space", [(8,), (5, 4)])
def test_aff_is_a_circular_convolution_with_its_implied_kernel(space):
    torch.manual_seed(0)
    aff = AFFMixer(4, groups=2).double()
    for p in aff.parameters():
        torch.nn.init.normal_(p, 0, 0.7)  # a mask far from the identity start
    x = torch.randn(1, 4, *space, dtype=torch.float64)
    px = aff.project(x)
    mask = aff.mask(spectrum(px))[0]
    kernel = torch.fft.ifftn(mask, dim=tuple(range(1, mask.dim()))).real
    assert_close(aff(x), circular_conv_direct(px, kernel), rtol=1e-10, atol=1e-12)


def test_aff_starts_as_its_projection_and_groups_mix_only_their_channels():
    torch.manual_seed(1)
    aff = AFFMixer(6, groups=3).double()
    x = torch.randn(2, 6, 7, 6, dtype=torch.float64)
    assert_close(aff(x), aff.project(x), rtol=1e-12, atol=1e-13)
    torch.nn.init.normal_(aff.mask_out.weight)
    spec = spectrum(torch.randn(1, 6, 4, 4, dtype=torch.complex128).real)
    base = aff.mask(spec)
    bumped = spec.clone()
    bumped[:, 0] += 1.0  # channel 0 belongs to group 0 (channels 0, 1)
    changed = (aff.mask(bumped) - base).abs().flatten(2).amax(-1)[0]
    assert changed[:2].min() > 0 and changed[2:].max() == 0
    with pytest.raises(ValueError, match="groups=4 must divide channels=6"):
        AFFMixer(6, groups=4)


def test_ffc_local_paths_are_the_explicit_block_convolution():
    torch.manual_seed(2)
    ffc = FFCMixer(5, 2, ratio=0.4, kernel_size=3).double()
    torch.nn.init.zeros_(ffc.spectral_out.weight)  # leave out the spectral path: the rest is one convolution
    nl = ffc.n_local
    w = torch.zeros(5, 5, 3, 3, dtype=torch.float64)
    w[:nl, :nl], w[:nl, nl:] = ffc.local_to_local.weight, ffc.global_to_local.weight
    w[nl:, :nl] = ffc.local_to_global.weight
    bias = torch.cat([ffc.local_to_local.bias, ffc.local_to_global.bias])
    x = torch.randn(2, 5, 6, 7, dtype=torch.float64)
    expected = torch.zeros(2, 5, 6, 7, dtype=torch.float64) + bias.reshape(1, -1, 1, 1)
    for i, j, a, b in itertools.product(range(6), range(7), range(3), range(3)):
        expected[:, :, i, j] += x[:, :, (i + a - 1) % 6, (j + b - 1) % 7] @ w[:, :, a, b].T
    assert_close(ffc(x), expected, rtol=1e-11, atol=1e-12)


def test_fourier_unit_equals_explicit_dft_matrices():
    torch.manual_seed(3)
    fu = FourierUnit(2).double()
    h = torch.randn(1, 2, 6, 5, dtype=torch.float64)
    n1, n2 = 6, 5
    e1 = torch.exp(-2j * math.pi * torch.outer(torch.arange(n1), torch.arange(n1)).double() / n1)
    e2 = torch.exp(-2j * math.pi * torch.outer(torch.arange(n2), torch.arange(n2)).double() / n2)
    spec = torch.einsum("ka,lb,cab->ckl", e1, e2, h[0].to(torch.complex128)) / (n1 * n2)
    z = torch.cat([spec.real, spec.imag]).reshape(4, -1)
    z = F.relu(fu.weight.weight @ z).reshape(4, n1, n2)
    back = torch.einsum("ka,lb,ckl->cab", e1.conj(), e2.conj(), torch.complex(z[:2], z[2:])).real
    assert_close(fu(h)[0], back, rtol=1e-11, atol=1e-12)


def test_ffc_refuses_another_resolution_and_keeps_its_own_after_loading():
    torch.manual_seed(4)
    ffc = FFCMixer(4, 2)
    ffc(torch.randn(1, 4, 8, 8))
    with pytest.raises(ValueError, match=r"cannot change resolution: it was built for the grid \(8, 8\)"):
        ffc(torch.randn(1, 4, 16, 16))
    again = FFCMixer(4, 2)
    again.load_state_dict(ffc.state_dict())
    with pytest.raises(ValueError, match="cannot change resolution"):
        again(torch.randn(1, 4, 16, 16))
    with pytest.raises(ValueError, match=r"ratio=1\.0 must lie strictly between"):
        FFCMixer(4, 2, ratio=1.0)
