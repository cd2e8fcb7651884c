import pytest
import torch

from specops.solvers.base import PeriodicEquation
from specops.solvers.burgers import Burgers
from specops.solvers.darcy import Darcy
from specops.solvers.integrate import BlowUpError, default_chunk_size, integrate, stable_time_step
from specops.solvers.kdv import KdV
from specops.solvers.navier_stokes import FNOForcing, NavierStokes2D
from specops.solvers.random_fields import GaussianRandomField
from specops.solvers.reference import burgers_cole_hopf
from specops.solvers.steppers import ETDRK4, CrankNicolsonRK4, IMEXEuler
from tests.helpers import assert_close


def _burgers_state(n=128, nu=0.05):
    eq = Burgers(n, nu)
    x = eq.coordinates()[0]
    return eq, burgers_cole_hopf(x, 0.0, nu).reshape(1, 1, n), x


def test_save_times_are_hit_exactly_and_t0_returns_the_input():
    eq, u0, x = _burgers_state()
    times = [0.0, 0.1, 0.253, 0.3]  # intervals that are not all multiples of dt
    traj = integrate(eq, u0, times, stepper=ETDRK4(), dt=0.005)
    assert traj.states.shape == (1, 4, 1, 128)
    assert torch.equal(traj.states[:, 0], u0)
    assert traj.steps == 20 + 31 + 10  # ceil(0.1 / 0.005) + ceil(0.153 / 0.005) + ceil(0.047 / 0.005)
    for i, t in enumerate(times):
        assert_close(traj.states[0, i, 0], burgers_cole_hopf(x, t, 0.05), atol=1e-7, rtol=0, what=f"t={t}")
    assert_close(traj.times, torch.tensor(times, dtype=torch.float64), atol=0, rtol=0)


def test_batch_equals_samples_run_alone_bit_for_bit():
    eq = NavierStokes2D(32, 1e-3, FNOForcing())
    w0 = GaussianRandomField((32, 32), 2.5, 7).sample(range(5), dtype=torch.float32).unsqueeze(1)
    stepper = CrankNicolsonRK4()
    batch = integrate(eq, w0, [0.0, 0.02, 0.04], stepper=stepper, dt=0.01, chunk_size=5).states
    for i in range(5):
        alone = integrate(eq, w0[i : i + 1], [0.0, 0.02, 0.04], stepper=stepper, dt=0.01).states
        assert torch.equal(alone[0], batch[i])
    chunked = integrate(eq, w0, [0.0, 0.02, 0.04], stepper=stepper, dt=0.01, chunk_size=2).states
    assert torch.equal(chunked, batch)


def test_blow_up_names_the_samples_and_the_time():
    eq = KdV(32, length=10.0)
    x = eq.coordinates()[0]
    u0 = torch.stack([torch.sin(2 * torch.pi * x / 10) * a for a in (30.0, 0.0, 30.0)]).unsqueeze(1)
    with pytest.raises(BlowUpError, match=r"samples \[0, 2\] by t=") as info:
        integrate(eq, u0, [5.0], stepper=IMEXEuler(), dt=0.05, check_every=1)
    assert info.value.samples == [0, 2] and 0 < info.value.time <= 5.0


def test_stable_time_step_is_the_cfl_formula():
    eq, u0, _ = _burgers_state(64)
    dt = stable_time_step(eq, u0, cfl=0.5)
    assert dt == pytest.approx(0.5 * (1 / 64) / u0.abs().max().item(), rel=1e-12)
    with pytest.raises(ValueError, match="at rest"):
        stable_time_step(eq, torch.zeros_like(u0))
    assert stable_time_step(eq, torch.zeros_like(u0), max_dt=0.1) == 0.1
    traj = integrate(eq, u0, [0.05], stepper=CrankNicolsonRK4())  # dt from the CFL condition
    assert traj.dt == pytest.approx(dt)


def test_progress_bar_does_not_change_results(capsys):
    eq, u0, _ = _burgers_state(32)
    quiet = integrate(eq, u0, [0.1], stepper=ETDRK4(), dt=0.01)
    loud = integrate(eq, u0, [0.1], stepper=ETDRK4(), dt=0.01, progress=True)
    assert torch.equal(quiet.states, loud.states)


def test_bad_arguments_are_reported():
    eq, u0, _ = _burgers_state(32)
    with pytest.raises(ValueError, match="unknown stepper 'rk4'"):
        integrate(eq, u0, [0.1], stepper="rk4", dt=0.01)
    with pytest.raises(ValueError, match="must be a Stepper or one of"):
        integrate(eq, u0, [0.1], stepper=4, dt=0.01)
    with pytest.raises(ValueError, match="increase strictly"):
        integrate(eq, u0, [0.2, 0.1], stepper=ETDRK4(), dt=0.01)
    with pytest.raises(ValueError, match="start at or after t0"):
        integrate(eq, u0, [0.1], stepper=ETDRK4(), dt=0.01, t0=0.5)
    with pytest.raises(ValueError, match=r"dt=-0\.1"):
        integrate(eq, u0, [0.1], stepper=ETDRK4(), dt=-0.1)
    with pytest.raises(ValueError, match="expects"):
        integrate(eq, u0[0], [0.1], stepper=ETDRK4(), dt=0.01)


def test_default_chunks_bound_temporaries_on_cpu(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    eq = NavierStokes2D(256)
    # float64 256^2 samples exceed the 2 MiB budget alone, but 2D chunks hold two: a lone field's
    # transform would be duplicated to round as in a batch
    assert default_chunk_size(eq, torch.zeros(8, 1, 256, 256, dtype=torch.float64)) == 2
    assert default_chunk_size(eq, torch.zeros(1, 1, 256, 256)) == 1
    assert default_chunk_size(NavierStokes2D(128), torch.zeros(64, 1, 128, 128)) == 7
    small = NavierStokes2D(16)
    assert default_chunk_size(small, torch.zeros(3, 1, 16, 16)) == 3


def test_chunks_grow_when_the_allocator_keeps_large_blocks(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", str(16 * 2**30))
    assert default_chunk_size(NavierStokes2D(128), torch.zeros(8, 1, 128, 128, dtype=torch.float64)) == 8


def test_a_stepper_by_name_is_the_registered_stepper():
    eq, u0, _ = _burgers_state(32)
    for name, stepper in (("etdrk4", ETDRK4()), ("crank_nicolson_rk4", CrankNicolsonRK4())):
        by_name = integrate(eq, u0, [0.05, 0.1], stepper=name, dt=0.01).states
        assert torch.equal(by_name, integrate(eq, u0, [0.05, 0.1], stepper=stepper, dt=0.01).states)


def test_a_steady_solver_is_refused_in_one_line_naming_it():
    a = torch.ones(1, 1, 9, 9)
    with pytest.raises(
        TypeError, match=r"PeriodicEquation .*not Darcy; it is a steady problem: call its solve\(\)"
    ):
        integrate(Darcy(9), a, [0.1], stepper=ETDRK4(), dt=0.01)
    with pytest.raises(TypeError, match="not str"):
        integrate("burgers", a, [0.1], stepper="etdrk4", dt=0.01)


def test_the_equation_registry_holds_only_what_integrate_advances():
    import specops.solvers  # noqa: F401  (registers everything)
    from specops.registry import EQUATIONS, STEADY_SOLVERS

    assert all(issubclass(entry.target, PeriodicEquation) for entry in EQUATIONS.entries())
    assert "darcy" in STEADY_SOLVERS and "darcy" not in EQUATIONS
