"""The space-time FNO: one map in its two layouts, any number of frames, the skip and the projection it
states, and clear errors."""

from __future__ import annotations

import pytest
import torch

from specops import create_model
from specops.models.sfno import SFNO
from tests.helpers import assert_close


def small(**kw):
    torch.manual_seed(0)
    args = dict(n_modes=[6, 6], in_channels=4, out_channels=6, hidden_channels=6, n_layers=2, time_modes=4)
    return SFNO(**{**args, **kw}).double()


def test_flattened_frames_and_trajectories_are_the_same_map():
    model = small()
    x = torch.randn(2, 4, 1, 12, 12, dtype=torch.float64)
    traj = model(x)
    assert traj.shape == (2, 6, 1, 12, 12)
    assert_close(model(x.reshape(2, 4, 12, 12)), traj.reshape(2, 6, 12, 12), atol=1e-14, rtol=0)
    # any number of frames in and out (the lifting and the output layer resample time)
    assert model.trajectory(torch.randn(1, 9, 1, 12, 12, dtype=torch.float64), out_steps=3).shape == (
        1,
        3,
        1,
        12,
        12,
    )


def test_a_zero_output_layer_leaves_the_last_input_frame():
    """y = u(t_in) + K_out(...): with K_out zero, every output frame is the last input frame."""
    model = small(state_channels=2, in_channels=6, out_channels=4, n_modes=[8])
    with torch.no_grad():
        for p in model.out_conv.parameters():
            p.zero_()
    x = torch.randn(3, 3, 2, 16, dtype=torch.float64)
    y = model(x)
    assert_close(y, x[:, -1:].expand(-1, 2, -1, -1), atol=1e-15, rtol=0)


def test_velocity_outputs_are_divergence_free():
    model = small(state_channels=2, in_channels=4, out_channels=6, leray=True)
    y = model(torch.randn(2, 2, 2, 12, 10, dtype=torch.float64))
    k = [torch.fft.fftfreq(12, 1 / 12)[:, None], torch.fft.rfftfreq(10, 1 / 10)[None, :]]
    k[0][6], k[1][:, 5] = 0, 0  # Nyquist modes have no real first derivative (specops.spectral.derivatives)
    yh = torch.fft.rfftn(y, dim=(-2, -1))
    div = k[0] * yh[:, :, 0] + k[1] * yh[:, :, 1]
    assert div.abs().max() < 1e-10 * yh.abs().max()


def test_presets_are_the_papers_sizes():
    model = create_model("sfno-2d-ns")
    assert model.n_modes == (24, 24) and model.out_steps == 40 and model.in_channels == 10
    assert create_model("sfno-1d").dim == 1


def test_bad_arguments_and_inputs_are_named():
    with pytest.raises(ValueError, match=r"in_channels=5 must be a positive multiple of state_channels=2"):
        SFNO([8], in_channels=5, state_channels=2)
    with pytest.raises(ValueError, match=r"leray=True projects velocities.*state_channels=1"):
        SFNO([8, 8], leray=True)
    with pytest.raises(ValueError, match=r"1D\+time or 2D\+time"):
        SFNO([4, 4, 4])
    with pytest.raises(ValueError, match=r"time_modes=0"):
        SFNO([8], time_modes=0)
    model = small()
    with pytest.raises(ValueError, match=r"expected \(batch, time, 1, 2 spatial axes\)"):
        model.trajectory(torch.randn(1, 4, 3, 12, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"5 channels.*in_channels=4"):
        model(torch.randn(1, 5, 12, 12))
