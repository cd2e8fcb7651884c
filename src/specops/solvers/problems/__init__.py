"""Registered problems and presets: ``make_problem(name, **overrides)`` builds one.

Every module of this package is one problem family: a builder function that turns flat arguments (numbers
and strings, the keys of ``specops generate NAME --set key=value`` and of a dataset's ``overrides``) into
an :class:`~specops.solvers.evolution.EvolutionProblem` or a :class:`~specops.solvers.steady.SteadyProblem`,
and its registry entries ``PROBLEMS.register(name, builder, defaults={every argument})``. A preset is such
an entry, not a subclass. String options (a forcing, a coefficient law) become objects in the builder,
the one place where they are read. The modules are imported when the package is, so adding a problem is
adding one file here (and its equation, if new, to ``specops/solvers``).

Presets: ``burgers-fno``, ``darcy-fno``, ``ns-fno-1e-3``, ``ns-fno-1e-4``, ``ns-fno-1e-5`` reproduce the FNO
benchmarks (Li et al., ICLR 2021); ``burgers``, ``kdv``, ``ks``, ``ns``, ``ns-kolmogorov``, ``darcy`` have
moderate defaults. ``resolution``, ``upsample`` (solver grid ``upsample`` times finer), ``t_final``,
``save_interval``, ``dt`` and ``stepper`` are arguments of every evolution problem.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from specops.registry import PROBLEMS, merge_arguments
from specops.solvers.problem import Problem


def problem_arguments(name: str) -> dict[str, Any]:
    """Every argument of the registered problem or preset ``name`` with its default (what ``--set`` takes)."""
    return dict(PROBLEMS.get(name).defaults)


def make_problem(name: str, **overrides: Any) -> Problem:
    """Build the registered problem or preset ``name``; keyword arguments override its defaults. The
    problem keeps every argument it was built with in ``problem.arguments``.

    >>> problem = make_problem("ns-fno-1e-3", resolution=16, upsample=1, t_final=0.02, save_interval=0.01)
    """
    arguments = problem_arguments(name)
    unknown = sorted(set(overrides) - set(arguments))
    if unknown:
        raise ValueError(
            f"problem {name!r} has no parameter {', '.join(map(repr, unknown))}; its parameters are "
            f"{', '.join(sorted(arguments))}"
        )
    entry = PROBLEMS.get(name)
    merged = merge_arguments(arguments, overrides)  # solver={"recycle": 20} keeps the other solver keys
    problem = entry.target(name=entry.name, **merged)
    problem.arguments = merged  # make_problem(name, **arguments) builds it again
    return problem


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["PROBLEMS", "Problem", "make_problem", "problem_arguments"]
