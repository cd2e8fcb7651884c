import math

import pytest
import torch

from specops.solvers.integrate import integrate
from specops.solvers.navier_stokes import FNOForcing, KolmogorovForcing, NavierStokes2D
from specops.solvers.random_fields import GaussianRandomField
from specops.solvers.reference import taylor_green_vorticity
from specops.solvers.steppers import ETDRK4, CrankNicolsonHeun, CrankNicolsonRK4, IMEXEuler
from tests.helpers import assert_close, fitted_slope


def _mesh(eq):
    return torch.meshgrid(*eq.coordinates(), indexing="ij")


@pytest.mark.parametrize("stepper", [IMEXEuler(1.0), CrankNicolsonHeun(), CrankNicolsonRK4()], ids=repr)
def test_taylor_green_decay_rate_and_order(stepper):
    """Taylor-Green decays at exp(-2 nu k^2 t); only the implicit part acts: backward Euler 1, CN 2."""
    nu = 0.01
    eq = NavierStokes2D(32, nu)
    x, y = _mesh(eq)
    w0 = taylor_green_vorticity(x, y, 0.0, nu, wavenumber=2).reshape(1, 1, 32, 32)
    exact = taylor_green_vorticity(x, y, 1.0, nu, wavenumber=2)
    dts = [0.2, 0.1, 0.05]
    errs = [
        (integrate(eq, w0, [1.0], stepper=stepper, dt=dt).states[0, -1, 0] - exact).abs().max().item()
        for dt in dts
    ]
    slope = fitted_slope(dts, errs)
    implicit_order = 1 if isinstance(stepper, IMEXEuler) and stepper.theta == 1.0 else 2
    print(f"{stepper!r}: {errs} slope {slope:.2f}")
    assert abs(slope - implicit_order) < 0.15


def test_taylor_green_with_etdrk4_is_exact_to_round_off():
    nu = 0.01
    eq = NavierStokes2D(32, nu, drag=0.05)
    x, y = _mesh(eq)
    w0 = taylor_green_vorticity(x, y, 0.0, nu, wavenumber=3).reshape(1, 1, 32, 32)
    w = integrate(eq, w0, [2.0], stepper=ETDRK4(), dt=0.5).states[0, -1, 0]
    assert_close(w, taylor_green_vorticity(x, y, 2.0, nu, wavenumber=3, drag=0.05), atol=1e-14, rtol=0)


def test_advection_term_against_the_analytic_product():
    """N(w) = -u . grad w for w = sin(2 pi x) cos(4 pi y) + cos(2 pi y): every product resolved on 32^2."""
    eq = NavierStokes2D(32, 0.0)
    x, y = _mesh(eq)
    p = 2 * math.pi
    w = torch.sin(p * x) * torch.cos(2 * p * y) + torch.cos(p * y)
    # psi solves -lap psi = w mode by mode: |k|^2 = 5 p^2 and p^2
    psi = torch.sin(p * x) * torch.cos(2 * p * y) / (5 * p**2) + torch.cos(p * y) / p**2
    psi_x = p * torch.cos(p * x) * torch.cos(2 * p * y) / (5 * p**2)
    psi_y = -2 * p * torch.sin(p * x) * torch.sin(2 * p * y) / (5 * p**2) - p * torch.sin(p * y) / p**2
    w_x = p * torch.cos(p * x) * torch.cos(2 * p * y)
    w_y = -2 * p * torch.sin(p * x) * torch.sin(2 * p * y) - p * torch.sin(p * y)
    expected = -(psi_y * w_x - psi_x * w_y)
    n_hat = eq.explicit_terms(eq.to_spectral(w.reshape(1, 1, 32, 32)))
    assert_close(eq.to_physical(n_hat)[0, 0], expected, atol=1e-13, rtol=0, what="-u.grad w")
    u, v = eq.velocity(eq.to_spectral(w.reshape(1, 1, 32, 32)))
    assert_close(u[0], psi_y, atol=1e-14, rtol=0, what="u = psi_y")
    assert_close(v[0], -psi_x, atol=1e-14, rtol=0, what="v = -psi_x")
    assert psi.shape == w.shape


@pytest.mark.parametrize(
    "forcing, drag, lengths",
    [(FNOForcing(), 0.0, 1.0), (KolmogorovForcing(amplitude=1.0, wavenumber=4), 0.1, 2 * math.pi)],
    ids=["fno", "kolmogorov"],
)
def test_forced_flow_from_rest_matches_the_exact_spin_up(forcing, drag, lengths):
    """Both forcings depend on one direction only, so u . grad w = 0 and w = f (1 - e^{-s t}) / s exactly,
    s = nu |k|^2 + drag: a check of the forcing conventions, the drag and the time stepping together."""
    nu = 0.01
    eq = NavierStokes2D(32, nu, forcing, drag=drag, lengths=lengths)
    x, y = _mesh(eq)
    f = forcing(x, y, (lengths, lengths))
    k2 = (2 * math.pi / lengths) ** 2 * (2 if isinstance(forcing, FNOForcing) else 16)
    s = nu * k2 + drag
    w = integrate(
        eq, torch.zeros(1, 1, 32, 32, dtype=torch.float64), [3.0], stepper=ETDRK4(), dt=0.01
    ).states[0, -1, 0]
    assert_close(w, f * (1 - math.exp(-s * 3.0)) / s, atol=1e-12, rtol=0, what="spin-up")
    assert_close(
        FNOForcing()(x * 0 + 0.125, y * 0 + 0.125, (1.0, 1.0)), torch.full_like(x, 0.1), atol=1e-15, rtol=0
    )


def test_mean_vorticity_is_conserved_and_unforced_energy_decays():
    w0 = GaussianRandomField((32, 32), 2.5, 7).sample([0, 1], dtype=torch.float64).unsqueeze(1) + 0.7
    forced = NavierStokes2D(32, 1e-3, FNOForcing())
    traj = integrate(forced, w0, [0.0, 0.5, 1.0], stepper=CrankNicolsonRK4(), dt=5e-3).states
    mean = traj.mean(dim=(-2, -1))
    assert_close(mean, mean[:, :1].expand_as(mean), atol=1e-13, rtol=0, what="mean vorticity")
    free = NavierStokes2D(32, 1e-3)
    times = [0.05 * i for i in range(21)]
    traj = integrate(free, w0, times, stepper=CrankNicolsonRK4(), dt=5e-3).states
    energy = torch.stack([free.energy(traj[:, i]) for i in range(21)], dim=1)
    assert bool((energy[:, 1:] < energy[:, :-1]).all()), "kinetic energy must decrease without forcing"
    # Energy budget dE/dt = -nu int w'^2 (w' without its mean), integrated by the trapezoidal rule
    fluct = traj - traj.mean(dim=(-2, -1), keepdim=True)
    enstrophy = (fluct**2).mean(dim=(-3, -2, -1))
    dissipated = 1e-3 * 0.05 * (enstrophy[:, 1:] + enstrophy[:, :-1]).sum(dim=1) / 2
    assert_close(energy[:, -1] - energy[:, 0], -dissipated, atol=0, rtol=1e-3, what="energy budget")


def test_self_convergence_in_dt_with_advection():
    """Against a fine-dt reference with advection active: Crank-Nicolson-Heun second order, ETDRK4 fourth."""
    eq = NavierStokes2D(16, 1e-2, FNOForcing())
    w0 = GaussianRandomField((16, 16), 2.5, 7).sample([5], dtype=torch.float64).unsqueeze(1)
    for stepper, dts in ((ETDRK4(), [0.1, 0.05, 0.025]), (CrankNicolsonHeun(), [0.05, 0.025, 0.0125])):
        ref = integrate(eq, w0, [0.5], stepper=stepper, dt=0.5 / 512).states[0, -1]
        errs = [
            (integrate(eq, w0, [0.5], stepper=stepper, dt=dt).states[0, -1] - ref).abs().max().item()
            for dt in dts
        ]
        slope = fitted_slope(dts, errs)
        print(f"{stepper!r}: {errs} slope {slope:.2f}")
        assert abs(slope - stepper.order) < 0.3


def test_custom_dealias_mask_and_forcing_shape_errors():
    mask = torch.zeros(16, 9, dtype=torch.bool)
    mask[:3, :3] = True
    eq = NavierStokes2D(16, 1e-3, dealias=mask)
    w = GaussianRandomField((16, 16), 2.5, 7).sample([0], dtype=torch.float64).unsqueeze(1)
    n_hat = eq.explicit_terms(eq.to_spectral(w))
    assert bool((n_hat[0, 0][~mask] == 0).all()) and bool((n_hat[0, 0][mask] != 0).any())
    bad = NavierStokes2D(16, 1e-3, forcing=lambda x, y, lengths: torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"forcing returned shape \(4, 4\)"):
        bad.explicit_terms(eq.to_spectral(w))
    with pytest.raises(ValueError, match="forcing"):
        NavierStokes2D(16, forcing=3.0)


def test_error_vs_n_decays_fast_for_a_smooth_flow():
    """Spectral accuracy in space: solutions on 12, 16, 24 points against 48, compared at their own nodes."""
    p = 2 * math.pi

    def w0(eq):
        x, y = _mesh(eq)
        return (
            torch.sin(p * x) * torch.cos(p * y)
            + 0.6 * torch.cos(2 * p * x + 0.3)
            + 0.4 * torch.sin(p * (x + 2 * y))
        )[None, None]

    def solve(n):
        eq = NavierStokes2D(n, 1e-2, FNOForcing())
        return integrate(eq, w0(eq), [0.5], stepper=ETDRK4(), dt=0.01).states[0, -1, 0]

    ref = solve(48)
    errors = [(solve(n) - ref[:: 48 // n, :: 48 // n]).abs().max().item() for n in (12, 16, 24)]
    print("errors vs N:", errors)
    # the 2/3 rule (3 |k| < n) keeps |k| <= 3, 5, 7 at n = 12, 16, 24: each step gains two decades
    assert errors[1] < errors[0] / 10 and errors[2] < errors[1] / 100 and errors[2] < 1e-7
