"""The solver's cost at the model's accuracy: the cheapest solver run, from the same inputs, whose error
against the test set's reference is no larger than the model's.

A trained operator is worth its inference time against what the solver needs for the same accuracy, not
against the run that made the (much more accurate) reference. For a test set made by a specops problem,
:func:`equal_accuracy` solves a few of its samples again from their stored inputs (the information the
model gets) on coarser grids and, for evolution problems, with larger time steps; interpolates each
solution to the test grid; measures its relative L2 error against the stored reference and its wall time;
and reports the cheapest run whose error, on the same samples, is no larger than the model's.

How a run is made:

- Darcy (nodes on ``[0, 1]^2``, boundary included): the coefficient is interpolated bilinearly to the
  coarse nodes (exact injection where the grids nest), the five-point scheme is solved there, and the
  pressure is interpolated bilinearly back to the test nodes; both transfers are second order, like the
  scheme.
- Periodic evolution pairs ``u0 -> u(T)``: the initial state is truncated spectrally to the coarse grid
  (modes ``|k| < m / 2``), integrated with the problem's equation and stepper at ``dt * factor``, and
  interpolated spectrally (zero padding) back to the test grid.

Time steps are tried from the largest down; for each, grids from coarse to fine, stopping at the first that
reaches the target (a finer grid at the same step only costs more, and so does the same or a finer grid at
a smaller step, so smaller steps only try coarser grids than that); a run that blows up does not reach it.
The cheapest run is the one with the least measured time among those that reach it. Why not regenerate from the seeds: the
samplers are not grid-consistent (a GRF's noise, and a cosine field's default mode count, depend on the
grid), so the same seed on another grid is another sample.

Error: per output field, the mean over samples of ``||u - u_ref|| / ||u_ref||``; a run reaches the model
when it is no larger than the model's on every field (the target reported is the largest field's).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from specops import metrics
from specops.solvers.integrate import BlowUpError
from specops.spectral.fft import irfft_modes, rfft_modes

_RATIOS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
_DT_FACTORS = (8.0, 4.0, 2.0, 1.0)


def spectral_resample(u: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Periodic ``u (..., *space)`` on another grid ``shape`` by its Fourier series.

    Keeps the modes ``|k_j| < min(n_j, m_j) / 2`` (the Nyquist mode of an even grid is dropped: it has no
    unique real continuation), so resampling to a finer grid and back is the identity on band-limited fields.
    """
    d = len(shape)
    if tuple(u.shape[-d:]) == tuple(shape):
        return u
    keep = [2 * (math.ceil(min(n, m) / 2) - 1) + 1 for n, m in zip(u.shape[-d:], shape)]
    return irfft_modes(rfft_modes(u, keep, method="fft"), shape, method="fft").to(u.dtype)


class _Darcy:
    """Coarse Darcy solves from the stored coefficient (bilinear transfers on the node grid)."""

    transfer = "bilinear interpolation of the coefficient to the coarse nodes and of the solution back"

    def __init__(self, problem) -> None:
        self.problem = problem

    def grids(self, n: int) -> list[int]:
        intervals = {max(4, round((n - 1) / r)) for r in _RATIOS}
        return sorted(k + 1 for k in intervals if k + 1 <= n)

    def dt_factors(self) -> tuple[float | None, ...]:
        return (None,)

    def solve(self, a: torch.Tensor, m: int, factor: float | None) -> torch.Tensor:
        from specops.solvers.darcy import Darcy

        n = a.shape[-1]
        coarse = F.interpolate(a.double(), size=(m, m), mode="bilinear", align_corners=True)
        solver = Darcy(m, face_average=self.problem.solver.face_average, method=self.problem.solver.method)
        u = solver.solve(coarse, self.problem.forcing)
        return F.interpolate(u, size=(n, n), mode="bilinear", align_corners=True)


class _Evolution:
    """Coarse solves of a periodic evolution pair ``u0 -> u(T)`` from the stored initial state."""

    transfer = "spectral truncation of the initial state to the coarse grid and spectral interpolation back"

    def __init__(self, problem, dtype: torch.dtype) -> None:
        self.problem, self.dtype = problem, dtype

    def grids(self, n: int) -> list[int]:
        sizes = {max(8, 2 * round(n / r / 2)) for r in _RATIOS}
        return [*sorted(m for m in sizes if m < n), n]

    def dt_factors(self) -> tuple[float | None, ...]:
        return _DT_FACTORS

    def solve(self, u0: torch.Tensor, m: int, factor: float | None) -> torch.Tensor:
        from specops.solvers.integrate import integrate
        from specops.solvers.problems import make_problem

        p = self.problem
        shape = u0.shape[-p.ndim :]
        coarse = make_problem(p.name, **{**p.arguments, "resolution": m, "upsample": 1})
        start = spectral_resample(u0.to(self.dtype), (m,) * p.ndim)
        traj = integrate(coarse.equation, start, p.times.times, stepper=p.stepper, dt=factor * p.dt)
        return spectral_resample(traj.states[:, -1], shape)


def _runner(problem, dtype: torch.dtype):
    from specops.solvers.evolution import EvolutionProblem
    from specops.solvers.steady import SteadyProblem

    if isinstance(problem, SteadyProblem):
        return _Darcy(problem)
    if isinstance(problem, EvolutionProblem) and not problem.trajectory and hasattr(problem, "arguments"):
        return _Evolution(problem, dtype)
    return None


def _errors(u: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-field mean relative L2 error over the samples, ``(C,)``."""
    return metrics.relative_l2(u.double(), ref.double()).mean(0)


def _timed(run: Callable[[], torch.Tensor], n: int) -> tuple[torch.Tensor, float]:
    """The result of ``run`` and its wall time per sample (best of 3 when one run takes under 0.1 s)."""
    start = time.perf_counter()
    out = run()
    best = time.perf_counter() - start
    if best < 0.1:
        for _ in range(2):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
    return out, best / n


def equal_accuracy(
    problem,
    inputs: torch.Tensor,
    reference: torch.Tensor,
    prediction: torch.Tensor,
    *,
    dtype: torch.dtype = torch.float32,
    budget_s: float = 60.0,
) -> dict[str, Any] | None:
    """The cheapest solver run from ``inputs`` whose error against ``reference`` is no larger than the model's.

    Parameters
    ----------
    problem : a specops ``Problem`` (Darcy, or an evolution problem stored as ``u0 -> u(T)`` pairs)
    inputs, reference, prediction : Tensor ``(k, C, *space)``
        The stored inputs and outputs of ``k`` test samples and the model's decoded predictions for them.
    dtype : precision of evolution solves (the data's; Darcy solves in float64)
    budget_s : stop trying further runs once this much time is spent

    Returns
    -------
    ``{"target_rel_l2", "model_rel_l2" (per field), "n_samples", "method", "reached", "setting": {"grid",
    "dt", "rel_l2", "s_per_sample"} or None, "s_per_sample", "coarsest_grid" (the chosen grid is the
    coarsest tried: coarser ones might be cheaper still), "closest" (the most accurate run, when none
    reaches the target), "tried": [runs], "budget_exhausted"}``; None when the problem has no runner.
    """
    runner = _runner(problem, dtype)
    if runner is None or inputs.shape[1] != 1:
        return None
    if not (inputs.shape[0] == reference.shape[0] == prediction.shape[0] >= 1):
        raise ValueError(
            f"inputs, reference and prediction have {inputs.shape[0]}, {reference.shape[0]} and "
            f"{prediction.shape[0]} samples; pass the same samples to all three"
        )
    model_err = _errors(prediction, reference)
    target = float(model_err.max())
    grids = runner.grids(inputs.shape[-1])
    if not grids:
        return None
    k = inputs.shape[0]
    tried: list[dict[str, Any]] = []
    spent = 0.0
    ceiling = len(grids)  # a grid this fine already reached the target with a larger step: finer costs more
    for factor in runner.dt_factors():
        dt = None if factor is None else factor * problem.dt
        for index, m in enumerate(grids[:ceiling]):
            if spent > budget_s:
                break
            start = time.perf_counter()
            try:
                u, seconds = _timed(lambda m=m, f=factor: runner.solve(inputs, m, f), k)
                err = _errors(u, reference)
            except BlowUpError:  # unstable at this step: it does not reach the target
                err, seconds = None, None
            spent += time.perf_counter() - start
            ok = err is not None and bool(torch.isfinite(err).all())
            run = {
                "grid": "x".join([str(m)] * (inputs.dim() - 2)),
                "dt": dt,
                "rel_l2": float(err.max()) if ok else None,
                "s_per_sample": seconds,
                "reaches": ok and bool((err <= model_err).all()),
            }
            tried.append(run)
            if run["reaches"]:
                ceiling = index
                break  # finer grids at this step cost more
    exhausted = spent > budget_s
    reaching = [r for r in tried if r["reaches"]]
    best = min(reaching, key=lambda r: r["s_per_sample"]) if reaching else None
    finite = [r for r in tried if r["rel_l2"] is not None]
    closest = min(finite, key=lambda r: r["rel_l2"]) if finite and best is None else None
    coarsest = "x".join([str(grids[0])] * (inputs.dim() - 2))
    return {
        "target_rel_l2": target,
        "model_rel_l2": [float(v) for v in model_err],
        "n_samples": int(k),
        "method": runner.transfer,
        "reached": best is not None,
        "setting": best,
        "s_per_sample": best["s_per_sample"] if best else None,
        "coarsest_grid": best is not None and best["grid"] == coarsest,
        "closest": closest,
        "tried": tried,
        "budget_exhausted": exhausted,
    }


def equal_accuracy_fn(
    problem,
    inputs: torch.Tensor,
    reference: torch.Tensor,
    *,
    n_samples: int = 8,
    dtype: torch.dtype = torch.float32,
    budget_s: float = 60.0,
) -> Callable[[torch.Tensor], dict[str, Any] | None] | None:
    """``prediction -> equal_accuracy(...)`` on the first ``n_samples`` of a test set ``(inputs, reference)``
    (the prediction is that of the whole test set, in order); None if the problem has no runner."""
    if problem is None or _runner(problem, dtype) is None:
        return None
    k = max(1, int(n_samples))
    x, y = inputs[:k].double(), reference[:k].double()

    def cost(prediction: torch.Tensor) -> dict[str, Any] | None:
        return equal_accuracy(problem, x, y, prediction[: len(x)], dtype=dtype, budget_s=budget_s)

    return cost


def _read_pairs(path: str | os.PathLike, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    from specops.data.datasets import OperatorDataset

    data = OperatorDataset(path, indices=list(indices), dtype=torch.float64)
    try:
        items = [data[i] for i in range(len(data))]
    finally:
        data.close()
    return torch.stack([it["x"] for it in items]), torch.stack([it["y"] for it in items])


def equal_accuracy_for(
    path: str | os.PathLike,
    indices: Sequence[int] | None = None,
    *,
    n_samples: int = 8,
    budget_s: float = 60.0,
) -> Callable[[torch.Tensor], dict[str, Any] | None] | None:
    """:func:`equal_accuracy_fn` for the test set of the file ``path`` made of ``indices`` (default all), in
    that order. None if no solver is known for the file (converted data, trajectories, another problem)."""
    from specops.data.io import read_info
    from specops.evaluation.files import file_dtype, problem_for_file

    info = read_info(path)
    if str(info.attrs.get("kind")) != "operator" or int(n_samples) < 1:
        return None
    problem = problem_for_file(path)
    dtype = file_dtype(info.attrs)
    if problem is None or _runner(problem, dtype) is None:
        return None
    chosen = list(range(int(info.attrs["n_samples"])) if indices is None else indices)[: int(n_samples)]
    x, y = _read_pairs(path, chosen)
    return equal_accuracy_fn(problem, x, y, n_samples=len(chosen), dtype=dtype, budget_s=budget_s)
