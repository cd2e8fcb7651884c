"""The main job, end to end: a data file and a configuration in, a trained and evaluated run directory out.

``specops train`` and ``specops evaluate`` are thin wrappers around :func:`train` and :func:`evaluate`. A
run directory holds ``config.yaml`` (the resolved configuration), ``metrics.jsonl`` (the training log),
``checkpoints/{last,best}.pt`` (each rebuilds the model with ``specops.load`` and resumes training),
``results.json``, ``figures/*.png`` and ``report.md``.

Splits are by sample and deterministic: the test split is the last ``data.n_test`` samples of the file,
validation the ``data.n_val`` before them, training the first ``data.n_train`` (default: all the rest).
When ``data.n_test`` is not set, the test split is 10% of the file if no test files are given, and empty
when they are (``data.test_paths``, ``--test-data``): separate test data never cost training samples.
Normalizers are fitted on the training split only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specops.config import Config, ConfigError, adapt_to_data, config_from_dict, dump_config
from specops.data.datasets import OperatorDataset, TrajectoryDataset
from specops.data.io import read_info
from specops.data.normalization import Normalizer, fit_normalizers, make_normalizer
from specops.data.schema import check_usable
from specops.evaluation.predictor import Predictor
from specops.evaluation.report import run_evaluation
from specops.models.base import OperatorModel
from specops.registry import MODELS
from specops.training import rundir
from specops.training.checkpoint import (
    check_resumable,
    config_from_checkpoint,
    normalizers_from_checkpoint,
)
from specops.training.lr_finder import resolve_lr
from specops.training.trainer import Trainer, seed_everything

Dataset = OperatorDataset | TrajectoryDataset


@dataclass
class RunData:
    """The splits of one data file, raw (unnormalised), and the normalizers fitted on ``train``."""

    kind: str
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    x_normalizer: Normalizer
    y_normalizer: Normalizer
    indices: dict[str, list[int]]


def split_counts(cfg: Config, n_samples: int) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` for a file of ``n_samples`` samples under ``cfg.data``.

    ``n_test`` defaults to a tenth of the file (at least one sample) when ``cfg.data.test_paths`` is empty,
    and to 0 when test files other than ``cfg.data.path`` are given: then every sample but the ``n_val``
    validation ones is trained on.
    """
    own = Path(cfg.data.path).resolve() if cfg.data.path else None
    separate = [p for p in cfg.data.test_paths if own is None or Path(p).resolve() != own]
    if cfg.data.n_test is not None:
        n_test = cfg.data.n_test
    elif separate or n_samples < 2:
        n_test = 0
    else:
        n_test = max(1, n_samples // 10)
    n_val = cfg.data.n_val
    n_train = cfg.data.n_train if cfg.data.n_train is not None else n_samples - n_val - n_test
    if min(n_train, n_val, n_test) < 0 or n_train < 1 or n_train + n_val + n_test > n_samples:
        raise ConfigError(
            f"data split n_train={n_train}, n_val={n_val}, n_test={n_test} does not fit the {n_samples} samples "
            f"of {cfg.data.path}; lower data.n_train / data.n_val / data.n_test"
        )
    return n_train, n_val, n_test


def _dataset_kwargs(cfg: Config, kind: str) -> dict[str, Any]:
    if kind == "operator":
        if cfg.train.mode != "operator":
            raise ConfigError(
                f"train.mode={cfg.train.mode!r} needs trajectory data, but {cfg.data.path} holds operator pairs; "
                f"use train.mode=operator"
            )
        return {}
    if cfg.train.mode == "operator":
        raise ConfigError(
            f"{cfg.data.path} holds trajectories: train them with train.mode=autoregressive (k states -> next "
            f"m states) or train.mode=unrolled (pushforward); operator mode needs input/output pairs"
        )
    horizon = cfg.train.horizon * (cfg.train.unroll_steps if cfg.train.mode == "unrolled" else 1)
    return {"history": cfg.train.history, "horizon": horizon}


def _open(path: str | os.PathLike, kind: str, indices, kwargs: dict[str, Any]) -> Dataset:
    cls = OperatorDataset if kind == "operator" else TrajectoryDataset
    return cls(path, indices=indices, **kwargs)


def load_run_data(cfg: Config) -> RunData:
    """Split ``cfg.data.path`` and fit normalizers on the training split."""
    if not cfg.data.path:
        raise ConfigError(
            "data.path is not set: pass --data FILE (a specops dataset, see `specops generate`)"
        )
    info = read_info(cfg.data.path)
    check_usable(info.attrs, cfg.data.path)
    kind = str(info.attrs["kind"])
    n = int(info.attrs["n_samples"])
    n_train, n_val, n_test = split_counts(cfg, n)
    indices = {
        "train": list(range(n_train)),
        "val": list(range(n - n_test - n_val, n - n_test)),
        "test": list(range(n - n_test, n)),
    }
    kwargs = _dataset_kwargs(cfg, kind)
    train = _open(cfg.data.path, kind, indices["train"], kwargs)
    val = _open(cfg.data.path, kind, indices["val"], kwargs) if n_val else None
    test = _open(cfg.data.path, kind, indices["test"], kwargs) if n_test else None
    norm = "gaussian" if cfg.data.normalize else "none"
    if norm == "none":
        x_norm = make_normalizer("none", train.in_channels, train.ndim)
        y_norm = make_normalizer("none", train.out_channels, train.ndim)
    else:
        x_norm, y_norm = fit_normalizers(train, norm)
    return RunData(kind, train, val, test, x_norm, y_norm, indices)


def model_channels(cfg: Config, data: Dataset) -> tuple[int, int]:
    """Model input/output channels: the fields' channels, times ``history``/``horizon`` for trajectories."""
    if data.kind == "operator":
        return data.in_channels, data.out_channels
    return cfg.train.history * data.in_channels, cfg.train.horizon * data.out_channels


def build_model(cfg: Config, data: Dataset) -> tuple[Config, OperatorModel, list[str]]:
    """Adapt ``cfg`` to the data (channels, modes that fit the grid) and build its model.

    A mode count given for another dimension with one value for every axis (the default ``[12, 12]`` on 1D
    data, say) is repeated for the data's axes.
    """
    c_in, c_out = model_channels(cfg, data)
    pre = []
    modes = cfg.model.args.get("n_modes")
    ndim = len(data.spatial_shape)
    if isinstance(modes, list) and len(modes) != ndim and len(set(modes)) == 1:
        pre.append(f"n_modes: {modes} -> {[modes[0]] * ndim} (the data have {ndim} spatial axes)")
        args = {**cfg.model.args, "n_modes": [modes[0]] * ndim}
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args))
    cfg, notes = adapt_to_data(cfg, in_channels=c_in, out_channels=c_out, shape=data.spatial_shape)
    return cfg, MODELS.create(cfg.model.name, **cfg.model.args), pre + notes


def train(
    cfg: Config,
    *,
    resume: bool | str | os.PathLike = False,
    overwrite: bool = False,
    evaluate_after: bool = True,
    solver_time: Callable[[tuple[int, ...]], float] | float | None = None,
    dist=None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the configured model on ``cfg.data.path``, then evaluate it on the held-out test split and on
    ``cfg.data.test_paths`` (e.g. the same problem at other resolutions).

    ``cfg.run_dir`` must be missing or empty for a new run; ``resume=True`` continues from
    ``run_dir/checkpoints/last.pt`` (a path names another checkpoint of this run), ``overwrite=True``
    replaces the run's files (``specops.training.rundir``). Everything is validated (configuration, data,
    model, checkpoint) before anything is written; the run directory is locked while the run writes to it.
    The model is built after seeding with ``train.seed``, so the same configuration trains to the same
    weights. Returns ``{"run_dir", "fit": trainer summary, "evaluation": results or None, "notes"}``.
    """
    is_main = dist is None or dist.is_main
    if not is_main:
        log = _quiet  # one voice: rank 0 reports
    run_dir = Path(cfg.run_dir)
    if is_main:
        rundir.check_run_dir(run_dir, resume=bool(resume), overwrite=overwrite)
    data = load_run_data(cfg)
    seed_everything(cfg.train.seed)  # before the model draws its initial weights
    cfg, model, notes = build_model(cfg, data.train)
    n_train, n_val, n_test = (len(data.indices[k]) for k in ("train", "val", "test"))
    cfg = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, n_train=n_train, n_val=n_val, n_test=n_test)
    )
    checkpoint = None
    if resume:
        checkpoint = run_dir / rundir.LAST_CHECKPOINT if resume is True else Path(resume)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"cannot resume: checkpoint {checkpoint} does not exist")
        check_resumable(
            checkpoint,
            model,
            batch_size=cfg.train.batch_size,
            world_size=dist.world_size if dist is not None else 1,
        )
    cfg = resolve_lr(  # optim.lr=auto: a range test from the initial weights, which it leaves unchanged
        cfg,
        model,
        data.train,
        x_normalizer=data.x_normalizer,
        y_normalizer=data.y_normalizer,
        resume=resume,
        dist=dist,
        log=log,
    )
    trainer = Trainer.from_config(
        model, cfg, x_normalizer=data.x_normalizer, y_normalizer=data.y_normalizer, dist=dist
    )
    with rundir.run_lock(run_dir) if is_main else contextlib.nullcontext():
        if is_main:
            rundir.remove_stale_temporaries(run_dir)
            if overwrite:
                rundir.clear_run(run_dir)
            dump_config(cfg, run_dir / "config.yaml")
        for note in notes:
            log(f"note: {note}")
        log(
            f"training {cfg.model.name} ({model.n_parameters:,} parameters) on {n_train} samples of "
            f"{cfg.data.path} ({data.kind}, grid {tuple(data.train.spatial_shape)}); run directory {run_dir}"
        )
        start = time.perf_counter()
        fit = trainer.fit(data.train, data.val, resume=checkpoint, num_workers=cfg.data.num_workers)
        fit["train_seconds"] = time.perf_counter() - start
        evaluation = None
        if evaluate_after and is_main and (data.test is not None or cfg.data.test_paths):
            evaluation = evaluate(run_dir, solver_time=solver_time, log=log)
    return {"run_dir": cfg.run_dir, "fit": fit, "evaluation": evaluation, "notes": notes}


def _quiet(message: str) -> None:
    del message


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


def load_run(run_dir: str | os.PathLike, checkpoint: str | None = None):
    """``(model, config, x_normalizer, y_normalizer)`` of a trained run (best checkpoint by default)."""
    import specops

    run_dir = Path(run_dir)
    path = _checkpoint_path(run_dir, checkpoint)
    model = specops.load(path)
    cfg = config_from_dict(config_from_checkpoint(path))
    x_norm, y_norm = normalizers_from_checkpoint(path)
    return model, cfg, x_norm, y_norm


def load_predictor(
    source: str | os.PathLike, checkpoint: str | None = None, *, map_location: str | torch.device = "cpu"
) -> Predictor:
    """The trained model of a run as a :class:`~specops.evaluation.predictor.Predictor`: physical inputs
    to physical outputs, at any resolution the network accepts, in eval mode.

    ``source`` is a run directory (its ``best`` checkpoint, else ``last``, or ``checkpoint``) or a
    checkpoint file.
    """
    import specops

    source = Path(source)
    path = source if source.is_file() else _checkpoint_path(source, checkpoint)
    model = specops.load(path, map_location=map_location)
    x_norm, y_norm = normalizers_from_checkpoint(path)
    mode = (config_from_checkpoint(path).get("train") or {}).get("mode", "operator")
    task = "operator" if mode == "operator" else "autoregressive"
    predictor = Predictor(model, x_norm, y_norm, task=task).to(map_location)
    return predictor.eval()


def _test_sets(cfg: Config, paths: Sequence[str | os.PathLike], kind: str) -> list[Dataset]:
    """Test datasets: the held-out split when a path is the training file, every sample otherwise."""
    out = []
    for path in paths:
        info = read_info(path)
        check_usable(info.attrs, path)
        if str(info.attrs["kind"]) != kind:
            raise ConfigError(
                f"{path} holds {info.attrs.get('kind')} data but the run was trained on {kind} data"
            )
        n = int(info.attrs["n_samples"])
        same = cfg.data.path is not None and Path(path).resolve() == Path(cfg.data.path).resolve()
        indices = list(range(n - (cfg.data.n_test or 0), n)) if same else None
        if same and not indices:
            continue
        if kind == "trajectory":
            out.append(TrajectoryDataset(path, indices=indices, history=1, horizon=1))
        else:
            out.append(OperatorDataset(path, indices=indices))
    return out


def _trajectories(ds: TrajectoryDataset) -> tuple[torch.Tensor, np.ndarray | None]:
    """Whole test trajectories ``(B, T, C, *space)`` (raw units) and their times."""
    frames = []
    for sample in ds.indices:
        frames.append(torch.cat([ds._read(name, int(sample)) for name in ds.fields_x], dim=1))
    return torch.stack(frames), ds.info.coords.get("t")


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
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate a trained run: errors per field and test set (zero-shot grids marked), rollouts for
    trajectory data, inference time against the solver (the run that made the data, and the cheapest run
    as accurate as the model), figures and ``report.md`` in the run directory.

    ``data_paths`` default to the run's training file (its test split) and ``data.test_paths``; test sets
    are named ``<file stem>@<grid>``. ``eval.resolutions`` adds the training file's test samples made again
    by its solver on those grids (``<stem>-regenerated@<grid>``); ``eval.rollout_steps`` limits rollouts.
    """
    from specops.evaluation.files import domain_lengths, set_names
    from specops.evaluation.solver_cost import equal_accuracy_fn, equal_accuracy_for

    run_dir = Path(run_dir)
    model, cfg, x_norm, y_norm = load_run(run_dir, checkpoint)
    model.eval()
    paths = list(data_paths) or [p for p in [cfg.data.path, *cfg.data.test_paths] if p]
    if not paths:
        raise ConfigError(f"no data to evaluate {run_dir} on: pass --data FILE")
    kind = "operator" if cfg.train.mode == "operator" else "trajectory"
    sets = _test_sets(cfg, paths, kind)
    if not sets:
        raise ConfigError(
            "nothing to evaluate: the run's data file has no test split (data.n_test = 0); pass --data"
        )
    train_shape = (
        _spatial_shape(cfg.data.path, sets[0].ndim)
        if cfg.data.path and Path(cfg.data.path).is_file()
        else None
    )
    opts = {"plots": cfg.eval.plots if plots is None else plots, "n_plot_samples": cfg.eval.n_plot_samples}
    if kind == "operator":
        names = set_names([ds.path for ds in sets], [ds.spatial_shape for ds in sets])
        datasets: dict[str, Any] = dict(zip(names, sets))
        lengths = {name: domain_lengths(ds.path, ds.ndim) for name, ds in zip(names, sets)}
        k = cfg.eval.solver_cost_samples
        cost = {name: equal_accuracy_for(ds.path, ds.indices, n_samples=k) for name, ds in zip(names, sets)}
        solver_s: dict[str, float | None] = {}
        for name, ds in zip(names, sets):
            timer = solver_time_for(ds.path) if solver_time is None else None
            solver_s[name] = timer(tuple(ds.spatial_shape)) if timer is not None else None
        extra = _regenerated_sets(cfg, log) if cfg.eval.resolutions else {}
        for name, (x, y, problem) in extra.items():
            datasets[name], lengths[name] = (x, y), domain_lengths(cfg.data.path, x.dim() - 2)
            cost[name] = equal_accuracy_fn(problem, x, y, n_samples=k) if k > 0 else None
            timer = solver_time_for(cfg.data.path) if solver_time is None else None
            solver_s[name] = timer(tuple(y.shape[2:])) if timer is not None else None
        results = run_evaluation(
            model,
            run_dir,
            datasets=datasets,
            x_normalizer=x_norm,
            y_normalizer=y_norm,
            field_names=sets[0].fields_y,
            input_names=sets[0].fields_x,
            train_resolution=train_shape,
            solver_time=solver_s if solver_time is None else solver_time,
            solver_cost=cost,
            periodic=_periodic(paths[0]),
            lengths=lengths,
            timing_repeats=cfg.eval.timing_repeats,
            **opts,
        )
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
            x_normalizer=x_norm,
            y_normalizer=y_norm,
            field_names=sets[0].fields_x,
            **opts,
        )
    if json_out is not None:
        from specops.evaluation.report import save_results

        save_results(results, json_out)
    log(f"report: {run_dir / 'report.md'}")
    return results


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


__all__ = [
    "RunData",
    "demo",
    "evaluate",
    "load_predictor",
    "load_run",
    "load_run_data",
    "split_counts",
    "train",
]


def demo(
    out_dir: str | os.PathLike = "specops-demo", *, quick: bool = False, log: Callable[[str], None] = print
) -> dict:
    """The main job on an embedded problem, in minutes on a laptop CPU.

    1. Generate Darcy flow data (the FNO benchmark's 12/3 permeability fields, f = 1, zero Dirichlet)
       with the built-in finite-difference solver: training data on 32x32 nodes (solved on 63x63 and
       subsampled) and an independent test set on 63x63 nodes;
    2. train an FNO at 32x32;
    3. evaluate it on held-out samples at 32x32 and zero-shot at 63x63, against the solver's time for the
       reference and its cheapest run as accurate as the model (saying plainly when the solver is faster);
    4. write the report and figures, and say where they are.
    """
    from specops.config import load_config
    from specops.data.generate import generate_dataset
    from specops.evaluation.report import speed_verdicts
    from specops.solvers.problems import make_problem

    out = Path(out_dir)
    n_train, n_test, epochs = (160, 16, 8) if quick else (700, 64, 40)
    start = time.perf_counter()
    log(f"specops demo: Darcy flow -div(a grad u) = 1 -> FNO, everything under {out}/")
    train_file = out / "darcy_32.h5"
    test_file = out / "darcy_63.h5"
    problem = make_problem("darcy", resolution=32, upsample=2)
    log(f"1/3 generating {n_train + n_test} samples at 32x32 (solved on 63x63) and {n_test} at 63x63 ...")
    t0 = time.perf_counter()
    generate_dataset(
        problem,
        n_train + n_test,
        train_file,
        seed=0,
        progress=False,
        overwrite=True,
        attrs={"overrides": {"resolution": 32, "upsample": 2}},
    )
    generate_dataset(
        make_problem("darcy", resolution=63, upsample=1),
        n_test,
        test_file,
        seed=1_000_000,
        progress=False,
        overwrite=True,
        attrs={"overrides": {"resolution": 63, "upsample": 1}},
    )
    log(f"    done in {time.perf_counter() - t0:.1f} s")
    cfg = load_config(
        None,
        [
            f"data.path={train_file}",
            f"data.test_paths=[{test_file}]",
            f"data.n_test={n_test}",
            "data.n_val=0",
            "model.name=fno",
            "model.args.n_modes=[12,12]",
            "model.args.hidden_channels=32",
            f"train.epochs={epochs}",
            "train.batch_size=32",
            "train.loss=l2",
            "train.progress=false",
            "optim.lr=3e-3",
            "optim.schedule=cosine",
            f"run_dir={out / 'run'}",
        ],
    )
    log(f"2/3 training an FNO for {epochs} epochs on {n_train} samples at 32x32 ...")
    result = train(cfg, log=lambda msg: log(f"    {msg}"))
    evaluation = result["evaluation"]["operator"]
    errors = {name: evaluation["rel_l2"]["u"][name] for name in evaluation["test_sets"]}
    log("3/3 evaluation (held-out samples; relative L2 error of u):")
    for name, value in errors.items():
        grid = evaluation["grids"][name]
        tag = "training resolution" if grid == evaluation["train_resolution"] else "zero-shot, finer grid"
        log(f"    {name} ({tag}): {value:.4f}")
    log("speed against the built-in solver:")
    for line in speed_verdicts(evaluation):
        log(f"    {line}")
    run_dir = Path(result["run_dir"])
    log(f"report:  {run_dir / 'report.md'}")
    log(f"figures: {run_dir / 'figures'}/")
    log(f"model:   {run_dir / 'checkpoints' / 'last.pt'} (specops.load rebuilds it)")
    log(f"done in {time.perf_counter() - start:.0f} s")
    return {"errors": errors, "run_dir": str(run_dir), "evaluation": evaluation}
