"""SteadyProblem as a composition: the same numbers as sampling the coefficient and solving by hand."""

import numpy as np
import pytest
import torch

from specops.solvers.darcy import Darcy
from specops.solvers.problems import make_problem
from specops.solvers.random_fields import CosineRandomField, LognormalField, ThresholdedField
from specops.solvers.steady import SteadyProblem


def test_presets_equal_the_solver_driven_by_hand():
    seeds = [3, 11]
    problem = make_problem("darcy", resolution=9, upsample=2)  # 17 solver nodes stored at 9
    a = ThresholdedField(CosineRandomField((17, 17), 2.0, 3.0), 12.0, 3.0).sample(seeds, dtype=torch.float64)
    u = Darcy(17).solve(a.unsqueeze(1), 1.0)
    data = problem.generate(seeds)
    assert torch.equal(data["a"], a.unsqueeze(1)[..., ::2, ::2].float())
    assert torch.equal(data["u"], u[..., ::2, ::2].float())
    np.testing.assert_array_equal(problem.coords()["x"], np.linspace(0, 1, 9))
    assert problem.solver_resolution == 17 and problem.fields()["u"]["layout"] == "sample channel x y"


def test_a_problem_composed_by_hand():
    field = LognormalField(CosineRandomField((13, 13), 2.0, 3.0), scale=0.5)
    problem = SteadyProblem("lognormal-darcy", field, Darcy(13, method="cg"), forcing=2.0, upsample=3)
    assert problem.shape == (5, 5) and problem.input_fields == ("a",) and problem.output_fields == ("u",)
    meta = problem.metadata()
    assert meta["parameters"] == {"equation": "-div(a grad u) = f", "forcing": 2.0}
    assert (
        meta["solver"].endswith("Jacobi-preconditioned CG")
        and meta["initial_condition"]["sampler"] == "lognormal"
    )
    data = problem.generate([0], dtype=torch.float64)
    assert data["u"].shape == (1, 1, 5, 5) and bool((data["u"][0, 0, 1:-1, 1:-1] > 0).all())


def test_wrong_components_are_reported():
    with pytest.raises(ValueError, match=r"coefficient samples on \(9, 9\), the solver's grid is \(13, 13\)"):
        SteadyProblem("d", CosineRandomField((9, 9)), Darcy(13))
    with pytest.raises(ValueError, match="upsample=5 must divide n - 1"):
        SteadyProblem("d", CosineRandomField((13, 13)), Darcy(13), upsample=5)
