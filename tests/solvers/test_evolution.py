"""EvolutionProblem as a composition: the same numbers as driving the equation by hand, any equation, any grid."""

import numpy as np
import pytest
import torch

from specops.data.generate import generate_dataset
from specops.data.io import read_info
from specops.solvers.burgers import Burgers
from specops.solvers.darcy import Darcy
from specops.solvers.evolution import EvolutionProblem, SaveTimes
from specops.solvers.integrate import integrate
from specops.solvers.kdv import KdV
from specops.solvers.navier_stokes import KolmogorovForcing, NavierStokes2D
from specops.solvers.problems import make_problem
from specops.solvers.random_fields import GaussianRandomField, RandomSines
from specops.solvers.steppers import ETDRK4, CrankNicolsonRK4


def test_save_times():
    times = SaveTimes(1.0, 0.25)
    assert times.times == (0.0, 0.25, 0.5, 0.75, 1.0) and times.trajectory
    pair = SaveTimes(2.0)
    assert pair.times == (0.0, 2.0) and not pair.trajectory
    assert pair.parameters() == {"t_final": 2.0, "save_interval": None, "save_times": [0.0, 2.0]}
    with pytest.raises(ValueError, match="whole number of save_interval"):
        SaveTimes(1.0, 0.3)
    with pytest.raises(ValueError, match="t_final=0"):
        SaveTimes(0)


def test_presets_equal_the_equation_driven_by_hand():
    """A registered preset gives bit for bit what its equation, sampler and stepper give without the problem."""
    seeds = [5, 0, 9]
    burgers = make_problem("burgers", resolution=16, upsample=2, t_final=0.1, save_interval=0.05, dt=0.01)
    u0 = GaussianRandomField((32,), 2.0, 5.0, 25.0, 1.0).sample(seeds).unsqueeze(1)
    by_hand = integrate(Burgers(32, 0.01, 1.0), u0, [0.0, 0.05, 0.1], stepper=ETDRK4(), dt=0.01).states
    assert torch.equal(burgers.generate(seeds)["u"], by_hand[..., ::2])

    ns = make_problem(
        "ns-kolmogorov", resolution=8, t_final=0.02, save_interval=None
    )  # upsample 2, [0, 2 pi)
    eq = NavierStokes2D(16, 1e-3, KolmogorovForcing(1.0, 4), 0.1, 2 * np.pi)
    w0 = GaussianRandomField((16, 16), 2.5, 7.0, None, 2 * np.pi).sample(seeds).unsqueeze(1)
    by_hand = integrate(eq, w0, [0.0, 0.02], stepper=CrankNicolsonRK4(), dt=2e-3).states[..., ::2, ::2]
    pairs = ns.generate(seeds)
    assert torch.equal(pairs["w0"], by_hand[:, 0]) and torch.equal(pairs["w"], by_hand[:, 1])


def test_a_problem_composed_by_hand_goes_through_the_data_layer(tmp_path):
    """Not registered, non-square grid and box: the composition alone makes a valid dataset."""
    eq = NavierStokes2D((16, 8), viscosity=1e-2, lengths=(1.0, 2.0))
    problem = EvolutionProblem(
        "decay",
        eq,
        GaussianRandomField((16, 8), 2.5, 7.0, lengths=(1.0, 2.0)),
        SaveTimes(0.02, 0.01),
        stepper="crank_nicolson_rk4",
        dt=5e-3,
        upsample=2,
        field="w",
    )
    assert problem.fields()["w"]["shape"] == (3, 1, 8, 4)
    coords = problem.coords()
    np.testing.assert_array_equal(coords["x"], np.arange(8) / 8)
    np.testing.assert_array_equal(coords["y"], np.arange(4) * 0.5)
    meta = problem.metadata()
    assert meta["domain"] == [[0.0, 1.0], [0.0, 2.0]] and meta["solver_resolution"] == [16, 8]
    assert meta["pde"] == "navier_stokes" and meta["parameters"]["equation"].startswith("w_t")
    out = generate_dataset(problem, 3, tmp_path / "decay.h5", batch_size=2, progress=False)
    info = read_info(out)
    assert info.attrs["kind"] == "trajectory" and info.fields["w"].layout == "sample time channel x y"


def test_wrong_components_are_reported():
    sines = RandomSines(32, 20.0)
    with pytest.raises(TypeError, match=r"equation=Darcy is not a PeriodicEquation.*SteadyProblem"):
        EvolutionProblem("d", Darcy(33), sines, SaveTimes(1.0), stepper="etdrk4", dt=0.1)
    with pytest.raises(
        ValueError, match=r"initial_condition samples on \(16,\), the equation's grid is \(32,\)"
    ):
        EvolutionProblem("k", KdV(32), RandomSines(16, 20.0), SaveTimes(1.0), stepper="etdrk4", dt=0.1)
    with pytest.raises(ValueError, match="upsample=3 must divide"):
        EvolutionProblem("k", KdV(32), sines, SaveTimes(1.0), stepper="etdrk4", dt=0.1, upsample=3)
    with pytest.raises(ValueError, match="at least 4 points"):
        EvolutionProblem("k", KdV(32), sines, SaveTimes(1.0), stepper="etdrk4", dt=0.1, upsample=16)
    with pytest.raises(TypeError, match=r"times=1\.0 must be a SaveTimes"):
        EvolutionProblem("k", KdV(32), sines, 1.0, stepper="etdrk4", dt=0.1)
    with pytest.raises(ValueError, match="unknown stepper 'rk3'"):
        EvolutionProblem("k", KdV(32), sines, SaveTimes(1.0), stepper="rk3", dt=0.1)


def test_the_solver_description_follows_the_dealiasing():
    sines = RandomSines(32, 20.0)
    for dealias, words in ((2 / 3, "2/3 de-aliasing"), (None, "no de-aliasing"), (0.5, "0.5 de-aliasing")):
        problem = EvolutionProblem(
            "k", KdV(32, dealias=dealias), sines, SaveTimes(1.0), stepper="etdrk4", dt=0.1
        )
        assert words in problem.metadata()["solver"]
