import math

import torch

from specops.solvers.integrate import integrate
from specops.solvers.ks import KuramotoSivashinsky
from specops.solvers.steppers import ETDRK4, CrankNicolsonRK4
from tests.helpers import assert_close, fitted_slope


def _kassam_trefethen():
    """Kassam & Trefethen (2005) sec. 6: u0 = cos(x/16)(1 + sin(x/16)) on [0, 32 pi), 128 points."""
    eq = KuramotoSivashinsky(128)
    x = eq.coordinates()[0]
    return eq, (torch.cos(x / 16) * (1 + torch.sin(x / 16))).reshape(1, 1, -1)


def test_etdrk4_is_fourth_order_on_the_kassam_trefethen_problem():
    eq, u0 = _kassam_trefethen()
    stepper = ETDRK4()
    ref = integrate(eq, u0, [10.0], stepper=stepper, dt=1 / 64).states[0, -1, 0]
    dts = [0.5, 0.25, 0.125]
    errs = [
        (integrate(eq, u0, [10.0], stepper=stepper, dt=dt).states[0, -1, 0] - ref).abs().max().item()
        for dt in dts
    ]
    slope = fitted_slope(dts, errs)
    print(f"errors {errs}, slope {slope:.2f}")
    assert abs(slope - 4) < 0.4


def test_steppers_agree_and_mean_is_conserved():
    eq, u0 = _kassam_trefethen()
    a = integrate(eq, u0, [0.0, 5.0, 10.0], stepper=ETDRK4(), dt=0.01).states[0, :, 0]
    b = integrate(eq, u0, [0.0, 5.0, 10.0], stepper=CrankNicolsonRK4(), dt=0.001).states[0, :, 0]
    assert_close(b, a, atol=2e-6 * a.abs().max().item(), rtol=0, what="ETDRK4 vs CN-RK4")
    mean = a.mean(dim=-1)
    assert_close(mean, mean[:1].expand(3), atol=1e-14, rtol=0, what="mean")
    assert a[-1].abs().max() > 1.0  # the instability has grown the solution: the test is not trivial


def test_linear_symbol():
    eq = KuramotoSivashinsky(16, length=2 * math.pi, hyperviscosity=0.5)
    k = torch.arange(9, dtype=torch.float64)
    assert_close(eq.linear_symbol(), k**2 - 0.5 * k**4, atol=0, rtol=1e-15)
