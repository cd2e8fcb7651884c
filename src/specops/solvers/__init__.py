"""Numerical PDE solvers in PyTorch (batched, seeded, CPU or GPU). Solvers import no neural-network code.

Equations (``PeriodicEquation`` subclasses) split ``du/dt = N(u, t) + L u`` into explicit and implicit
parts; steppers advance any equation; ``integrate`` runs them to save times; problems turn seeds into
datasets: ``EvolutionProblem`` (equation x initial condition x save times x stepper) and ``SteadyProblem``
(coefficient x linear solver), ``LinearProblem`` (parameter fields x sparse systems x a solver of sequences
of systems from ``specops.solvers.linear``), registered presets by ``make_problem``. See ``docs/solvers.md``.
"""

from specops.solvers.base import PeriodicEquation
from specops.solvers.burgers import Burgers
from specops.solvers.darcy import Darcy
from specops.solvers.evolution import EvolutionProblem, SaveTimes
from specops.solvers.heat import Heat, Poisson
from specops.solvers.helmholtz import Helmholtz
from specops.solvers.integrate import BlowUpError, Trajectory, integrate, stable_time_step
from specops.solvers.kdv import KdV
from specops.solvers.ks import KuramotoSivashinsky
from specops.solvers.linear_problem import LinearProblem
from specops.solvers.navier_stokes import FNOForcing, KolmogorovForcing, NavierStokes2D
from specops.solvers.problem import Problem
from specops.solvers.problems import make_problem, problem_arguments
from specops.solvers.random_fields import (
    CosineRandomField,
    GaussianRandomField,
    LognormalField,
    RandomSines,
    ThresholdedField,
)
from specops.solvers.steady import SteadyProblem
from specops.solvers.steppers import (
    ETDRK4,
    CrankNicolsonHeun,
    CrankNicolsonRK4,
    IMEXEuler,
    Stepper,
    make_stepper,
)

__all__ = [
    "ETDRK4",
    "BlowUpError",
    "Burgers",
    "CosineRandomField",
    "CrankNicolsonHeun",
    "CrankNicolsonRK4",
    "Darcy",
    "EvolutionProblem",
    "FNOForcing",
    "GaussianRandomField",
    "Heat",
    "Helmholtz",
    "IMEXEuler",
    "KdV",
    "KolmogorovForcing",
    "KuramotoSivashinsky",
    "LinearProblem",
    "LognormalField",
    "NavierStokes2D",
    "PeriodicEquation",
    "Poisson",
    "Problem",
    "RandomSines",
    "SaveTimes",
    "SteadyProblem",
    "Stepper",
    "ThresholdedField",
    "Trajectory",
    "integrate",
    "make_problem",
    "make_stepper",
    "problem_arguments",
    "stable_time_step",
]
