"""Residuals of exact solutions vanish at the expected order; autograd gradients match finite differences."""

from __future__ import annotations

import math

import pytest
import torch

from specops.physics import DarcyResidual, EvolutionResidual, FourierTime, regrid
from specops.solvers import Burgers, Darcy, FNOForcing, KdV, KuramotoSivashinsky, NavierStokes2D, integrate
from specops.solvers.reference import (
    burgers_cole_hopf,
    darcy_manufactured,
    kdv_soliton,
    taylor_green_vorticity,
)
from specops.spectral.grid import meshgrid
from tests.helpers import assert_close, fitted_slope

NU = 0.1


def cole_hopf_frames(eq: Burgers, n_frames: int, t_final: float) -> torch.Tensor:
    (x,) = eq.coordinates()
    dt = t_final / (n_frames - 1)
    frames = [burgers_cole_hopf(x, n * dt, NU) for n in range(n_frames)]
    return torch.stack(frames).reshape(1, n_frames, 1, -1)


@pytest.mark.parametrize("scheme", ["trapezoidal", "central"])
def test_burgers_cole_hopf_residual_is_second_order_in_dt(scheme):
    eq = Burgers(64, viscosity=NU)
    steps, errors = [], []
    for n_frames in (9, 17, 33):
        dt = 0.2 / (n_frames - 1)
        residual = EvolutionResidual(eq, dt, scheme)
        errors.append(residual.norm(residual(cole_hopf_frames(eq, n_frames, 0.2))).item())
        steps.append(dt)
    assert abs(fitted_slope(steps, errors) - 2.0) < 0.15, errors


def test_one_step_form_equals_the_trapezoidal_trajectory_residual():
    eq = Burgers(32, viscosity=NU)
    u = cole_hopf_frames(eq, 3, 0.1)
    residual = EvolutionResidual(eq, 0.05)
    full = residual(u)
    assert_close(residual.one_step(u[:, 0], u[:, 1]), full[:, 0], rtol=1e-12, atol=1e-12)
    assert_close(residual.one_step(u[:, 1], u[:, 2]), full[:, 1], rtol=1e-12, atol=1e-12)


def test_burgers_residual_on_a_finer_grid_of_the_same_solution():
    """The equation follows the fields' grid: a trajectory sampled on 128 points has the same residual norm
    as on 64 to the truncation error of the 64-point grid (about 1e-8 for this solution), and the
    parameters carry over."""
    eq = Burgers(64, viscosity=NU)
    residual = EvolutionResidual(eq, 0.05)
    coarse = residual.norm(residual(cole_hopf_frames(eq, 5, 0.2)))
    fine = residual.norm(residual(cole_hopf_frames(Burgers(128, viscosity=NU), 5, 0.2)))
    assert residual.on_grid((128,)).viscosity == NU and residual.on_grid((128,)).shape == (128,)
    assert_close(fine, coarse, rtol=1e-6, what="residual norm on 128 vs 64 points")


def test_taylor_green_residual_is_second_order_and_h_minus_1_norm_is_smaller():
    eq = NavierStokes2D(16, viscosity=1e-2)
    x, y = meshgrid((16, 16), 1.0, dtype=torch.float64)
    steps, errors = [], []
    for n_frames in (3, 5, 9):
        dt = 0.5 / (n_frames - 1)
        w = torch.stack([taylor_green_vorticity(x, y, n * dt, 1e-2) for n in range(n_frames)])
        residual = EvolutionResidual(eq, dt)
        r = residual(w.reshape(1, n_frames, 1, 16, 16))
        errors.append(residual.norm(r).item())
        steps.append(dt)
        # sin(2 pi x) sin(2 pi y): |k|^2 = 8 pi^2 for every mode, so the H^-1 norm is the L2 norm / sqrt(0.1 + 8 pi^2)
        assert_close(residual.norm(r, s=-1, alpha=0.1), residual.norm(r) / math.sqrt(0.1 + 8 * math.pi**2))
    assert abs(fitted_slope(steps, errors) - 2.0) < 0.1, errors


def test_forced_navier_stokes_steady_state_has_zero_residual():
    """``w = f / (nu |k|^2)`` for the FNO forcing depends on x + y only, so u . grad w = 0: a steady
    solution. Its residual vanishes to rounding, and without the forcing it is ``f`` (``nu lap w = -f``)."""
    nu = 1e-2
    eq = NavierStokes2D(16, viscosity=nu, forcing=FNOForcing())
    x, y = meshgrid((16, 16), 1.0, dtype=torch.float64)
    f = FNOForcing()(x, y, (1.0, 1.0))
    w = (f / (nu * 8 * math.pi**2)).expand(1, 3, 1, 16, 16)
    residual = EvolutionResidual(eq, 0.1, "central")
    assert residual.norm(residual(w)).item() < 1e-13
    unforced = EvolutionResidual(NavierStokes2D(16, viscosity=nu), 0.1)
    assert_close(unforced(w)[0, 0, 0], f, rtol=1e-10, atol=1e-12)


def test_kdv_soliton_fourier_in_time_converges_spectrally():
    """The soliton on a periodic interval is periodic in time with period L / c: over one period the
    Fourier time derivative converges spectrally while central differences gain only 2x per halving... 4x."""
    length, speed, n = 40.0, 1.0, 128
    eq = KdV(n, length=length)
    (x,) = eq.coordinates()
    errors = {}
    for scheme in (FourierTime(), "central"):
        for n_frames in (32, 64):
            dt = length / speed / n_frames
            u = torch.stack([kdv_soliton(x, k * dt, speed, x0=20.0, length=length) for k in range(n_frames)])
            residual = EvolutionResidual(eq, dt, scheme)
            errors[(str(scheme), n_frames)] = residual.norm(residual(u.reshape(1, n_frames, 1, n))).item()
    assert errors[("FourierTime()", 64)] < 1e-4
    assert errors[("FourierTime()", 32)] / errors[("FourierTime()", 64)] > 100
    assert 3.0 < errors[("central", 32)] / errors[("central", 64)] < 5.0


def test_ks_solver_trajectory_residual_is_second_order_in_the_frame_interval():
    eq = KuramotoSivashinsky(64, length=8 * math.pi)
    (x,) = eq.coordinates()
    u0 = (torch.cos(x / 4) * (1 + torch.sin(x / 4))).reshape(1, 1, 64)
    traj = integrate(eq, u0, [i * 0.05 for i in range(9)], stepper="etdrk4", dt=0.005).states
    errors, steps = [], []
    for stride in (4, 2, 1):
        frames = traj[:, ::stride]
        residual = EvolutionResidual(eq, 0.05 * stride)
        errors.append(residual.norm(residual(frames)).item())
        steps.append(0.05 * stride)
    assert abs(fitted_slope(steps, errors) - 2.0) < 0.2, errors


def darcy_grid(n: int):
    g = torch.linspace(0, 1, n, dtype=torch.float64)
    a, f, u = darcy_manufactured(*torch.meshgrid(g, g, indexing="ij"))
    return a[None, None], f, u[None, None]


def test_darcy_manufactured_residual_is_second_order_and_solver_solution_is_exact():
    errors, steps = [], []
    for n in (17, 33, 65):
        a, f, u = darcy_grid(n)
        residual = DarcyResidual(f)
        errors.append(residual.norm(residual(a, u)).item())
        steps.append(1 / (n - 1))
        assert residual.boundary_norm(u).item() < 1e-14
        exact = Darcy(n).solve(a, f)
        assert residual.norm(residual(a, exact)).item() < 1e-10 * residual.norm(residual(a, 0 * u)).item()
    assert abs(fitted_slope(steps, errors) - 2.0) < 0.1, errors


def test_darcy_boundary_norm_of_a_constant():
    _, _, u = darcy_grid(9)
    residual = DarcyResidual(1.0)
    # u = 1 on the boundary of the unit square: (h * 4 (n - 1) * 1)^{1/2} = 2
    assert_close(
        residual.boundary_norm(torch.ones_like(u)), torch.tensor([2.0], dtype=torch.float64), rtol=1e-12
    )


def test_residual_norm_gradients_match_finite_differences():
    eq = Burgers(8, viscosity=NU)
    evolution = EvolutionResidual(eq, 0.1)
    u = (
        0.3 * torch.randn(1, 3, 1, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: evolution.norm(evolution(v), s=-1.0, alpha=0.1), (u,))
    a, f, w = darcy_grid(6)
    darcy = DarcyResidual(f)
    w = (w + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: darcy.norm(darcy(a, v)) + darcy.boundary_norm(v), (w,))


def test_regrid_keeps_parameters_and_refuses_custom_masks():
    eq = NavierStokes2D(16, viscosity=3e-3, forcing=FNOForcing(), drag=0.1, lengths=2.0)
    fine = regrid(eq, (32, 32))
    assert (fine.shape, fine.lengths, fine.viscosity, fine.drag, fine.forcing) == (
        (32, 32),
        (2.0, 2.0),
        3e-3,
        0.1,
        eq.forcing,
    )
    assert eq.shape == (16, 16)
    masked = Burgers(16, dealias=torch.ones(9, dtype=torch.bool))
    with pytest.raises(ValueError, match="custom de-aliasing mask"):
        regrid(masked, (32,))


def test_bad_shapes_are_named():
    residual = EvolutionResidual(Burgers(16), 0.1)
    with pytest.raises(ValueError, match="add the time axis"):
        residual(torch.zeros(2, 1, 16))
    with pytest.raises(ValueError, match="Trapezoidal"):
        EvolutionResidual(Burgers(16), 0.1, "central")(torch.zeros(2, 2, 1, 16))
    with pytest.raises(ValueError, match="same square grid"):
        DarcyResidual()(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 5, 6))
