"""The main job, end to end: a data file and a configuration in, a trained and evaluated run directory out.

``specops train``, ``specops evaluate`` and ``specops demo`` are thin wrappers around :func:`train`,
:func:`evaluate` and :func:`demo`. A run directory holds ``config.yaml`` (the resolved configuration),
``metrics.jsonl`` (the training log), ``checkpoints/{last,best}.pt`` (each rebuilds the model with
``specops.load`` and resumes training), ``results.json``, ``figures/*.png`` and ``report.md``.

Modules: ``build`` (configuration -> model, task, trainer), ``data`` (splits, normalizers, test sets),
``lr`` (``optim.lr=auto``), ``patching`` (``model.patching``: the model in ``MultigridPatching``), ``train``,
``evaluate`` (and the loaders of trained runs), ``refine`` (Spectral-Refiner on an SFNO run), ``demo``.
"""

from specops.pipeline.build import adapt_to_data, build_model, build_trainer, check_model_args, clamp_modes
from specops.pipeline.data import RunData, load_run_data, split_counts
from specops.pipeline.demo import demo
from specops.pipeline.evaluate import evaluate, load_predictor, load_run, solver_time_for
from specops.pipeline.lr import find_lr, resolve_lr
from specops.pipeline.refine import refine
from specops.pipeline.train import train

__all__ = [
    "RunData",
    "adapt_to_data",
    "build_model",
    "build_trainer",
    "check_model_args",
    "clamp_modes",
    "demo",
    "evaluate",
    "find_lr",
    "load_predictor",
    "load_run",
    "load_run_data",
    "refine",
    "resolve_lr",
    "solver_time_for",
    "split_counts",
    "train",
]
