import pytest
import torch

import specops
from specops.models.dgno import DGNO, interpolate_nodes, node_points
from tests.helpers import assert_close


def tiny(**kw):
    torch.manual_seed(0)
    return DGNO(lattice=5, latent=4, encoder_hidden=[8], width=8, n_layers=3, sum_layers=2, **kw).double()


def test_solution_vanishes_on_the_boundary_and_the_model_round_trips(tmp_path):
    model = tiny()
    a = 3 + 9 * (torch.rand(2, 1, 9, 9, generator=torch.Generator().manual_seed(1)) > 0.5).double()
    u = model(a)
    edges = torch.cat([u[..., 0, :], u[..., -1, :], u[..., :, 0], u[..., :, -1]], -1)
    assert edges.abs().max() < 1e-15 and u.abs().max() > 1e-6
    model32 = tiny().float()
    again = specops.load(specops.save(model32, tmp_path / "dgno.pt"))
    assert torch.equal(again(a.float()), model32(a.float()))


def test_forward_mode_gradient_matches_central_differences_per_sample():
    model = tiny()
    beta = torch.tanh(torch.randn(3, 4, dtype=torch.float64))
    points = torch.rand(6, 2, dtype=torch.float64) * 0.8 + 0.1
    grad = model.grad_u_at(beta, points)
    h = 1e-6
    for axis in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[axis] = h
        fd = (model.u_at(beta, points + e) - model.u_at(beta, points - e)) / (2 * h)
        assert_close(grad[..., axis], fd, rtol=1e-6, atol=1e-8)


def test_node_interpolation_is_exact_for_bilinear_fields():
    pts = node_points(7, torch.float64)
    field = (1 + 2 * pts[:, 0] - pts[:, 1] + 3 * pts[:, 0] * pts[:, 1]).reshape(1, 1, 7, 7)
    q = torch.rand(10, 2, dtype=torch.float64)
    assert_close(
        interpolate_nodes(field, q)[0], 1 + 2 * q[:, 0] - q[:, 1] + 3 * q[:, 0] * q[:, 1], rtol=1e-12
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="a_range"):
        DGNO(a_range=(5.0, 5.0))
    with pytest.raises(ValueError, match="square"):
        tiny()(torch.ones(1, 1, 5, 6, dtype=torch.float64))
