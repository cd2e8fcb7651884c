import math

import pytest
import torch

from specops.solvers.integrate import integrate, stable_time_step
from specops.solvers.navier_stokes3d import NavierStokes3D
from specops.solvers.turbulence import SolenoidalRandomField, TaylorGreen3D
from tests.helpers import assert_close


def _tg_time_derivative(n: int, nu: float) -> torch.Tensor:
    """Exact u_t(0) of the Taylor-Green vortex: -3 nu u0 - P[(u0 . grad) u0], worked by hand:
    (u0 . grad) u0 = (sin 2x cos^2 z, sin 2y cos^2 z, 0) / 2, whose solenoidal part is
    (sin 2x cos 2z, sin 2y cos 2z, -(cos 2x + cos 2y) sin 2z) / 8."""
    x, y, z = torch.meshgrid(*[torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)] * 3, indexing="ij")
    u0 = TaylorGreen3D((n,) * 3).field()
    nonlinear = torch.stack(
        [
            torch.sin(2 * x) * torch.cos(2 * z),
            torch.sin(2 * y) * torch.cos(2 * z),
            -(torch.cos(2 * x) + torch.cos(2 * y)) * torch.sin(2 * z),
        ]
    )
    return -3 * nu * u0 - nonlinear / 8


def _rhs(eq, u):
    uh = eq.to_spectral(u)
    return eq.to_physical(eq.explicit_terms(uh) + eq.implicit_terms(uh))


def test_taylor_green_time_derivative_matches_the_analytic_one():
    nu = 0.02
    eq = NavierStokes3D(16, nu)
    u0 = TaylorGreen3D((16,) * 3).sample([0], dtype=torch.float64)
    assert_close(_rhs(eq, u0)[0], _tg_time_derivative(16, nu), atol=1e-13, what="u_t(0)")


def test_taylor_green_early_time_follows_its_series_at_second_order():
    """u(t) - (u0 + t u_t(0)) = O(t^2): halving t divides the gap by 4; the energy follows
    E(t) = E0 (1 - 6 nu t) + O(t^2) (E0 = 1/8)."""
    nu = 0.02
    eq = NavierStokes3D(16, nu)
    u0 = TaylorGreen3D((16,) * 3).sample([0], dtype=torch.float64)
    ut = _tg_time_derivative(16, nu)
    times = [0.02, 0.04]
    states = integrate(eq, u0, times, stepper="crank_nicolson_rk4", dt=0.001).states[0]
    gaps = [(states[i] - u0[0] - t * ut).abs().max().item() for i, t in enumerate(times)]
    assert 3.7 < gaps[1] / gaps[0] < 4.3, gaps
    assert_close(eq.energy(u0), torch.tensor([0.125], dtype=torch.float64), rtol=1e-14)
    e = eq.energy(states[1:2])
    assert abs(e.item() - 0.125 * (1 - 6 * nu * 0.04)) < 0.04**2 * 0.1


def test_inviscid_dealiased_energy_is_conserved_to_round_off():
    eq = NavierStokes3D(16, viscosity=0.0)
    u0 = SolenoidalRandomField((16,) * 3, peak=3, energy=0.5).sample([0, 1], dtype=torch.float64)
    power = (u0 * _rhs(eq, u0)).sum(dim=1).flatten(1).mean(dim=1)  # dE/dt of the semi-discrete system
    assert power.abs().max() < 1e-14
    traj = integrate(eq, u0, [0.5], stepper="crank_nicolson_rk4", dt=0.005).states
    drift = (eq.energy(traj[:, -1]) / eq.energy(u0) - 1).abs().max().item()
    assert drift < 1e-9, drift
    # divergence stays at rounding
    grad = eq.gradients(eq.to_spectral(traj[:, -1])).pow(2).mean().sqrt()
    assert eq.divergence(traj[:, -1]).abs().max() < 1e-13 * grad


def test_energy_budget_closes():
    """dE/dt (central difference of the solver's energies) = -eps (computed from the field), unforced;
    = -eps + 2 A E with linear forcing on every mode."""
    u0 = SolenoidalRandomField((16,) * 3, peak=3, energy=0.5).sample([3], dtype=torch.float64)
    for forcing in (0.0, 0.2):
        eq = NavierStokes3D(16, viscosity=0.05, forcing=forcing)
        h = 0.004
        traj = integrate(eq, u0, [0.1 - h, 0.1, 0.1 + h], stepper="crank_nicolson_rk4", dt=h / 2).states[0]
        e = eq.energy(traj)
        dedt = (e[2] - e[0]) / (2 * h)
        mid = traj[1:2]
        budget = -eq.dissipation(mid)[0] + 2 * forcing * eq.energy(mid)[0]
        print(forcing, dedt.item(), budget.item())
        assert abs(dedt - budget) < 1e-4 * abs(budget), (forcing, dedt.item(), budget.item())


def test_batch_dtype_cfl_and_non_solenoidal_input():
    eq = NavierStokes3D(16, viscosity=0.01)
    field = SolenoidalRandomField((16,) * 3, peak=3, energy=0.5)
    u0 = field.sample([0, 1], dtype=torch.float32)
    dt = stable_time_step(eq, u0, cfl=0.5)
    assert dt == pytest.approx(0.5 * (2 * math.pi / 16) / u0.pow(2).sum(1).sqrt().max().item(), rel=1e-6)
    both = integrate(eq, u0, [0.05], stepper="crank_nicolson_rk4", dt=0.01).states
    one = integrate(eq, u0[1:], [0.05], stepper="crank_nicolson_rk4", dt=0.01).states
    assert both.dtype == torch.float32 and torch.equal(both[1], one[0])
    assert torch.equal(field.sample([1]), u0[1:])  # sample i depends on seed i alone
    bad = u0.clone()
    bad[:, 0] += torch.sin(torch.arange(16.0) * 2 * math.pi / 16).reshape(16, 1, 1)  # d u / dx != 0
    with pytest.raises(ValueError, match="not divergence-free"):
        integrate(eq, bad, [0.01], stepper="crank_nicolson_rk4", dt=0.01)
    fixed = eq.project(bad.double())
    assert eq.divergence(fixed).abs().max() < 1e-12
    with pytest.raises(ValueError, match="expects"):
        eq.check_state(u0[:, :1])


def test_random_field_has_the_prescribed_spectrum():
    field = SolenoidalRandomField((16,) * 3, peak=3, energy=0.7)
    u = field.sample([5], dtype=torch.float64)
    eq = NavierStokes3D(16)
    assert_close(eq.energy(u), torch.tensor([0.7], dtype=torch.float64), rtol=1e-12)
    from specops.metrics import energy_spectrum

    _, e = energy_spectrum(u, length=2 * math.pi)
    n = field.spectrum.numel()
    assert_close(e[0, :n], field.spectrum, atol=1e-14, rtol=1e-10, what="E(k)")


def test_etdrk4_and_rk4_cn_agree_with_forcing():
    eq = NavierStokes3D(12, viscosity=0.05, forcing=0.3, forcing_band=2.0)
    u0 = SolenoidalRandomField((12,) * 3, peak=2, energy=0.5).sample([2], dtype=torch.float64)
    a = integrate(eq, u0, [0.2], stepper="etdrk4", dt=0.01).states[:, -1]
    b = integrate(eq, u0, [0.2], stepper="crank_nicolson_rk4", dt=0.0025).states[:, -1]
    assert_close(a, b, atol=1e-7 * u0.abs().max().item(), what="ETDRK4 vs CN-RK4")
