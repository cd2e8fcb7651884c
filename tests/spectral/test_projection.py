"""The Leray projection: identity on divergence-free fields, zero on gradients, idempotent, exact."""

from __future__ import annotations

import pytest
import torch
from tests.helpers import assert_close

from specops.spectral.derivatives import gradient
from specops.spectral.fft import truncate_modes
from specops.spectral.projection import leray_projection


def smooth(shape, keep=(9, 9)):
    torch.manual_seed(0)
    return truncate_modes(torch.randn(*shape, dtype=torch.float64), keep)


def divergence(u, lengths):
    dx, _ = gradient(u[:, 0], 2, lengths)
    _, dy = gradient(u[:, 1], 2, lengths)
    return dx + dy


@pytest.mark.parametrize("lengths", [1.0, (2.0, 3.0)])
def test_projection_keeps_divergence_free_fields_and_removes_gradients(lengths):
    psi, phi = smooth((2, 16, 12)), smooth((2, 16, 12)).flip(0)
    px, py = gradient(psi, 2, lengths)
    solenoidal = torch.stack([py, -px], dim=1)  # the perpendicular gradient of a stream function
    potential = torch.stack(gradient(phi, 2, lengths), dim=1)
    assert_close(leray_projection(solenoidal, 2, lengths), solenoidal, atol=1e-12, rtol=0)
    assert leray_projection(potential, 2, lengths).abs().max() < 1e-12
    projected = leray_projection(solenoidal + potential, 2, lengths)
    assert_close(projected, solenoidal, atol=1e-12, rtol=0)
    assert divergence(projected, lengths).abs().max() < 1e-11


def test_projection_is_idempotent_on_any_field_and_keeps_the_mean():
    torch.manual_seed(0)
    u = torch.randn(3, 2, 10, 8, dtype=torch.float64) + 0.7
    once = leray_projection(u, 2)
    assert_close(leray_projection(once, 2), once, atol=1e-13, rtol=0)
    assert_close(once.mean(dim=(-2, -1)), u.mean(dim=(-2, -1)), atol=1e-13, rtol=0)


def test_bad_shapes_name_the_layout():
    with pytest.raises(ValueError, match=r"ndim=2.*\(batch, 2, nx, ny\)"):
        leray_projection(torch.randn(2, 3, 8, 8), 2)
