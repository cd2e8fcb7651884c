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


def test_weak_residuals_vanish_for_a_piecewise_constant_manufactured_solution_read_at_the_nearest_node():
    # a = 3 for x < 1/2, 12 beyond, on 8 nodes (the jump midway between nodes 3 and 4); phi(x) =
    # x (1 - x) (x - 1/2), u = phi(x) sin(pi y) / a(x) is kinked at the jump but continuous (phi(1/2) = 0)
    # and its flux s = a grad u = (phi' sin(pi y), pi phi cos(pi y)) is smooth, f = -div s.
    from specops.physics.weak import WeakDarcyResidual
    from specops.training.dgno import coefficient_reader

    pi = torch.pi
    nodes = node_points(8, torch.float64)
    a_nodes = torch.where(nodes[:, 0] < 0.5, 3.0, 12.0).reshape(1, 1, 8, 8).double()

    def flux(p):
        x, y = p[:, 0], p[:, 1]
        phi, dphi = x * (1 - x) * (x - 0.5), -3 * x**2 + 3 * x - 0.5
        return torch.stack([dphi * torch.sin(pi * y), pi * phi * torch.cos(pi * y)], -1)

    def f(p):
        x, y = p[:, 0], p[:, 1]
        return (6 * x - 3 + pi**2 * x * (1 - x) * (x - 0.5)) * torch.sin(pi * y)

    res = WeakDarcyResidual(f, n_centres=40, radius=0.1, n_radial=7)
    pts = res.sample_points(torch.Generator().manual_seed(0), torch.float64)
    a_exact = torch.where(pts[:, 0] < 0.5, 3.0, 12.0).double()
    assert torch.equal(coefficient_reader("nearest")(a_nodes, pts)[0], a_exact)
    s = flux(pts)[None]
    grad_u = s / a_exact[:, None]
    t = res.terms(pts, s, grad_u, coefficient_reader("nearest")(a_nodes, pts))
    assert t["flux"].abs().max() < 1e-28 and t["weak"].abs().max() < 1e-7
    # a 10 % wrong flux breaks the weak form; the bilinear reading blends 3 and 12 over the jump's cell
    wrong = res.terms(pts, 1.1 * s, 1.1 * grad_u, a_exact[None])
    assert wrong["weak"].abs().max() > 1e-2
    blended = res.terms(pts, s, grad_u, coefficient_reader("bilinear")(a_nodes, pts))
    assert blended["flux"].max() > 1e-3
    with pytest.raises(ValueError, match="interpolation='cubic'"):
        coefficient_reader("cubic")


def test_output_scales_multiply_the_decoders_and_follow_the_1d_solution():
    from specops.models.dgno import darcy_scales

    assert darcy_scales(2.0, (4.0, 9.0)) == (2.0 / (8 * 6.0), 1.0)
    base, scaled = tiny(), tiny(u_scale=0.5, flux_scale=3.0)
    beta, pts = torch.tanh(torch.randn(2, 4, dtype=torch.float64)), torch.rand(5, 2, dtype=torch.float64)
    assert_close(scaled.u_at(beta, pts), 0.5 * base.u_at(beta, pts), rtol=1e-14)
    assert_close(scaled.flux_at(beta, pts), 3.0 * base.flux_at(beta, pts), rtol=1e-14)
    with pytest.raises(ValueError, match="u_scale=0"):
        tiny(u_scale=0.0)


def test_latent_penalty_adds_the_mean_square_of_the_encoder_logits():
    from specops.physics.weak import WeakDarcyResidual
    from specops.training.dgno import dgno_loss, fit_dgno

    model = tiny()
    a = 3 + 9 * (torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(2)) > 0.5).double()
    res = WeakDarcyResidual(n_centres=3, radius=0.1, n_radial=3)
    plain, _ = dgno_loss(model, a, res, generator=torch.Generator().manual_seed(0))
    pen, _ = dgno_loss(model, a, res, generator=torch.Generator().manual_seed(0), latent_penalty=0.5)
    assert_close(pen - plain, 0.5 * model.latent_logits(a).pow(2).mean(), rtol=1e-10)
    assert torch.equal(torch.tanh(model.latent_logits(a)), model.encode(a))
    with pytest.raises(ValueError, match="latent_penalty=-1"):
        fit_dgno(model, a, res, epochs=1, latent_penalty=-1)
