"""``specops demo``: the main job on an embedded problem, in minutes on a laptop CPU."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from specops.config import Config, load_config
from specops.pipeline.train import train


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

    The demo owns ``out_dir``: a second run replaces its data and run.
    """
    out = Path(out_dir)
    n_train, n_test, epochs = (160, 16, 8) if quick else (700, 64, 40)
    start = time.perf_counter()
    log(f"specops demo: Darcy flow -div(a grad u) = 1 -> FNO, everything under {out}/")
    train_file, test_file = _generate(out, n_train, n_test, log)
    log(f"2/3 training an FNO for {epochs} epochs on {n_train} samples at 32x32 ...")
    cfg = _configuration(out, train_file, test_file, n_test, epochs)
    result = train(cfg, overwrite=True, log=lambda msg: log(f"    {msg}"))
    evaluation = result["evaluation"]["operator"]
    errors = {name: evaluation["rel_l2"]["u"][name] for name in evaluation["test_sets"]}
    _summarize(evaluation, errors, Path(result["run_dir"]), log)
    log(f"done in {time.perf_counter() - start:.0f} s")
    return {"errors": errors, "run_dir": str(result["run_dir"]), "evaluation": evaluation}


def _generate(out: Path, n_train: int, n_test: int, log: Callable[[str], None]) -> tuple[Path, Path]:
    """Darcy training data at 32x32 (solved on 63x63) and an independent test set solved at 63x63."""
    from specops.data.generate import generate_dataset
    from specops.solvers.problems import make_problem

    log(f"1/3 generating {n_train + n_test} samples at 32x32 (solved on 63x63) and {n_test} at 63x63 ...")
    start = time.perf_counter()
    files = []
    for name, n, seed, overrides in (
        ("darcy_32.h5", n_train + n_test, 0, {"resolution": 32, "upsample": 2}),
        ("darcy_63.h5", n_test, 1_000_000, {"resolution": 63, "upsample": 1}),
    ):
        problem = make_problem("darcy", **overrides)
        attrs = {"overrides": overrides}
        files.append(
            generate_dataset(problem, n, out / name, seed=seed, progress=False, overwrite=True, attrs=attrs)
        )
    log(f"    done in {time.perf_counter() - start:.1f} s")
    return files[0], files[1]


def _configuration(out: Path, train_file: Path, test_file: Path, n_test: int, epochs: int) -> Config:
    return load_config(
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


def _summarize(evaluation: dict, errors: dict[str, float], run_dir: Path, log: Callable[[str], None]) -> None:
    from specops.evaluation.report import speed_verdicts

    log("3/3 evaluation (held-out samples; relative L2 error of u):")
    for name, value in errors.items():
        grid = evaluation["grids"][name]
        tag = "training resolution" if grid == evaluation["train_resolution"] else "zero-shot, finer grid"
        log(f"    {name} ({tag}): {value:.4f}")
    log("speed against the built-in solver:")
    for line in speed_verdicts(evaluation):
        log(f"    {line}")
    log(f"report:  {run_dir / 'report.md'}")
    log(f"figures: {run_dir / 'figures'}/")
    log(f"model:   {run_dir / 'checkpoints' / 'last.pt'} (specops.load_predictor(run) for physical units)")
