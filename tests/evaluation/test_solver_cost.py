"""The solver's cost at the model's accuracy: convergence of the coarse runs, the choice, identities."""

from __future__ import annotations

import math

import pytest
import torch

from specops.evaluation.solver_cost import equal_accuracy, equal_accuracy_for, spectral_resample
from specops.solvers.problems import make_problem
from tests.helpers import assert_close, fitted_slope


@pytest.fixture(scope="module")
def smooth_darcy():
    # a smooth log-normal coefficient (alpha = 4.5), 33 stored nodes solved on 65: the scheme's second
    # order shows on the coarse grids
    problem = make_problem("darcy", resolution=33, upsample=2, coefficient="lognormal", alpha=4.5)
    data = problem.generate([0, 1], dtype=torch.float64)
    return problem, data["a"], data["u"]


def test_coarse_darcy_errors_decrease_at_the_schemes_order(smooth_darcy):
    problem, a, u = smooth_darcy
    result = equal_accuracy(problem, a, u, u * (1 + 1e-6))  # a target no coarse run reaches
    errors = {run["grid"]: run["rel_l2"] for run in result["tried"]}
    assert list(errors) == ["5x5", "6x6", "9x9", "12x12", "17x17", "22x22", "33x33"] and not result["reached"]
    # nested grids (h = 1/4, 1/8, 1/16): exact injection of the coefficient, second-order scheme and transfer
    nested = [errors["5x5"], errors["9x9"], errors["17x17"]]
    slope = fitted_slope([1 / 4, 1 / 8, 1 / 16], nested)
    assert abs(slope - 2) < 0.3, (nested, slope)
    assert (
        result["closest"]["grid"] == "33x33" and result["setting"] is None and result["s_per_sample"] is None
    )


def test_the_cheapest_run_reaching_the_models_error_is_chosen(smooth_darcy):
    problem, a, u = smooth_darcy
    errors = {run["grid"]: run["rel_l2"] for run in equal_accuracy(problem, a, u, u * (1 + 1e-6))["tried"]}
    # a model whose error lies between those of the 9- and 12-node runs: 12 nodes is the cheapest match
    target = math.sqrt(errors["9x9"] * errors["12x12"])
    result = equal_accuracy(problem, a, u, u * (1 + target))
    assert math.isclose(result["target_rel_l2"], target, rel_tol=1e-9)
    chosen, cheaper = result["setting"], result["tried"][-2]
    assert result["reached"] and chosen["grid"] == "12x12" and chosen["rel_l2"] <= target
    assert cheaper["grid"] == "9x9" and cheaper["rel_l2"] > target
    # by measured time too: every run that was cheaper missed the target
    assert all(r["rel_l2"] > target for r in result["tried"] if r["s_per_sample"] < chosen["s_per_sample"])
    assert result["s_per_sample"] == chosen["s_per_sample"] > 0 and not result["coarsest_grid"]


def test_the_test_grid_run_reproduces_data_solved_on_that_grid():
    # stored without upsampling, the solver's run from the stored input on the test grid is the reference
    darcy = make_problem("darcy", resolution=17, upsample=1)
    data = darcy.generate([3, 4], dtype=torch.float64)
    result = equal_accuracy(darcy, data["a"], data["u"], data["u"] * (1 + 1e-12))
    assert result["setting"]["grid"] == "17x17" and result["setting"]["rel_l2"] < 1e-14
    burgers = make_problem("burgers", resolution=32, upsample=1, t_final=0.1, save_interval=None, dt=2e-3)
    data = burgers.generate([0, 1])
    result = equal_accuracy(burgers, data["u0"], data["u"], data["u"] * (1 + 1e-9))
    assert result["setting"] == {
        "grid": "32",
        "dt": 2e-3,
        "rel_l2": 0.0,
        "s_per_sample": result["s_per_sample"],
        "reaches": True,
    }
    # larger steps were tried first, on every grid; none reached 1e-9
    assert [r["dt"] for r in result["tried"][:: len(result["tried"]) // 4]] == [1.6e-2, 8e-3, 4e-3, 2e-3]


def test_spectral_resampling_is_exact_for_band_limited_fields():
    x = torch.arange(24, dtype=torch.float64) / 24
    u = (torch.sin(2 * math.pi * 3 * x) + 0.5 * torch.cos(2 * math.pi * 7 * x))[None, None]
    fine = spectral_resample(u, (40,))
    xf = torch.arange(40, dtype=torch.float64) / 40
    assert_close(
        fine[0, 0], torch.sin(2 * math.pi * 3 * xf) + 0.5 * torch.cos(2 * math.pi * 7 * xf), atol=1e-13
    )
    assert_close(spectral_resample(fine, (24,)), u, atol=1e-13)


def test_files_without_a_known_solver_give_none(tmp_path):
    from specops.data.generate import generate_dataset
    from tests.data.problems import HeatProblem

    path = generate_dataset(HeatProblem(resolution=16), 4, tmp_path / "heat.h5", progress=False)
    assert equal_accuracy_for(path) is None  # not a registered problem: nothing to rerun


def test_equal_accuracy_for_a_generated_file_uses_its_test_samples(tmp_path):
    from specops.data.generate import generate_dataset

    problem = make_problem("darcy", resolution=9, upsample=1)
    path = generate_dataset(
        problem, 6, tmp_path / "d.h5", progress=False, attrs={"overrides": {"resolution": 9, "upsample": 1}}
    )
    cost = equal_accuracy_for(path, [4, 5], n_samples=8)
    truth = problem.generate([4, 5])["u"].double()
    result = cost(truth * 1.01)
    assert result["n_samples"] == 2 and math.isclose(result["target_rel_l2"], 0.01, rel_tol=1e-6)
    assert result["reached"] and result["setting"]["rel_l2"] <= 0.01
