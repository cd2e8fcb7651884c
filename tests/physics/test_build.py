"""Residuals rebuilt from data files' metadata, and the errors for metadata that cannot rebuild one."""

from __future__ import annotations

import math

import pytest
import torch

from specops.data.generate import generate_dataset
from specops.physics import (
    DarcyResidual,
    EvolutionResidual,
    residual_for_file,
    residual_for_problem,
    residual_from_metadata,
)
from specops.solvers import FNOForcing, make_problem
from specops.values import ConfigError
from tests.helpers import assert_close


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("physics-files")
    ns = make_problem("ns-fno-1e-3", resolution=16, upsample=1, t_final=0.02, save_interval=0.01, dt=0.005)
    darcy = make_problem("darcy", resolution=9, forcing=2.0)
    pairs = make_problem("burgers-fno", resolution=32, upsample=1, t_final=0.1, dt=0.01)
    return {
        "ns": generate_dataset(ns, 2, root / "ns.h5", progress=False),
        "darcy": generate_dataset(darcy, 2, root / "darcy.h5", progress=False),
        "pairs": generate_dataset(pairs, 2, root / "pairs.h5", progress=False),
        "ns_problem": ns,
    }


def test_navier_stokes_file_rebuilds_the_solver_equation_and_its_trajectories_have_small_residual(files):
    residual = residual_for_file(files["ns"])
    eq = residual.equation
    assert isinstance(residual, EvolutionResidual)
    assert (eq.shape, eq.lengths, eq.viscosity, residual.dt) == ((16, 16), (1.0, 1.0), 1e-3, 0.01)
    assert isinstance(eq.forcing, FNOForcing) and eq.forcing.amplitude == 0.1
    problem = files["ns_problem"]
    states = problem.generate([0], dtype=torch.float64)["w"]
    r = residual.norm(residual(states))
    # the trapezoidal residual of the solver's own trajectory is its O(dt^2) time error, far below the forcing
    assert r.item() < 1e-3 * residual.norm(torch.full_like(states, 0.1)).item()
    same = residual_for_problem(problem)
    assert same.equation.viscosity == eq.viscosity and same.dt == residual.dt


def test_darcy_file_rebuilds_forcing_and_the_stored_solution_is_its_discrete_solution(files):
    residual = residual_for_file(files["darcy"])
    assert isinstance(residual, DarcyResidual) and residual.forcing == 2.0
    data = make_problem("darcy", resolution=9, forcing=2.0).generate([0], dtype=torch.float64)
    r = residual(data["a"], data["u"])
    assert residual.norm(r).item() < 1e-10


def test_overrides_win_over_metadata(files):
    residual = residual_for_file(
        files["ns"], {"nu": 2e-3, "dt": 0.5, "forcing": "none", "lengths": [2 * math.pi] * 2}
    )
    eq = residual.equation
    assert (eq.viscosity, residual.dt, eq.forcing, eq.lengths) == (2e-3, 0.5, None, (2 * math.pi,) * 2)


def test_missing_parameters_are_named_with_the_setting_that_supplies_them(files):
    attrs = {
        "pde": "burgers",
        "kind": "trajectory",
        "domain": [[0.0, 1.0]],
        "parameters": {"time": {"save_interval": 0.1}},
    }
    with pytest.raises(ConfigError, match=r"'viscosity'.*--set physics.nu="):
        residual_from_metadata(attrs, (16,))
    assert residual_from_metadata(attrs, (16,), overrides={"nu": 0.05}).equation.viscosity == 0.05
    with pytest.raises(ConfigError, match=r"no known equation \(pde='2D_DarcyFlow'\).*physics.pde"):
        residual_from_metadata({"pde": "2D_DarcyFlow"}, (16, 16))
    with pytest.raises(ConfigError, match=r"physics\.forcing=1\.0"):
        residual_from_metadata({"pde": "darcy"}, (16, 16))
    with pytest.raises(ConfigError, match=r"physics\.lengths"):
        residual_from_metadata(
            {"pde": "ks", "parameters": {"hyperviscosity": 1.0}}, (16,), overrides={"dt": 0.1}
        )
    with pytest.raises(ConfigError, match=r"physics\.params\.nonlinearity"):
        residual_from_metadata({"pde": "kdv", "domain": [[0, 40]]}, (16,), overrides={"dt": 0.1})
    with pytest.raises(ConfigError, match=r"physics\.forcing"):
        residual_from_metadata(
            {"pde": "navier_stokes", "domain": [[0, 1]] * 2, "parameters": {"viscosity": 1e-3}}, (8, 8)
        )


def test_pairs_need_a_trajectory_or_an_explicit_interval(files):
    with pytest.raises(ConfigError, match=r"u0 -> u\(T\) pairs.*train\.mode=autoregressive"):
        residual_for_file(files["pairs"])
    residual = residual_for_file(files["pairs"], {"dt": 0.1})
    assert residual.equation.viscosity == 0.1 and residual.dt == 0.1
    assert_close(torch.tensor(residual.lengths), torch.tensor([1.0]))
