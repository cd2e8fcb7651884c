"""Space-time layers of the SFNO: the convolution agrees with SpectralConv, resamples time exactly, grows
without changing its output; the encoding is the formula it states."""

from __future__ import annotations

import math

import pytest
import torch

from specops.layers import SpectralConv
from specops.layers.spacetime import SpaceTimeConv, SpaceTimeEncoding
from specops.spectral.fft import irfft_modes, rfft_modes
from tests.helpers import assert_close


def randomize(conv):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in conv.parameters():
            p.normal_()
    return conv


def band_limited(shape, keep):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64)
    return irfft_modes(rfft_modes(x, keep), shape[-len(keep) :])


def test_same_steps_without_padding_is_the_spectral_conv_over_space_and_time():
    torch.manual_seed(0)
    st = SpaceTimeConv(3, 2, (6, 4, 5)).double()
    ref = SpectralConv(3, 2, (6, 4, 5)).double()
    ref.load_state_dict(randomize(st).state_dict())
    x = torch.randn(2, 3, 12, 10, 9, dtype=torch.float64)
    assert_close(st(x), ref(x), atol=1e-13, rtol=0)


def test_output_steps_sample_the_same_trigonometric_polynomial_in_time():
    # a field band-limited in space and time: T and 2T output steps are the same function of time
    conv = randomize(SpaceTimeConv(2, 2, (6, 7), source_scale=0.3)).double()
    x = band_limited((2, 2, 16, 12), (6, 7))
    y12, y24 = conv(x), conv(x, out_steps=24)
    assert y24.shape == (2, 2, 16, 24)
    assert_close(y24[..., ::2], y12, atol=1e-12, rtol=0)


def test_growing_the_modes_with_zeros_leaves_the_output_unchanged():
    conv = randomize(SpaceTimeConv(2, 1, (6, 6, 5), source_scale=0.1, temporal_padding=True)).double()
    x = torch.randn(3, 2, 16, 16, 6, dtype=torch.float64)
    before = conv(x, out_steps=8)
    conv.n_modes = (16, 16, 24)
    assert conv.source.shape == (1, 16, 16, 13, 2) and conv.max_n_modes == (16, 16, 24)
    assert_close(conv(x, out_steps=8), before, atol=1e-12, rtol=0)
    # and the new modes are live: a nonzero high-mode weight changes the output
    with torch.no_grad():
        conv.source[0, 0, 0, 0] = 1.0
    assert (conv(x, out_steps=8) - before).abs().max() > 1e-3


def test_temporal_padding_is_zeros_before_the_trajectory():
    conv = randomize(SpaceTimeConv(1, 1, (6, 5), temporal_padding=True)).double()
    plain = SpaceTimeConv(1, 1, (6, 5)).double()
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, 1, 12, 7, dtype=torch.float64)
    padded = torch.cat([torch.zeros_like(x), x], dim=-1)
    assert_close(conv(x, out_steps=5), plain(padded, out_steps=12)[..., -5:], atol=1e-13, rtol=0)


def test_short_time_axes_use_the_modes_they_hold_and_bad_inputs_are_named():
    conv = SpaceTimeConv(1, 1, (4, 9))
    assert conv.used_modes((8,), 3, 40) == (4, 3)
    assert conv(torch.randn(1, 1, 8, 3), out_steps=5).shape == (1, 1, 8, 5)
    with pytest.raises(ValueError, match="expected \\(batch, 1, 1 spatial axes, time\\)"):
        conv(torch.randn(1, 2, 8, 3))
    with pytest.raises(ValueError, match="too coarse"):
        conv(torch.randn(1, 1, 2, 3))
    with pytest.raises(ValueError, match="out_steps=0"):
        conv(torch.randn(1, 1, 8, 3), out_steps=0)
    with pytest.raises(ValueError, match="at least one spatial axis and time"):
        SpaceTimeConv(1, 1, (4,))


def test_encoding_is_coordinates_and_damped_waves():
    enc = SpaceTimeEncoding(2, 2, beta=0.5)
    pe = enc((4, 6), 5, torch.float64, torch.device("cpu"))
    assert pe.shape == (2 + 4, 4, 6, 5)
    i, j, n = 3, 2, 4
    t = (n + 1) / 5
    expected = [i / 4, j / 6]
    for k in (1, 2):
        expected += [
            math.exp(0.5 * t) * math.sin(math.pi * k * t),
            math.exp(0.5 * t) * math.cos(math.pi * k * t),
        ]
    assert_close(pe[:, i, j, n], torch.tensor(expected, dtype=torch.float64), atol=1e-15, rtol=0)
