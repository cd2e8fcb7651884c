import itertools
import math

import torch

from specops.solvers.burgers import Burgers
from specops.solvers.integrate import integrate
from specops.solvers.random_fields import GaussianRandomField
from specops.solvers.reference import burgers_cole_hopf
from specops.solvers.steppers import ETDRK4, CrankNicolsonRK4
from tests.helpers import assert_close, fitted_slope


def test_matches_cole_hopf_exact_solution():
    nu = 0.02
    eq = Burgers(256, nu)
    x = eq.coordinates()[0]
    u0 = burgers_cole_hopf(x, 0.0, nu, offset=1.2).reshape(1, 1, -1)
    times = [0.0, 0.25, 0.5]
    traj = integrate(eq, u0, times, stepper=ETDRK4(), dt=2e-3)
    for i, t in enumerate(times):
        exact = burgers_cole_hopf(x, t, nu, offset=1.2)
        assert_close(traj.states[0, i, 0], exact, atol=1e-9, rtol=0, what=f"Cole-Hopf t={t}")


def test_spatial_error_decays_exponentially():
    """Error vs N at a fixed tiny dt: spectral accuracy, each doubling gains orders of magnitude."""
    nu, t_end = 0.02, 0.3
    errors = []
    for n in (16, 24, 32, 48):
        eq = Burgers(n, nu)
        x = eq.coordinates()[0]
        u0 = burgers_cole_hopf(x, 0.0, nu, offset=1.2).reshape(1, 1, n)
        u = integrate(eq, u0, [t_end], stepper=ETDRK4(), dt=2e-3).states[0, -1, 0]
        errors.append((u - burgers_cole_hopf(x, t_end, nu, offset=1.2)).abs().max().item())
    print("errors vs N:", errors)
    assert all(b < a / 10 for a, b in itertools.pairwise(errors))
    assert errors[-1] < 1e-9


def test_dt_convergence_against_exact_solution_on_a_fine_grid():
    nu = 0.02
    eq = Burgers(256, nu)
    x = eq.coordinates()[0]
    u0 = burgers_cole_hopf(x, 0.0, nu, offset=1.2).reshape(1, 1, -1)
    exact = burgers_cole_hopf(x, 0.4, nu, offset=1.2)
    for stepper in (ETDRK4(), CrankNicolsonRK4()):
        dts = [0.04, 0.02, 0.01]
        errs = [
            (integrate(eq, u0, [0.4], stepper=stepper, dt=dt).states[0, -1, 0] - exact).abs().max().item()
            for dt in dts
        ]
        slope = fitted_slope(dts, errs)
        print(f"{stepper!r}: {errs} slope {slope:.2f}")
        assert abs(slope - stepper.order) < 0.3


def test_mass_is_conserved():
    eq = Burgers(128, 0.01)
    u0 = GaussianRandomField((128,), 2, 5, 25).sample([0, 1], dtype=torch.float64).unsqueeze(1) + 0.3
    traj = integrate(eq, u0, [0.0, 0.5, 1.0], stepper=ETDRK4(), dt=1e-3).states
    mass = traj.mean(dim=-1)
    assert_close(mass, mass[:, :1].expand_as(mass), atol=1e-14, rtol=0, what="mean of u")


def test_explicit_term_is_minus_u_ux_for_a_resolved_field():
    eq = Burgers(32, 0.1, length=2.0)
    x = eq.coordinates()[0]
    k = 2 * math.pi / 2.0
    u = torch.sin(k * x) + 0.5 * torch.cos(3 * k * x)
    ux = k * torch.cos(k * x) - 1.5 * k * torch.sin(3 * k * x)
    n_hat = eq.explicit_terms(eq.to_spectral(u.reshape(1, 1, -1)))
    assert_close(eq.to_physical(n_hat)[0, 0], -u * ux, atol=1e-13, rtol=0, what="-u u_x")
    assert_close(
        eq.to_physical(eq.implicit_terms(eq.to_spectral(u.reshape(1, 1, -1))))[0, 0],
        -0.1 * (k**2 * torch.sin(k * x) + 4.5 * k**2 * torch.cos(3 * k * x)),
        atol=1e-12,
        rtol=0,
    )
