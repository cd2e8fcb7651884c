import math

import pytest
import torch

from specops.registry import STEPPERS
from specops.solvers.burgers import Burgers
from specops.solvers.integrate import integrate
from specops.solvers.navier_stokes import NavierStokes2D
from specops.solvers.random_fields import GaussianRandomField
from specops.solvers.reference import burgers_cole_hopf
from specops.solvers.steppers import (
    ETDRK4,
    CrankNicolsonHeun,
    CrankNicolsonRK4,
    IMEXEuler,
    etdrk4_coefficients,
    make_stepper,
)
from tests.helpers import assert_close, fitted_slope

STEPPERS_UNDER_TEST = [IMEXEuler(1.0), IMEXEuler(0.5), CrankNicolsonHeun(), CrankNicolsonRK4(), ETDRK4()]


@pytest.mark.parametrize("stepper", STEPPERS_UNDER_TEST, ids=repr)
def test_declared_order_on_cole_hopf_burgers(stepper):
    """Error vs dt against the exact Cole-Hopf solution (both explicit and implicit parts active)."""
    nu, n, t_end = 0.05, 128, 0.5  # 128 points resolve this solution to round-off
    eq = Burgers(n, nu)
    x = eq.coordinates()[0]
    u0 = burgers_cole_hopf(x, 0.0, nu).reshape(1, 1, n)
    exact = burgers_cole_hopf(x, t_end, nu)
    dts = [0.02, 0.01, 0.005]
    errors = [
        (integrate(eq, u0, [t_end], stepper=stepper, dt=dt).states[0, -1, 0] - exact).abs().max().item()
        for dt in dts
    ]
    slope = fitted_slope(dts, errors)
    print(f"{stepper!r}: errors {errors}, slope {slope:.2f}, declared {stepper.order}")
    assert abs(slope - stepper.order) < 0.2


def test_crank_nicolson_rk4_is_fourth_order_without_linear_terms():
    """With nu = 0 the scheme is the Carpenter-Kennedy explicit RK4: self-convergence slope 4."""
    eq = NavierStokes2D(16, viscosity=0.0)
    w0 = GaussianRandomField((16, 16), 2.5, 7).sample([3], dtype=torch.float64).unsqueeze(1)
    stepper = CrankNicolsonRK4()
    ref = integrate(eq, w0, [0.4], stepper=stepper, dt=0.0025).states[0, -1]
    dts = [0.1, 0.05, 0.025]
    errors = [
        (integrate(eq, w0, [0.4], stepper=stepper, dt=dt).states[0, -1] - ref).abs().max().item()
        for dt in dts
    ]
    slope = fitted_slope(dts, errors)
    print(f"errors {errors}, slope {slope:.2f}")
    assert abs(slope - stepper.explicit_order) < 0.3


def test_etdrk4_coefficients_match_closed_forms_and_limits():
    dt = 0.1
    lin = torch.tensor([-50.0, -10.0, 3.0, 0.0], dtype=torch.float64)
    c = etdrk4_coefficients(lin, dt)
    z = dt * lin[:3]  # away from z = 0 the closed forms lose at most a few digits to cancellation
    ez = torch.exp(z)
    assert_close(c["E"][:3], ez, atol=0, rtol=1e-15)
    assert_close(c["Q"][:3], dt * (torch.exp(z / 2) - 1) / z, atol=0, rtol=1e-12)
    assert_close(c["f1"][:3], dt * (-4 - z + ez * (4 - 3 * z + z**2)) / z**3, atol=0, rtol=1e-10)
    assert_close(c["f2"][:3], dt * (2 + z + ez * (z - 2)) / z**3, atol=0, rtol=1e-10)
    assert_close(c["f3"][:3], dt * (-4 - 3 * z - z**2 + ez * (4 - z)) / z**3, atol=0, rtol=1e-10)
    # z = 0, where the closed forms are 0/0: Q = dt/2 and f1 = f2 = f3 = dt/6 (Kassam & Trefethen 2005)
    assert_close(c["Q"][3], torch.tensor(dt / 2, dtype=torch.float64), atol=0, rtol=1e-13)
    for key in ("f1", "f2", "f3"):
        assert_close(c[key][3], torch.tensor(dt / 6, dtype=torch.float64), atol=0, rtol=1e-13)
    ci = etdrk4_coefficients(torch.tensor([5j, -2 + 1j], dtype=torch.complex128), dt)
    zi = dt * torch.tensor([5j, -2 + 1j], dtype=torch.complex128)
    assert_close(ci["f2"], dt * (2 + zi + torch.exp(zi) * (zi - 2)) / zi**3, atol=0, rtol=1e-11)


def test_registry_and_errors():
    assert set(STEPPERS.names()) == {
        "imex_euler",
        "fno_crank_nicolson",
        "crank_nicolson_heun",
        "crank_nicolson_rk4",
        "etdrk4",
    }
    fno = make_stepper("fno_crank_nicolson")
    assert isinstance(fno, IMEXEuler) and fno.theta == 0.5 and fno.order == 1
    assert make_stepper("ETDRK4").order == 4
    with pytest.raises(ValueError, match="unknown stepper 'rk5'"):
        make_stepper("rk5")
    with pytest.raises(ValueError, match=r"theta=0\.2"):
        IMEXEuler(0.2)
    for stepper in STEPPERS_UNDER_TEST:
        params = stepper.parameters()
        assert params["order"] == stepper.order and params["name"] in STEPPERS


def test_fno_scheme_matches_the_ns_2d_update_formula():
    """A second implementation: the update of FNO's ns_2d.py written with full complex FFTs."""
    n, nu, dt = 16, 1e-3, 1e-3
    eq = NavierStokes2D(n, nu, forcing=None)
    mask = eq._mask.to(torch.float64)
    w0 = GaussianRandomField((n, n), 2.5, 7).sample([0], dtype=torch.float64).unsqueeze(1)
    w0 = torch.fft.irfft2(torch.fft.rfft2(w0) * mask, s=(n, n))  # band-limited: Nyquist conventions agree
    ours = integrate(eq, w0, [5 * dt], stepper=make_stepper("fno_crank_nicolson"), dt=dt).states[0, -1, 0]
    k = torch.fft.fftfreq(n, 1.0 / n).to(torch.float64)
    kx, ky = torch.meshgrid(k, k, indexing="ij")
    lap = 4 * math.pi**2 * (kx**2 + ky**2)
    lap[0, 0] = 1.0
    keep = (kx.abs() <= 2 / 3 * (n // 2)) & (ky.abs() <= 2 / 3 * (n // 2))
    w_h = torch.fft.fft2(w0[0, 0])
    for _ in range(5):
        psi_h = w_h / lap
        q = torch.fft.ifft2(2j * math.pi * ky * psi_h).real
        v = torch.fft.ifft2(-2j * math.pi * kx * psi_h).real
        w_x = torch.fft.ifft2(2j * math.pi * kx * w_h).real
        w_y = torch.fft.ifft2(2j * math.pi * ky * w_h).real
        f_h = torch.fft.fft2(q * w_x + v * w_y) * keep
        w_h = (-dt * f_h + (1.0 - 0.5 * dt * nu * lap) * w_h) / (1.0 + 0.5 * dt * nu * lap)
    theirs = torch.fft.ifft2(w_h).real
    assert_close(ours, theirs, atol=1e-13 * theirs.abs().max().item(), rtol=0, what="FNO update")
