import math

import pytest
import torch

from specops.solvers.integrate import integrate
from specops.solvers.les import DynamicSmagorinsky, Smagorinsky, strain_magnitude, strain_rate
from specops.solvers.navier_stokes3d import NavierStokes3D
from specops.solvers.problems import make_problem
from specops.solvers.turbulence import SolenoidalRandomField
from specops.spectral.filters import apply_filter, coarse_grain, spectral_truncate, transfer_function
from tests.helpers import assert_close

L = 2 * math.pi


def test_box_filter_is_the_cube_average_of_a_mode():
    """The box filter is the continuous average over [x - D/2, x + D/2] (integrated exactly for sin(k x))."""
    n, width = 16, 0.7
    x = torch.arange(n, dtype=torch.float64) * L / n
    k = 3.0
    u = torch.sin(k * x).reshape(1, 1, n, 1, 1).expand(1, 1, n, n, n).contiguous()
    filtered = apply_filter(u, "box", width, 3, L)
    expected = (torch.cos(k * (x - width / 2)) - torch.cos(k * (x + width / 2))) / (
        k * width
    )  # exact integral
    assert_close(filtered[0, 0, :, 0, 0], expected, atol=1e-14)
    g = transfer_function("gaussian", (8, 8, 8), L, 0.5)
    assert g[0, 0, 0] == 1.0 and bool((g > 0).all() & (g <= 1).all())
    cut = transfer_function("cutoff", (16, 16, 16), L, 2 * L / 16)
    assert_close(
        apply_filter(apply_filter(u, "cutoff", 0.9, 3, L), "cutoff", 0.9, 3, L),
        apply_filter(u, "cutoff", 0.9, 3, L),
    )
    assert int(cut.sum()) == 7 * 7 * 4  # |k_i| < 4 on 16 points: 7 x 7 x 4 rfft modes


def test_coarse_grain_samples_band_limited_fields_and_keeps_divergence_free():
    u = SolenoidalRandomField((16,) * 3, peak=1.5, energy=0.5).sample([0], dtype=torch.float64)
    low = apply_filter(u, "cutoff", 2 * L / 16, 3, L)  # modes |k_i| < 4: representable on 8^3
    assert_close(coarse_grain(low, "cutoff", 2, 3, L), low[..., ::2, ::2, ::2], atol=1e-14)
    assert_close(spectral_truncate(u, (16, 16, 16)), u, atol=1e-14)
    eq8 = NavierStokes3D(8)
    for kind in ("cutoff", "box", "gaussian"):
        c = coarse_grain(u, kind, 2, 3, L)
        assert c.shape == (1, 3, 8, 8, 8)
        assert eq8.divergence(c).abs().max() < 1e-13
    with pytest.raises(ValueError, match="does not divide"):
        coarse_grain(u, "box", 3, 3, L)
    with pytest.raises(ValueError, match="les_grid=5 does not divide"):
        make_problem("hit-les-smagorinsky", resolution=16, les_grid=5)
    with pytest.raises(ValueError, match="les_grid=5 must divide"):
        make_problem("hit-fdns", resolution=16, les_grid=5)


def test_smagorinsky_dissipation_equals_c_delta2_mean_strain_cubed():
    """<u, P(-div tau)> = -<2 nu_t S_ij S_ij> = -C Delta^2 <|S|^3> (for band-limited u, exact)."""
    c = 0.02
    eq = NavierStokes3D(16, viscosity=0.0, closure=Smagorinsky(c))
    u = SolenoidalRandomField((16,) * 3, peak=3, energy=0.5).sample([1, 2], dtype=torch.float64)
    uh = eq.to_spectral(u)
    power = (u * eq.to_physical(eq.explicit_terms(uh))).sum(dim=1).flatten(1).mean(dim=1)
    s = strain_rate(eq.gradients(uh))
    expected = -c * eq.filter_width**2 * strain_magnitude(s).pow(3).flatten(1).mean(dim=1)
    assert_close(power, expected, rtol=1e-11, what="SGS dissipation")
    assert bool((expected < 0).all())


def test_dynamic_coefficient_of_filtered_turbulence_is_physical():
    """Germano-Lilly C = C_s^2 of box-filtered developed DNS lies in [0.005, 0.05] (C_s 0.07 to 0.22); a random
    Gaussian field, with no cascade yet, gives a smaller one."""
    dns = NavierStokes3D(32, viscosity=0.01)
    u0 = SolenoidalRandomField((32,) * 3, peak=4, energy=0.5).sample([0], dtype=torch.float64)
    u = integrate(dns, u0, [0.5], stepper="crank_nicolson_rk4", dt=0.025).states[:, -1]
    les = NavierStokes3D(16, viscosity=0.01, closure=DynamicSmagorinsky())
    coefficients = []
    for field in (u, u0):
        fd = coarse_grain(field, "box", 2, 3, L)
        coefficients.append(les.closure.coefficient(fd, les.gradients(les.to_spectral(fd)), les).item())
    assert 0.005 < coefficients[0] < 0.05, coefficients
    assert coefficients[1] < 0.5 * coefficients[0], coefficients
    # the LES steps and dissipates more than the same grid without a model
    fd = coarse_grain(u, "box", 2, 3, L)
    bare = NavierStokes3D(16, viscosity=0.01)
    e_les = les.energy(integrate(les, fd, [0.1], stepper="crank_nicolson_rk4", dt=0.02).states[:, -1])
    e_bare = bare.energy(integrate(bare, fd, [0.1], stepper="crank_nicolson_rk4", dt=0.02).states[:, -1])
    assert e_les < e_bare


def test_filtered_dns_and_les_problems_start_from_the_same_field():
    small = {"resolution": 16, "les_grid": 8, "t_final": 0.04, "save_interval": 0.02, "dt": 0.02}
    fdns = make_problem("hit-fdns", **small).generate([4], dtype=torch.float64)["u"]
    les = make_problem("hit-les-dynamic", **small).generate([4], dtype=torch.float64)["u"]
    assert fdns.shape == les.shape == (1, 3, 3, 8, 8, 8)
    assert_close(les[:, 0], fdns[:, 0], atol=1e-14)
    problem = make_problem("hit-les-smagorinsky", **small)
    assert problem.fields()["u"]["shape"] == (3, 3, 8, 8, 8)
    assert problem.metadata()["parameters"]["closure"]["coefficient"] == 0.01
