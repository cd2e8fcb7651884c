"""One entry point: integrate an equation from initial states and return the states at save times."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from specops.progress import Progress
from specops.solvers.base import PeriodicEquation
from specops.solvers.steppers import Stepper, make_stepper


class BlowUpError(FloatingPointError):
    """The solution became NaN or infinite.

    ``samples`` lists the indices (into the batch ``u0``) of the samples that blew up, ``time`` the time by
    which they did, ``dt`` the time step. Callers that know more about the samples (the data generator knows
    their seeds) report them from these attributes.
    """

    def __init__(self, samples: list[int], time: float, dt: float) -> None:
        self.samples = samples
        self.time = time
        self.dt = dt
        super().__init__(
            f"the solution blew up (NaN or inf) in samples {samples} by t={time:.6g} with dt={dt:.4g}; "
            f"reduce dt (see stable_time_step), raise the resolution or the viscosity"
        )


@dataclass
class Trajectory:
    """Saved states ``(batch, time, channel, *space)`` at ``times``, and how they were computed."""

    states: torch.Tensor
    times: torch.Tensor
    steps: int
    dt: float


def stable_time_step(
    equation: PeriodicEquation, u0: torch.Tensor, cfl: float = 0.5, max_dt: float | None = None
) -> float:
    """CFL time step ``dt = cfl * min(dx) / max|u|`` from the initial states (float, shared by the batch).

    The linear terms are implicit or exponential in every stepper, so the explicit advection alone limits
    the step. The speed is measured once on ``u0``; for flows that accelerate pass a smaller ``cfl`` or an
    explicit ``dt``. Note that a batch-dependent ``dt`` makes each sample depend on the others' speeds:
    data generators fix ``dt`` instead.

    Parameters
    ----------
    u0 : Tensor, shape ``(batch, channel, *space)``
    cfl : float
        Courant number, 0.5 by default (jax-cfd's advice: 0.5 to 1 for RK schemes).
    max_dt : float, optional
        Upper bound, used when the flow is at rest.
    """
    if not cfl > 0:
        raise ValueError(f"cfl={cfl} must be positive")
    equation.check_state(u0)
    speed = float(equation.max_speed(equation.to_spectral(u0)).max())
    dx = min(equation.spacing)
    dt = cfl * dx / speed if speed > 0 else math.inf
    if max_dt is not None:
        dt = min(dt, float(max_dt))
    if not math.isfinite(dt):
        raise ValueError("the initial state is at rest, so the CFL step is unbounded; pass max_dt or dt")
    return dt


def _save_times(save_times: Sequence[float] | torch.Tensor, t0: float) -> list[float]:
    times = [float(t) for t in torch.as_tensor(save_times, dtype=torch.float64).flatten().tolist()]
    if not times:
        raise ValueError("save_times is empty; pass at least one time to save")
    if any(not math.isfinite(t) for t in times):
        raise ValueError(f"save_times={times} must be finite")
    if times[0] < t0 or any(b <= a for a, b in itertools.pairwise(times)):
        raise ValueError(f"save_times={times} must increase strictly and start at or after t0={t0}")
    return times


def integrate(
    equation: PeriodicEquation,
    u0: torch.Tensor,
    save_times: Sequence[float] | torch.Tensor,
    *,
    stepper: Stepper | str,
    dt: float | None = None,
    cfl: float = 0.5,
    t0: float = 0.0,
    progress: bool = False,
    check_every: int = 100,
    chunk_size: int | None = None,
) -> Trajectory:
    """Integrate ``equation`` from the states ``u0`` at ``t0`` and return them at ``save_times``.

    Between consecutive save times the interval is split into ``ceil(interval / dt)`` equal steps, so
    every save time is hit exactly and the step never exceeds ``dt``. The state lives in Fourier space
    throughout; samples never interact. Every ``check_every`` steps and at each save, a NaN or inf stops
    the run with a ``BlowUpError`` that names the samples and the time.

    Parameters
    ----------
    equation : PeriodicEquation
    u0 : Tensor, shape ``(batch, channel, *space)``, float32 or float64
        Initial states; their dtype and device are those of the computation.
    save_times : sequence of float
        Strictly increasing, ``>= t0``; a save time equal to ``t0`` returns ``u0`` itself.
    stepper : Stepper or str
        An instance, e.g. ``CrankNicolsonRK4()``, ``ETDRK4()``, or a registered name (``"etdrk4"``,
        ``"crank_nicolson_rk4"``; ``specops list`` shows them).
    dt : float, optional
        Largest time step; by default ``stable_time_step(equation, u0, cfl)``.
    progress : bool
        Show progress over the steps (``specops.progress``: a bar on a terminal, lines on a pipe).
    chunk_size : int, optional
        Samples integrated together. By default the whole batch on GPUs, and on CPUs chunks whose
        temporaries stay near 2 MiB: larger temporaries are fresh ``mmap`` s under glibc's default
        allocator settings, and their page faults cost more than the FFTs (measured on 2 cores: a batch of
        8 at 128^2 float32 takes 6.3 ms per step in one chunk, 4.7 ms in two). The results do not depend
        on the chunking.

    Returns
    -------
    Trajectory with ``states`` of shape ``(batch, len(save_times), channel, *space)``.
    """
    if not isinstance(equation, PeriodicEquation):
        steady = callable(getattr(equation, "solve", None))
        raise TypeError(
            f"integrate needs a time-dependent PeriodicEquation (Burgers, KdV, NavierStokes2D, ...), not "
            f"{type(equation).__name__}{'; it is a steady problem: call its solve() instead' if steady else ''}"
        )
    stepper = make_stepper(stepper)
    equation.check_state(u0)
    if check_every < 1:
        raise ValueError(f"check_every={check_every} must be a positive number of steps")
    times = _save_times(save_times, t0)
    if dt is None:
        dt = stable_time_step(equation, u0, cfl)
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt={dt} must be a positive finite time step")

    plan = []  # (number of steps, step) per save interval
    previous = t0
    for t in times:
        interval = t - previous
        n = 0 if interval == 0 else max(1, math.ceil(interval / dt - 1e-9))
        plan.append((n, interval / n if n else 0.0))
        previous = t
    total = sum(n for n, _ in plan)

    batch = u0.shape[0]
    if chunk_size is None:
        chunk_size = default_chunk_size(equation, u0)
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size} must be a positive number of samples")
    n_chunks = math.ceil(batch / chunk_size)
    size = math.ceil(batch / n_chunks)  # balanced: 8 samples in chunks of 7 run as 4 + 4
    chunks = [(i, min(i + size, batch)) for i in range(0, batch, size)]
    bar = None
    if progress:
        bar = Progress(total * len(chunks), desc=equation.name, unit="step", leave=False)
    try:
        parts = [_run(equation, stepper, u0[a:b], a, t0, plan, times, check_every, bar) for a, b in chunks]
    finally:
        if bar is not None:
            bar.close()
    states = parts[0] if len(parts) == 1 else torch.cat(parts)
    return Trajectory(states, torch.tensor(times, dtype=torch.float64), total, float(dt))


def _large_blocks_from_heap() -> bool:
    """Whether glibc was told to serve large blocks from its heap (``MALLOC_MMAP_THRESHOLD_`` of 16 MiB or
    more in the environment): then fresh temporaries cost no page faults and big chunks pay off."""
    try:
        return int(os.environ.get("MALLOC_MMAP_THRESHOLD_", "0")) >= 16 * 1024 * 1024
    except ValueError:
        return False


def default_chunk_size(equation: PeriodicEquation, u0: torch.Tensor) -> int:
    """Samples per chunk: all of them on accelerators; on CPUs about 2 MiB of stacked temporaries (8 MiB
    when the allocator keeps large blocks, see ``_large_blocks_from_heap``)."""
    if u0.device.type != "cpu":
        return max(1, u0.shape[0])
    itemsize = 16 if u0.dtype == torch.float64 else 8
    per_sample = 4 * math.prod(equation.spectral_shape) * equation.n_channels * itemsize
    budget = (8 if _large_blocks_from_heap() else 2) * 1024 * 1024
    # At least two samples where there are two: a transform of a lone field is duplicated to round as in a
    # batch (see base.rfftn), which would double its cost.
    floor = 2 if equation.ndim >= 2 else 1
    return max(1, min(u0.shape[0], max(floor, budget // per_sample)))


def _run(equation, stepper, u0, offset, t0, plan, times, check_every, bar) -> torch.Tensor:
    """Integrate one chunk of samples through every save time: ``(chunk, time, channel, *space)``."""
    u_hat = equation.to_spectral(u0)
    saved = []
    t = t0
    done = reported = 0
    for (n, step), t_save in zip(plan, times):
        for i in range(n):
            u_hat = stepper.step(equation, u_hat, t, step)
            t = t + step
            done += 1
            if (done % check_every == 0) or i == n - 1:
                _check_finite(u_hat, t, step, offset)
            if bar is not None and (done % 50 == 0 or i == n - 1):
                bar.update(done - reported)
                reported = done
        t = t_save  # remove the drift of the summed steps
        saved.append(u0 if n == 0 and t_save == t0 else equation.to_physical(u_hat).to(u0.dtype))
    return torch.stack(saved, dim=1)


def _check_finite(u_hat: torch.Tensor, t: float, dt: float, offset: int = 0) -> None:
    finite = torch.isfinite(torch.view_as_real(u_hat)).flatten(1).all(dim=1)
    if not bool(finite.all()):
        raise BlowUpError([offset + i for i in (~finite).nonzero().flatten().tolist()], t, dt)
