import pytest
import torch

from specops import create_model
from specops.physics.les import LESResidual, SmagorinskyCoefficient, les_equation
from specops.physics.loss import PhysicsLoss
from specops.solvers.integrate import integrate
from specops.solvers.turbulence import SolenoidalRandomField
from specops.training.lesnets import BlockModel, train_lesnets
from tests.helpers import assert_close, fitted_slope

N = 12


def _fields(seeds, dtype=torch.float64):
    return SolenoidalRandomField((N,) * 3, peak=2, energy=0.5).sample(seeds, dtype=dtype)


def test_les_solver_trajectories_have_second_order_residual():
    """The LES solver's own trajectory has only the time-discretisation residual: O(dt^2) for the central
    and trapezoidal schemes; a 1 % perturbation raises it by orders of magnitude."""
    eq = les_equation(N, viscosity=0.02, coefficient=0.01)
    u0 = _fields([0])
    for scheme in ("central", "trapezoidal"):
        dts, norms = [0.04, 0.02], []
        for dt in dts:
            traj = integrate(
                eq, u0, [dt * i for i in range(4)], stepper="crank_nicolson_rk4", dt=dt / 4
            ).states
            norms.append(
                LESResidual(eq, dt, scheme, divergence_weight=0)
                .norm(LESResidual(eq, dt, scheme)(traj))
                .item()
            )
        assert abs(fitted_slope(dts, norms) - 2) < 0.2, (scheme, norms)
    res = LESResidual(eq, 0.02)
    noisy = traj + 0.01 * traj.std() * torch.randn(
        traj.shape, generator=torch.Generator().manual_seed(0), dtype=traj.dtype
    )
    assert res.norm(res(noisy)).item() > 30 * norms[-1]


def test_divergence_penalty_adds_its_squared_norm():
    eq = les_equation(N, viscosity=0.02, coefficient=0.01)
    u = torch.stack([_fields([1]), _fields([2]), _fields([5])], dim=1)  # (1, 3, 3, N, N, N)
    bad = u.clone()
    bad[:, 1:, 0] += 0.1 * torch.sin(torch.arange(N, dtype=torch.float64) * 2 * torch.pi / N).reshape(N, 1, 1)
    plain = LESResidual(eq, 0.1, divergence_weight=0.0)
    weighted = LESResidual(eq, 0.1, divergence_weight=3.0)
    terms = weighted.loss_terms(bad[:, :1], bad[:, 1:])["residual"]
    base = plain.loss_terms(bad[:, :1], bad[:, 1:])["residual"]
    div = weighted.divergence(bad[:, 1:])
    div_sq = (div**2).mean() * (2 * torch.pi) ** 3  # squared L2 norm on the box, mean over the two frames
    assert_close(terms**2, base**2 + 3.0 * div_sq, rtol=1e-10)
    assert_close(
        weighted.loss_terms(u[:, :1], u[:, 1:])["residual"],
        plain.loss_terms(u[:, :1], u[:, 1:])["residual"],
        rtol=1e-12,
    )


def test_learned_smagorinsky_coefficient_gets_the_residual_gradient():
    coefficient = SmagorinskyCoefficient(0.02)
    res = LESResidual(les_equation(N, 0.02, coefficient), 0.05)
    u = torch.stack([_fields([3]), _fields([4]), _fields([6])], dim=1)
    loss = PhysicsLoss(res)(u[:, :1], u[:, 1:])
    (grad,) = torch.autograd.grad(loss, coefficient.value)
    h = 1e-6
    values = []
    for c in (0.02 + h, 0.02 - h):
        values.append(PhysicsLoss(LESResidual(les_equation(N, 0.02, c), 0.05))(u[:, :1], u[:, 1:]).item())
    assert_close(grad, torch.tensor((values[0] - values[1]) / (2 * h), dtype=torch.float64), rtol=1e-5)


def test_lesnets_training_lowers_the_residual_without_labels():
    torch.manual_seed(0)
    fno = create_model("fno", n_modes=(4, 4, 4), in_channels=3, out_channels=6, hidden_channels=8, n_layers=2)
    model = BlockModel(fno, frames=2)
    u0 = _fields(range(4), torch.float32)
    res = LESResidual(les_equation(N, 0.02, 0.01), 0.05)
    history = train_lesnets(model, u0, res, steps=25, lr=3e-3, batch_size=2)
    assert sum(history[-5:]) < 0.5 * sum(history[:5]), history
    assert model.rollout(u0[:1], blocks=3).shape == (1, 7, 3, N, N, N)
    with pytest.raises(ValueError, match="not a 3D velocity"):
        model(torch.zeros(1, 1, N, N))
    with pytest.raises(ValueError, match="out_channels=9"):
        BlockModel(fno, frames=3)


def test_residual_from_a_filtered_dns_files_metadata():
    from specops.physics import residual_from_metadata
    from specops.solvers.problems import make_problem
    from specops.values import ConfigError

    problem = make_problem("hit-fdns", resolution=16, les_grid=8, viscosity=0.03)
    attrs = {"parameters": problem.metadata(), "kind": "trajectory"}  # as a file stores it
    res = residual_from_metadata(attrs, (8, 8, 8), overrides={"params": {"closure": "smagorinsky"}})
    assert isinstance(res, LESResidual) and res.dt == 0.1
    assert res.equation.viscosity == 0.03 and res.equation.closure.coefficient == 0.01
    assert res.equation.shape == (8, 8, 8) and res.equation.closure is not None
    assert residual_from_metadata(attrs, (8, 8, 8)).equation.closure is None  # the DNS equation recorded
    with pytest.raises(ConfigError, match=r"physics\.params\.closure"):
        residual_from_metadata(attrs, (8, 8, 8), overrides={"params": {"closure": "wale"}})
