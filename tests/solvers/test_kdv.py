import itertools

from specops.solvers.integrate import integrate
from specops.solvers.kdv import KdV
from specops.solvers.reference import kdv_soliton
from specops.solvers.steppers import ETDRK4, CrankNicolsonRK4
from tests.helpers import assert_close, fitted_slope

LENGTH, SPEED = 40.0, 2.0


def _soliton(n):
    eq = KdV(n, length=LENGTH)
    x = eq.coordinates()[0]
    return eq, x, kdv_soliton(x, 0.0, SPEED, x0=LENGTH / 2, length=LENGTH).reshape(1, 1, n)


def test_soliton_travels_unchanged():
    eq, x, u0 = _soliton(256)
    traj = integrate(eq, u0, [1.0, 3.0], stepper=ETDRK4(), dt=2e-3)
    for i, t in enumerate((1.0, 3.0)):
        exact = kdv_soliton(x, t, SPEED, x0=LENGTH / 2, length=LENGTH)
        assert_close(traj.states[0, i, 0], exact, atol=1e-8, rtol=0, what=f"soliton t={t}")


def test_error_vs_n_decays_exponentially():
    errors = []
    for n in (64, 96, 128, 192):
        eq, x, u0 = _soliton(n)
        u = integrate(eq, u0, [1.0], stepper=ETDRK4(), dt=1e-3).states[0, -1, 0]
        errors.append((u - kdv_soliton(x, 1.0, SPEED, x0=LENGTH / 2, length=LENGTH)).abs().max().item())
    print("errors vs N:", errors)
    assert all(b < a / 10 for a, b in itertools.pairwise(errors))
    assert errors[-1] < 1e-7


def test_dt_convergence_of_etdrk4_and_crank_nicolson_rk4():
    eq, x, u0 = _soliton(256)
    exact = kdv_soliton(x, 2.0, SPEED, x0=LENGTH / 2, length=LENGTH)
    for stepper in (ETDRK4(), CrankNicolsonRK4()):
        dts = [0.04, 0.02, 0.01]
        errs = [
            (integrate(eq, u0, [2.0], stepper=stepper, dt=dt).states[0, -1, 0] - exact).abs().max().item()
            for dt in dts
        ]
        slope = fitted_slope(dts, errs)
        print(f"{stepper!r}: {errs} slope {slope:.2f}")
        assert abs(slope - stepper.order) < 0.3


def test_mass_and_momentum_are_invariant():
    eq, x, u0 = _soliton(256)
    # two solitons that collide
    two = u0 + 0.5 * kdv_soliton(x, 0.0, 1.0, x0=8.0, length=LENGTH).reshape(1, 1, -1)
    traj = integrate(eq, two, [0.0, 2.0, 4.0], stepper=ETDRK4(), dt=1e-3).states[0, :, 0]
    mass, momentum = traj.mean(dim=-1), (traj**2).mean(dim=-1)
    assert_close(mass, mass[:1].expand(3), atol=1e-14, rtol=0, what="mass")
    assert_close(momentum, momentum[:1].expand(3), atol=0, rtol=1e-8, what="momentum")


def test_dispersion_drops_the_nyquist_mode_of_even_grids():
    # u_t + u_xxx = 0 (a = 0) from sin(3x) + (-1)^j on 32 points of [0, 2 pi): the sine travels exactly,
    # sin(3x + 27 t); the Nyquist mode (-1)^j has no real odd derivative (its interpolant's third derivative
    # vanishes at every node), so it must stay put. With the symbol i k^3 kept at k = 16 it would be turned
    # into an imaginary coefficient that the inverse transform drops: amplitude cos(16^3 t).
    import math

    import torch

    n = 32
    eq = KdV(n, nonlinearity=0.0, dispersion=1.0, length=2 * math.pi)
    assert eq.linear_operator(torch.float64)[n // 2] == 0
    x = eq.coordinates()[0]
    nyquist = torch.tensor([(-1.0) ** j for j in range(n)], dtype=torch.float64)
    u0 = (torch.sin(3 * x) + nyquist).reshape(1, 1, n)
    t = 1.0
    u = integrate(eq, u0, [t], stepper=ETDRK4(), dt=0.01).states[0, -1, 0]
    assert_close(
        u, torch.sin(3 * x + 27 * t) + nyquist, atol=1e-12, rtol=0, what="linear KdV with a Nyquist mode"
    )
