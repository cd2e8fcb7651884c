"""``specops evaluate``: a trained run directory and test files in; errors, rollouts, speed against the
solver, figures and a report out. Also the loaders of a trained run (:func:`load_predictor`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specops.config import Config, ConfigError, apply_overrides, config_from_dict
from specops.data.datasets import TrajectoryDataset
from specops.data.io import read_info
from specops.evaluation.report import run_evaluation
from specops.models import Predictor
from specops.models.serialization import load
from specops.pipeline.data import open_test_sets
from specops.training.checkpoint import config_from_checkpoint, normalizers_from_checkpoint


def _checkpoint_path(run_dir: Path, checkpoint: str | os.PathLike | None) -> Path:
    """The checkpoint of ``run_dir`` to evaluate: ``best`` (else ``last``), a name, or a path inside
    ``run_dir/checkpoints``; a checkpoint of another run is refused, since results are written into
    ``run_dir`` and would be mistaken for its own."""
    if checkpoint is not None and Path(checkpoint).is_file():
        path = Path(checkpoint)
        own = (run_dir / "checkpoints").resolve()
        if path.resolve().parent != own:
            other = path.resolve().parent.parent if path.resolve().parent.name == "checkpoints" else None
            fix = (
                f"evaluate that run instead: specops evaluate {other} --checkpoint {path.stem}"
                if other is not None
                else f"copy it into {run_dir / 'checkpoints'}/ first, or evaluate the run that wrote it"
            )
            raise ConfigError(
                f"--checkpoint {path} is not a checkpoint of {run_dir}, whose results.json and report.md "
                f"evaluate would overwrite; {fix}"
            )
        return path
    names = [checkpoint] if checkpoint else ["best", "last"]
    for name in names:
        path = run_dir / "checkpoints" / f"{name}.pt"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{run_dir} has no checkpoint {'/'.join(str(n) for n in names)}.pt under checkpoints/; is it a run directory "
        f"written by `specops train`?"
    )


def load_predictor(
    source: str | os.PathLike, checkpoint: str | None = None, *, map_location: str | torch.device = "cpu"
) -> Predictor:
    """The trained model of a run as a :class:`~specops.models.Predictor`: physical inputs to physical
    outputs, at any resolution the network accepts, in eval mode.

    ``source`` is a run directory (its ``best`` checkpoint, else ``last``, or ``checkpoint``) or a
    checkpoint file.
    """
    return load_run(source, checkpoint, map_location=map_location)[0]


def load_run(
    source: str | os.PathLike, checkpoint: str | None = None, *, map_location: str | torch.device = "cpu"
) -> tuple[Predictor, Config]:
    """``(predictor, configuration)`` of a trained run (see :func:`load_predictor`)."""
    source = Path(source)
    path = source if source.is_file() else _checkpoint_path(source, checkpoint)
    cfg = config_from_dict(config_from_checkpoint(path))
    x_norm, y_norm = normalizers_from_checkpoint(path)
    task = "operator" if cfg.train.mode == "operator" else "autoregressive"
    initial = task == "autoregressive" and cfg.physics.outputs_include_initial  # space-time layout
    predictor = Predictor(
        load(path, map_location=map_location), x_norm, y_norm, task=task, initial_frame=initial
    )
    return predictor.to(map_location).eval(), cfg


def _trajectories(ds: TrajectoryDataset) -> tuple[torch.Tensor, np.ndarray | None]:
    """Whole test trajectories ``(B, T, C, *space)`` (raw units) and their times."""
    return torch.stack([ds.trajectory(i) for i in range(ds.n_samples)]), ds.info.coords.get("t")


def _regenerated_sets(cfg: Config, log: Callable[[str], None]) -> dict[str, tuple[Any, ...]]:
    """``eval.resolutions``: the training file's test samples made again by its problem on those grids."""
    from specops.evaluation.files import regenerate

    path = cfg.data.path
    n_test = cfg.data.n_test or 0
    if not path or not Path(path).is_file() or n_test < 1:
        raise ConfigError(
            f"eval.resolutions={cfg.eval.resolutions} regenerates the test split of data.path, but the run has "
            f"no such split (data.path={path!r}, data.n_test={n_test}); set data.n_test or use data.test_paths"
        )
    n = int(read_info(path).attrs["n_samples"])
    indices = list(range(n - n_test, n))
    out = {}
    for r in cfg.eval.resolutions:
        made = regenerate(path, indices, int(r))
        if made is None:
            raise ConfigError(
                f"eval.resolutions={cfg.eval.resolutions} needs a file made by `specops generate` with a "
                f"registered problem; {path} was not: pass test files at other grids with data.test_paths"
            )
        x, y, problem = made
        grid = "x".join(str(k) for k in y.shape[2:])
        log(f"regenerated {len(indices)} test samples of {path} at {grid} with its solver (eval.resolutions)")
        out[f"{Path(path).stem}-regenerated@{grid}"] = (x.float(), y.float(), problem)
    return out


def evaluate(
    run_dir: str | os.PathLike,
    data_paths: Sequence[str | os.PathLike] = (),
    *,
    checkpoint: str | None = None,
    json_out: str | os.PathLike | None = None,
    solver_time: Callable[[tuple[int, ...]], float] | float | None = None,
    plots: bool | None = None,
    overrides: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate a trained run: errors per field and test set (zero-shot grids marked), rollouts for
    trajectory data, inference time against the solver (the run that made the data, and the cheapest run
    as accurate as the model), figures and ``report.md`` in the run directory.

    ``data_paths`` default to the run's training file (its test split) and ``data.test_paths``; test sets
    are named ``<file stem>@<grid>``. ``eval.resolutions`` adds the training file's test samples made again
    by its solver on those grids (``<stem>-regenerated@<grid>``); ``eval.rollout_steps`` limits rollouts.
    ``overrides`` (``eval.key=value``) change the run's ``eval`` settings for this evaluation only.
    """
    run_dir = Path(run_dir)
    model, cfg = load_run(run_dir, checkpoint)
    cfg = _with_eval_overrides(cfg, overrides)
    paths = list(data_paths) or [p for p in [cfg.data.path, *cfg.data.test_paths] if p]
    if not paths:
        raise ConfigError(f"no data to evaluate {run_dir} on: pass --data FILE")
    kind = "operator" if cfg.train.mode == "operator" else "trajectory"
    sets = open_test_sets(cfg, paths, kind)
    if not sets:
        raise ConfigError(
            "nothing to evaluate: the run's data file has no test split (data.n_test = 0); pass --data"
        )
    opts = {"plots": cfg.eval.plots if plots is None else plots, "n_plot_samples": cfg.eval.n_plot_samples}
    if kind == "operator":
        results = _evaluate_operator_run(model, cfg, run_dir, sets, paths, solver_time, opts, log)
    else:
        if cfg.eval.resolutions:
            raise ConfigError(
                f"eval.resolutions={cfg.eval.resolutions} applies to operator runs; a rollout is evaluated on "
                f"its test trajectories' own grid (pass files at other grids with --data)"
            )
        trajectories, times = _trajectories(sets[0])
        results = run_evaluation(
            model,
            run_dir,
            trajectories=trajectories,
            history=cfg.train.history,
            rollout_steps=cfg.eval.rollout_steps,
            times=times,
            field_names=sets[0].fields_x,
            **opts,
        )
    if json_out is not None:
        from specops.evaluation.report import save_results

        save_results(results, json_out)
    log(f"report: {run_dir / 'report.md'}")
    return results


def _with_eval_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """``cfg`` with ``eval.*`` overrides applied; other sections describe the trained run and stay."""
    for item in overrides:
        if not item.strip().startswith("eval."):
            raise ConfigError(
                f"--set {item!r}: evaluate changes eval.* settings only (the rest describes how the run was "
                f"trained); e.g. --set eval.rollout_steps=20"
            )
    return apply_overrides(cfg, overrides) if overrides else cfg


def _evaluate_operator_run(model, cfg: Config, run_dir: Path, sets, paths, solver_time, opts, log) -> dict:
    """The operator evaluation of ``evaluate``: test sets by name, with their domains, the solver's time
    for the same output and its cost at the model's accuracy, plus ``eval.resolutions``."""
    from specops.evaluation.files import domain_lengths, set_names
    from specops.evaluation.solver_cost import equal_accuracy_fn, equal_accuracy_for

    names = set_names([ds.path for ds in sets], [ds.spatial_shape for ds in sets])
    datasets: dict[str, Any] = dict(zip(names, sets))
    lengths = {name: domain_lengths(ds.path, ds.ndim) for name, ds in zip(names, sets)}
    k = cfg.eval.solver_cost_samples
    cost = {name: equal_accuracy_for(ds.path, ds.indices, n_samples=k) for name, ds in zip(names, sets)}
    grids = {name: (ds.path, tuple(ds.spatial_shape)) for name, ds in zip(names, sets)}
    for name, (x, y, problem) in (_regenerated_sets(cfg, log) if cfg.eval.resolutions else {}).items():
        datasets[name], lengths[name] = (x, y), domain_lengths(cfg.data.path, x.dim() - 2)
        cost[name] = equal_accuracy_fn(problem, x, y, n_samples=k) if k > 0 else None
        grids[name] = (cfg.data.path, tuple(y.shape[2:]))
    if solver_time is None:  # each test set's own solver decides what the same output costs
        solver_time = {name: _solver_seconds(path, shape) for name, (path, shape) in grids.items()}
    has_train_file = cfg.data.path and Path(cfg.data.path).is_file()
    return run_evaluation(
        model,
        run_dir,
        datasets=datasets,
        field_names=sets[0].fields_y,
        input_names=sets[0].fields_x,
        train_resolution=_spatial_shape(cfg.data.path, sets[0].ndim) if has_train_file else None,
        solver_time=solver_time,
        solver_cost=cost,
        periodic=_periodic(paths[0]),
        lengths=lengths,
        timing_repeats=cfg.eval.timing_repeats,
        **opts,
    )


def _solver_seconds(path, shape: tuple[int, ...]) -> float | None:
    timer = solver_time_for(path)
    return timer(shape) if timer is not None else None


def _spatial_shape(path, ndim: int) -> tuple[int, ...]:
    """Grid of the first field of a dataset file (its last ``ndim`` axes)."""
    info = read_info(path)
    return tuple(next(iter(info.fields.values())).shape[-ndim:])


def _periodic(path) -> bool:
    return str(read_info(path).attrs.get("boundary", "periodic")) == "periodic"


def solver_time_for(path: str | os.PathLike) -> Callable[[tuple[int, ...]], float] | None:
    """``shape -> seconds per sample`` the specops solver that made ``path`` needs for that output grid
    (batched, float32, on the CPU; long solves extrapolated from short ones). None if the file did not come
    from a specops solver (a converted dataset, say)."""
    from specops.evaluation.files import problem_for_file
    from specops.solvers.problems import make_problem

    problem = problem_for_file(path)
    if problem is None:
        return None
    overrides = dict(read_info(path).attrs.get("overrides") or {})
    cache: dict[tuple[int, ...], float] = {}

    def seconds(shape: tuple[int, ...]) -> float:
        if shape not in cache:
            at_shape = make_problem(problem.name, **{**overrides, "resolution": int(shape[0])})
            cache[shape] = at_shape.estimate_seconds_per_sample()
        return cache[shape]

    return seconds
