"""``specops observe`` and ``specops assimilate``: synthetic sensors of a trajectory file; NODA and EnKF runs.

``assimilate`` starts every method from the same wrong background ``u(t_0) + e_0 rms(u) xi`` (``xi`` smooth unit-rms noise, ``smooth_perturbation``) (``e_0`` =
``init_error``) and reports the relative L2 error against the truth at every frame for

- ``rollout``: the model stepped from the *true* initial state with no data (the surrogate's forecast);
- ``noda``: the NODA recursion with the measurements (when the run is a NODA model);
- ``noda_no_data``: the same recursion from the background without measurements;
- ``enkf_solver`` / ``enkf_model``: the stochastic EnKF with the file's own solver or the model as forecast,

with the wall time per assimilation cycle of each.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from specops.assimilation.enkf import EnsembleKalmanFilter
from specops.assimilation.noda import NODA
from specops.assimilation.obsfile import (
    Observations,
    TrajectoryData,
    check_match,
    observe,
    read_observations,
    read_trajectories,
    write_observations,
)
from specops.atomic import atomic_path
from specops.physics.build import equation_from_metadata
from specops.solvers.integrate import integrate
from specops.spectral.filters import smooth_perturbation
from specops.values import ConfigError

EnKFChoice = Literal["none", "solver", "model", "both"]


def make_observations(
    data_path: str | os.PathLike, out: str | os.PathLike, *, sensors: int, noise: float, seed: int = 0,
    every: int = 1, varying: bool = False, overwrite: bool = False,
) -> Observations:  # fmt: skip
    """Write ``OBS.h5``: ``sensors`` random points, relative ``noise``, every ``every``-th frame."""
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    data = read_trajectories(data_path)
    obs = observe(data, sensors=sensors, noise=noise, seed=seed, every=every, varying=varying)
    write_observations(obs, data, data_path, out, overwrite=overwrite)
    return obs


def relative_errors(estimate: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """``|u - u_true| / |u_true|`` per sample and frame, ``(B, T)``."""
    diff = (estimate.double() - truth.double()).flatten(2).norm(dim=-1)
    return (diff / truth.double().flatten(2).norm(dim=-1).clamp(min=1e-300)).numpy()


def solver_forecast(data: TrajectoryData) -> Callable[[torch.Tensor], torch.Tensor]:
    """One frame interval of the file's own solver (equation, stepper and time step from its metadata)."""
    attrs = data.attrs
    equation = equation_from_metadata(attrs, data.shape)
    interval = float(data.times[1] - data.times[0])
    stepper, dt = attrs.get("stepper"), attrs.get("dt")
    if not isinstance(stepper, str) or not isinstance(dt, (int, float)):
        raise ConfigError(
            "the trajectory file records no solver stepper/dt: EnKF with the solver needs a generated file"
        )

    def step(u: torch.Tensor) -> torch.Tensor:
        return integrate(equation, u, [interval], stepper=stepper, dt=float(dt)).states[:, -1].to(u.dtype)

    return step


def _model(run: str | os.PathLike) -> tuple[torch.nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """The run's model and its one-step forecast in physical units."""
    from specops.models.serialization import load
    from specops.pipeline.evaluate import load_predictor

    path = Path(run)
    if not path.exists():
        raise FileNotFoundError(
            f"{run} does not exist: give a NODA model file or a `specops train` run directory"
        )
    if path.is_dir():
        predictor = load_predictor(path)
        return predictor, lambda u: predictor.rollout(u[:, None], 1)[:, 0]
    model = load(path).eval()
    return model, model


def assimilate(
    run: str | os.PathLike,
    data_path: str | os.PathLike,
    obs_path: str | os.PathLike,
    *,
    enkf: EnKFChoice = "none",
    members: int = 20,
    inflation: float = 1.0,
    additive: float = 0.0,
    localization: float | None = None,
    samples: int | None = None,
    init_error: float = 0.5,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the methods above on the trajectories of ``data_path`` with the observations of ``obs_path``.

    ``additive`` is the EnKF's additive model-error noise relative to the rms of the truth (0.01-0.05 helps a
    surrogate forecast, whose own error the ensemble spread does not show).
    """
    if enkf not in ("none", "solver", "model", "both"):
        raise ConfigError(f"enkf={enkf!r} is not one of none, solver, model, both")
    if not init_error >= 0:
        raise ConfigError(f"init_error={init_error} must be >= 0 (relative size of the background error)")
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    data = read_trajectories(data_path, samples)
    obs = read_observations(obs_path)
    check_match(obs, data, obs_path, data_path)
    model, forecast = _model(run)
    truth = data.states
    n, t = truth.shape[:2]
    gen = torch.Generator().manual_seed(int(seed))
    rms = float(truth.double().pow(2).mean().sqrt())
    d = len(data.shape)
    start = truth[:, 0] + init_error * rms * smooth_perturbation(truth[:, 0].shape, d, gen, truth.dtype)
    observed = obs.at_frames(t)
    sensors = {f: obs.sensors(k, data) for f, k in observed.items()}
    results: dict[str, Any] = {"frames": t, "times": data.times.tolist(), "samples": n, "methods": {}}

    def record(name: str, estimate: torch.Tensor, seconds: float) -> None:
        err = relative_errors(estimate, truth)
        results["methods"][name] = {"error": np.median(err, 0).tolist(), "seconds_per_cycle": seconds}
        log(
            f"{name}: median error at the last frame {np.median(err[:, -1]):.3e}, {seconds * 1e3:.2f} ms per cycle"
        )

    with torch.no_grad():
        clock = time.perf_counter()
        states = [truth[:, 0]]
        for _ in range(1, t):
            states.append(forecast(states[-1]))
        record("rollout", torch.stack(states, 1), (time.perf_counter() - clock) / max(1, t - 1))
        if isinstance(model, NODA):
            measurements = {f: (obs.values[:n, k].to(truth), sensors[f]) for f, k in observed.items()}
            clock = time.perf_counter()
            est = model.run(start, t, measurements)
            record("noda", est, (time.perf_counter() - clock) / max(1, t - 1))
            record("noda_no_data", model.run(start, t), 0.0)
    choices = {"solver": ["solver"], "model": ["model"], "both": ["solver", "model"], "none": []}[enkf]
    for which in choices:
        step = solver_forecast(data) if which == "solver" else forecast
        filt = EnsembleKalmanFilter(
            step,
            members,
            coords=data.coords,
            periodic=data.periodic,
            inflation=inflation,
            additive=float(additive) * rms,
            localization=localization,
        )
        means, seconds = [], []
        for i in range(n):
            spread = smooth_perturbation((members, *start.shape[1:]), d, gen, truth.dtype)
            ens = start[i : i + 1] + init_error * rms * spread
            ys = {f: (obs.values[i, k], sensors[f]) for f, k in observed.items()}
            try:
                res = filt.run(ens, t, ys, obs.sigma, gen)
            except FloatingPointError as exc:
                raise ValueError(
                    f"the EnKF with the {which} as forecast diverged on trajectory {i} ({exc}); try --localization "
                    f"(a few grid spacings), more --members or a smaller --init-error"
                ) from None
            means.append(res.mean)
            seconds.append(res.seconds_per_cycle)
        record(f"enkf_{which}", torch.cat(means), float(np.median(seconds)))
    results["settings"] = {
        "run": str(run), "data": str(data_path), "observations": str(obs_path), "enkf": enkf, "members": members,
        "inflation": inflation, "additive": additive, "localization": localization, "init_error": init_error, "seed": seed,
        "sensors": int(obs.points.shape[1]), "noise": obs.attrs.get("noise"), "sigma": obs.sigma,
    }  # fmt: skip
    if out is not None:
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


def error_table(results: dict[str, Any], every: int | None = None) -> str:
    """A text table: median relative error of each method at a few frames, and ms per cycle."""
    t = results["frames"]
    step = every or max(1, (t - 1) // 8)
    frames = list(range(0, t, step)) + ([t - 1] if (t - 1) % step else [])
    head = (
        f"{'method':14s}"
        + "".join(f"{'t=' + format(results['times'][f], '.4g'):>10s}" for f in frames)
        + f"{'ms/cycle':>10s}"
    )
    lines = [head]
    for name, m in results["methods"].items():
        row = "".join(f"{m['error'][f]:10.3e}" for f in frames)
        lines.append(f"{name:14s}{row}{m['seconds_per_cycle'] * 1e3:10.2f}")
    return "\n".join(lines)


def train_noda(
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    sensors: int,
    noise: float,
    n_modes: int = 16,
    width: int = 32,
    semigroup: bool = True,
    steps: int = 500,
    window: int = 8,
    warmup: int = 2,
    batch_size: int = 8,
    lr: float = 1e-3,
    missing: float = 0.0,
    init_error: float | tuple[float, float] = (0.0, 0.5),
    prediction_noise: float = 0.1,
    pretrain_steps: int = 300,
    smoothing: float = 0.5,
    seed: int = 0,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> NODA:
    """Train a NODA on every trajectory of ``data_path`` with synthetic sensors; save it to ``out``.

    ``sensors`` a count or a range ``(lo, hi)`` drawn per window; ``init_error``, ``prediction_noise`` and
    ``pretrain_steps`` as in :func:`specops.assimilation.fit_noda`, ``smoothing`` as in :class:`NODA`. The
    defaults are the recipe of ``benchmarks/bench_assimilation.py`` (RESULTS.md), not ``fit_noda``'s plain ones.
    """
    from specops.assimilation.noda import noda_semigroup
    from specops.assimilation.train_noda import fit_noda
    from specops.models.serialization import save
    from specops.seeding import seed_everything

    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    data = read_trajectories(data_path)
    d = len(data.shape)
    modes = [min(int(n_modes), n // 2) for n in data.shape]
    interval = float(data.times[1] - data.times[0])
    seed_everything(int(seed))
    model = NODA(
        modes, data.states.shape[2], width, 4, gain_channels=width, gain_layers=3,
        semigroup=noda_semigroup(data.attrs, data.shape, interval) if semigroup else None, smoothing=smoothing,
    )  # fmt: skip
    log(
        f"NODA {d}D, {sum(p.numel() for p in model.parameters())} parameters, {data.states.shape[0]} trajectories"
    )
    fit_noda(
        model, data.states, data.coords, periodic=data.periodic, sensors=sensors, noise=noise, window=window,
        warmup=warmup, steps=steps, batch_size=batch_size, lr=lr, missing=missing, init_error=init_error,
        prediction_noise=prediction_noise, pretrain_steps=pretrain_steps, seed=seed, log=log,
    )  # fmt: skip
    save(model, out)
    return model
