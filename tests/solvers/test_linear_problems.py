"""Helmholtz, Poisson and heat against manufactured solutions (declared orders), and SKR generation against direct."""

import itertools
import math

import numpy as np
import pytest
import scipy.sparse.linalg as sla
import torch

from specops.solvers.darcy import Darcy
from specops.solvers.heat import Heat, Poisson
from specops.solvers.helmholtz import Helmholtz
from specops.solvers.linear import DirectSolver, SampleSolver, greedy_tour, low_mode_features
from specops.solvers.problems import make_problem
from tests.helpers import fitted_slope

PI = math.pi


def nodes(n):
    x = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    return torch.meshgrid(x, x, indexing="ij")


def test_helmholtz_manufactured_solution_second_order():
    """``u* = exp(i (3x + 2y)) (1 + x y)`` with ``k = 8 (1 + 0.3 sin(pi x) cos(pi y))``: ``f`` and ``g`` from it."""
    errors, hs = [], []
    for n in (17, 33, 65):
        X, Y = nodes(n)
        k = 8.0 * (1 + 0.3 * torch.sin(PI * X) * torch.cos(PI * Y))
        phase = torch.exp(1j * (3 * X + 2 * Y))
        u = phase * (1 + X * Y)
        ux = phase * (3j * (1 + X * Y) + Y)
        uy = phase * (2j * (1 + X * Y) + X)
        lap = phase * (-13 * (1 + X * Y) + 6j * Y + 4j * X)
        f = -lap - k**2 * u
        g = {  # du/dn - i k u on each side, outward normals
            "x0": (-ux - 1j * k * u)[0],
            "x1": (ux - 1j * k * u)[-1],
            "y0": (-uy - 1j * k * u)[:, 0],
            "y1": (uy - 1j * k * u)[:, -1],
        }
        system = Helmholtz(n)
        A = system.matrix(k)
        b = system.rhs(f.real, None) + 1j * system.rhs(f.imag, None).real
        b += system.rhs(torch.zeros(n, n), {s: v.numpy() for s, v in g.items()})
        approx = sla.spsolve(A.tocsc(), b).reshape(n, n)
        errors.append(np.abs(approx - u.numpy()).max())
        hs.append(1 / (n - 1))
    assert abs(fitted_slope(hs, errors) - Helmholtz.order) < 0.2, errors


def _poisson_case(n):
    """``u* = sin(pi x) sin(pi y)``, ``a = 1 + x y``: ``f = -div(a grad u*)``."""
    X, Y = nodes(n)
    u = torch.sin(PI * X) * torch.sin(PI * Y)
    ux, uy = PI * torch.cos(PI * X) * torch.sin(PI * Y), PI * torch.sin(PI * X) * torch.cos(PI * Y)
    a = 1 + X * Y
    f = -(Y * ux + X * uy) + 2 * PI**2 * a * u
    return a, f, u


def test_poisson_manufactured_solution_second_order_and_equal_to_darcy():
    errors, hs = [], []
    for n in (9, 17, 33):
        a, f, u = _poisson_case(n)
        system = Poisson(Darcy(n))
        approx = system.solve({"a": a, "f": f}, SampleSolver(DirectSolver()))["u"][0]
        errors.append((approx - u).abs().max().item())
        hs.append(1 / (n - 1))
        darcy = Darcy(n).solve(a[None, None], f[None])[0, 0]  # the same scheme, solved by Darcy itself
        assert torch.allclose(approx, darcy, atol=1e-12, rtol=0)
    assert abs(fitted_slope(hs, errors) - Poisson.order) < 0.15, errors


def _heat(n, n_steps, scheme):
    """``u* = exp(-t) sin(pi x) sin(pi y)``, ``kappa = 1 + x y``, on ``[0, 0.1]``: error at ``t = 0.1``."""
    X, Y = nodes(n)
    s = torch.sin(PI * X) * torch.sin(PI * Y)
    sx, sy = PI * torch.cos(PI * X) * torch.sin(PI * Y), PI * torch.sin(PI * X) * torch.cos(PI * Y)
    kappa = 1 + X * Y
    shape = -s - (Y * sx + X * sy) + 2 * PI**2 * kappa * s  # f = u_t - div(kappa grad u) = exp(-t) shape
    heat = Heat(Darcy(n), t_final=0.1, n_steps=n_steps, scheme=scheme)
    runner = SampleSolver(DirectSolver())
    u = heat.march(kappa, runner, u0=s, source=lambda t: math.exp(-t) * shape)
    assert runner.take().systems == n_steps
    return u, math.exp(-0.1) * s


def test_heat_manufactured_solution_orders_in_space_and_time():
    space = [(_heat(n, 200, "crank_nicolson"), 1 / (n - 1)) for n in (9, 17, 33)]
    errors = [(u - exact).abs().max().item() for (u, exact), _ in space]
    assert abs(fitted_slope([h for _, h in space], errors) - 2) < 0.15, errors
    for scheme, order in (("backward_euler", 1), ("crank_nicolson", 2)):
        reference, _ = _heat(9, 640, scheme)  # time error alone: against a fine step on the same grid
        steps = (5, 10, 20)
        errors = [(_heat(9, m, scheme)[0] - reference).abs().max().item() for m in steps]
        assert abs(fitted_slope([0.1 / m for m in steps], errors) - order) < 0.15, (scheme, errors)


def test_greedy_tour_is_a_reproducible_permutation_that_follows_neighbours():
    x = torch.tensor([0.0, 5.0, 1.0, 4.0, 2.0, 3.0, 10.0])
    order = greedy_tour(x[:, None])
    assert order == [0, 2, 4, 5, 3, 1, 6]  # along the line from the first sample
    features = torch.randn(50, 7, generator=torch.Generator().manual_seed(0))
    tour = greedy_tour(features)
    assert sorted(tour) == list(range(50)) and tour == greedy_tour(features.clone()) and tour[0] == 0
    # the tour is no longer than the natural order (nearest neighbours)
    length = sum(float((features[a] - features[b]).norm()) for a, b in itertools.pairwise(tour))
    assert length < sum(float((features[i] - features[i + 1]).norm()) for i in range(49))
    # low modes: blind to modes at or above `modes`, the full field with 0
    f = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.equal(low_mode_features(f, 0), f.flatten(1))
    high = torch.cos(PI * torch.arange(8.0, dtype=torch.float64))[:, None] * torch.ones(8)  # mode (4, 0)
    assert torch.allclose(low_mode_features(f + high, 2), low_mode_features(f, 2), atol=1e-12, rtol=0)
    assert not torch.allclose(low_mode_features(f + 0.1, 2), low_mode_features(f, 2), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="sort_modes=-1"):
        low_mode_features(f, -1)


@pytest.mark.parametrize(
    "name, settings",
    [
        ("helmholtz", {"resolution": 17, "k0": 10.0}),
        ("poisson-variable", {"resolution": 17}),
        ("heat", {"resolution": 13, "n_steps": 3}),
        ("darcy", {"resolution": 17}),
    ],
)
def test_skr_generation_agrees_with_the_direct_solver_sample_by_sample(name, settings):
    seeds = [7, 3, 11, 5, 9, 2]
    direct, info_d = make_problem(name, **settings, solver={"method": "direct"}).generate_with_info(
        seeds, dtype=torch.float64
    )
    problem = make_problem(
        name, **settings, solver={"method": "skr", "rtol": 1e-9, "recycle": 4, "restart": 16}
    )
    skr, info = problem.generate_with_info(seeds, dtype=torch.float64)
    for key in problem.output_fields:
        error = (skr[key] - direct[key]).flatten(1).norm(dim=1) / direct[key].flatten(1).norm(dim=1)
        assert float(error.max()) < 1e-6, (key, error)  # forward error <= cond x 1e-9 on these grids
    for key in problem.input_fields:
        assert torch.equal(skr[key], direct[key])  # sample i keeps its seed and its index
    assert info["converged"].all() and (info["residual"] <= 1e-9).all()
    assert sorted(info["solve_order"]) == list(range(len(seeds))) and info["solve_order"][0] == 0
    assert (info["iterations"] > 0).all() and (info_d["iterations"] == 0).all()
    again = problem.generate_with_info(seeds, dtype=torch.float64)
    assert all(torch.equal(again[0][k], skr[k]) for k in skr)  # reproducible: the tour and the solves
    assert np.array_equal(again[1]["solve_order"], info["solve_order"])


def test_sorting_and_recycling_save_products_on_a_helmholtz_sequence():
    seeds = list(range(8))
    counts = {}
    for label, solver in (
        ("gmres", {"method": "gmres"}),
        ("gcrodr", {"method": "gcrodr", "reuse": False}),
        ("skr", {"method": "skr"}),
    ):
        options = {**solver, "rtol": 1e-8, "restart": 30, "recycle": 10, "precond": "none", "maxiter": 20000}
        problem = make_problem("helmholtz", resolution=17, k0=8.0, solver=options)
        counts[label] = int(problem.generate_with_info(seeds)[1]["matvecs"].sum())
    assert counts["skr"] < counts["gcrodr"] < counts["gmres"], counts


def test_linear_problem_settings_are_checked():
    with pytest.raises(ValueError, match="symmetric positive definite"):
        make_problem("helmholtz", resolution=9, solver={"method": "cg"})
    with pytest.raises(ValueError, match=r"solver has no option 'recyle'"):
        make_problem("heat", resolution=9, solver={"recyle": 3})
    with pytest.raises(ValueError, match="scheme='leapfrog'"):
        make_problem("heat", resolution=9, scheme="leapfrog")
    with pytest.raises(ValueError, match="coefficient='smooth'"):
        make_problem("poisson", resolution=9, coefficient="smooth")
    with pytest.raises(ValueError, match="the wavenumber k must be finite and positive"):
        Helmholtz(5).matrix(-torch.ones(5, 5))
