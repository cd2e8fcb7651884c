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

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specops.config import Config, ConfigError, adapt_to_data, config_from_dict
from specops.data.datasets import OperatorDataset, TrajectoryDataset
from specops.data.io import read_info
from specops.data.normalization import Normalizer, fit_normalizers, make_normalizer
from specops.evaluation.evaluate import run_evaluation
from specops.models.base import OperatorModel
from specops.registry import MODELS
from specops.training.checkpoint import config_from_checkpoint, normalizers_from_checkpoint
from specops.training.lr_finder import resolve_lr
from specops.training.trainer import Trainer

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
    kind = str(info.attrs.get("kind"))
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
    evaluate_after: bool = True,
    solver_time: Callable[[tuple[int, ...]], float] | float | None = None,
    dist=None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the configured model on ``cfg.data.path``, then evaluate it on the held-out test split and on
    ``cfg.data.test_paths`` (e.g. the same problem at other resolutions).

    ``resume=True`` continues from ``run_dir/checkpoints/last.pt`` (a path names another checkpoint).
    Returns ``{"run_dir", "fit": trainer summary, "evaluation": results or None, "notes"}``.
    """
    if dist is not None and not dist.is_main:
        log = _quiet  # one voice: rank 0 reports
    data = load_run_data(cfg)
    cfg, model, notes = build_model(cfg, data.train)
    n_train, n_val, n_test = (len(data.indices[k]) for k in ("train", "val", "test"))
    cfg = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, n_train=n_train, n_val=n_val, n_test=n_test)
    )
    for note in notes:
        log(f"note: {note}")
    log(
        f"training {cfg.model.name} ({model.n_parameters:,} parameters) on {n_train} samples of {cfg.data.path} "
        f"({data.kind}, grid {tuple(data.train.spatial_shape)}); run directory {cfg.run_dir}"
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
    checkpoint = None
    if resume:
        checkpoint = Path(cfg.run_dir) / "checkpoints" / "last.pt" if resume is True else Path(resume)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"cannot resume: checkpoint {checkpoint} does not exist")
    start = time.perf_counter()
    fit = trainer.fit(data.train, data.val, resume=checkpoint, num_workers=cfg.data.num_workers)
    fit["train_seconds"] = time.perf_counter() - start
    evaluation = None
    if evaluate_after and (dist is None or dist.is_main) and (data.test is not None or cfg.data.test_paths):
        evaluation = evaluate(cfg.run_dir, solver_time=solver_time, log=log)
    return {"run_dir": cfg.run_dir, "fit": fit, "evaluation": evaluation, "notes": notes}


def _quiet(message: str) -> None:
    del message


def _checkpoint_path(run_dir: Path, checkpoint: str | os.PathLike | None) -> Path:
    if checkpoint is not None and Path(checkpoint).is_file():
        return Path(checkpoint)
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


def _test_sets(cfg: Config, paths: Sequence[str | os.PathLike], kind: str) -> list[Dataset]:
    """Test datasets: the held-out split when a path is the training file, every sample otherwise."""
    out = []
    for path in paths:
        info = read_info(path)
        if str(info.attrs.get("kind")) != kind:
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
    """Evaluate a trained run: errors per field and resolution (zero-shot ones marked), rollouts for
    trajectory data, inference time against the solver, figures and ``report.md`` in the run directory.

    ``data_paths`` default to the run's training file (its test split) and ``data.test_paths``.
    """
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
    if solver_time is None:  # each test set's own solver settings decide what "the same output" costs
        per_shape = {tuple(ds.spatial_shape): solver_time_for(ds.path) for ds in sets}
        if any(f is not None for f in per_shape.values()):

            def solver_time(shape):
                timer = per_shape.get(tuple(shape))
                return timer(tuple(shape)) if timer is not None else None

    opts = {"plots": cfg.eval.plots if plots is None else plots, "n_plot_samples": cfg.eval.n_plot_samples}
    if kind == "operator":
        datasets = {tuple(ds.spatial_shape): ds for ds in sets}
        results = run_evaluation(
            model,
            run_dir,
            datasets=datasets,
            x_normalizer=x_norm,
            y_normalizer=y_norm,
            field_names=sets[0].fields_y,
            train_resolution=train_shape,
            solver_time=solver_time,
            periodic=_periodic(paths[0]),
            timing_repeats=cfg.eval.timing_repeats,
            **opts,
        )
    else:
        trajectories, times = _trajectories(sets[0])
        results = run_evaluation(
            model,
            run_dir,
            trajectories=trajectories,
            history=cfg.train.history,
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
    from specops.registry import PROBLEMS
    from specops.solvers.problems import make_problem

    attrs = read_info(path).attrs
    name = (attrs.get("parameters") or {}).get("problem") or attrs.get("pde")
    if attrs.get("source") != "generate" or not name or name not in PROBLEMS:
        return None
    overrides = dict(attrs.get("overrides") or {})
    cache: dict[tuple[int, ...], float] = {}

    def seconds(shape: tuple[int, ...]) -> float:
        if shape not in cache:
            problem = make_problem(name, **{**overrides, "resolution": int(shape[0])})
            cache[shape] = problem.estimate_seconds_per_sample()
        return cache[shape]

    return seconds


__all__ = ["RunData", "demo", "evaluate", "load_run", "load_run_data", "split_counts", "train"]


def demo(
    out_dir: str | os.PathLike = "specops-demo", *, quick: bool = False, log: Callable[[str], None] = print
) -> dict:
    """The main job on an embedded problem, in minutes on a laptop CPU.

    1. Generate Darcy flow data (the FNO benchmark's 12/3 permeability fields, f = 1, zero Dirichlet)
       with the built-in finite-difference solver: training data on 32x32 nodes (solved on 63x63 and
       subsampled) and an independent test set on 63x63 nodes;
    2. train an FNO at 32x32;
    3. evaluate it on held-out samples at 32x32 and zero-shot at 63x63, against the solver's time;
    4. write the report and figures, and say where they are.
    """
    from specops.config import load_config
    from specops.data.generate import generate_dataset
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
    errors = evaluation["rel_l2"]["u"]
    log("3/3 evaluation (held-out samples; relative L2 error of u):")
    for res, value in errors.items():
        timing = evaluation["timing"][res]
        tag = "training resolution" if res == evaluation["train_resolution"] else "zero-shot, finer grid"
        speed = timing.get("speedup")
        speed_text = (
            f"; model {timing['model_s_per_sample'] * 1e3:.2f} ms vs solver "
            f"{timing['solver_s_per_sample'] * 1e3:.2f} ms per sample ({speed:.1f}x)"
            if speed
            else ""
        )
        log(f"    {res:>7s} ({tag}): {value:.4f}{speed_text}")
    run_dir = Path(result["run_dir"])
    log(f"report:  {run_dir / 'report.md'}")
    log(f"figures: {run_dir / 'figures'}/")
    log(f"model:   {run_dir / 'checkpoints' / 'last.pt'} (specops.load rebuilds it)")
    log(f"done in {time.perf_counter() - start:.0f} s")
    return {"errors": errors, "run_dir": str(run_dir), "evaluation": evaluation}
