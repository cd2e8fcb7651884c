"""The data of a run: the splits of its training file, the normalizers fitted on the training split, and
its test sets.

Splits are by sample and deterministic: the test split is the last ``data.n_test`` samples of the file,
validation the ``data.n_val`` before them, training the first ``data.n_train`` (default: all the rest).
When ``data.n_test`` is not set, the test split is 10% of the file if no test files are given, and empty
when they are (``data.test_paths``, ``--test-data``): separate test data never cost training samples.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specops.config import Config, ConfigError
from specops.data.datasets import OperatorDataset, TrajectoryDataset, open_dataset
from specops.data.io import read_info
from specops.data.normalization import Normalizer, fit_normalizers
from specops.data.schema import check_usable

Dataset = OperatorDataset | TrajectoryDataset


@dataclass
class RunData:
    """The splits of one data file (raw fields) and the normalizers fitted on ``train``."""

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


def dataset_options(cfg: Config, kind: str) -> dict[str, Any]:
    """Dataset keyword arguments for training on ``kind`` data in ``train.mode`` (windows for rollouts)."""
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


def load_run_data(cfg: Config) -> RunData:
    """Split ``cfg.data.path`` and fit normalizers on the training split (``data.normalize``)."""
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
    options = dataset_options(cfg, kind)
    train = open_dataset(cfg.data.path, indices=indices["train"], **options)
    val = open_dataset(cfg.data.path, indices=indices["val"], **options) if n_val else None
    test = open_dataset(cfg.data.path, indices=indices["test"], **options) if n_test else None
    x_norm, y_norm = fit_normalizers(train, "gaussian" if cfg.data.normalize else "none")
    return RunData(kind, train, val, test, x_norm, y_norm, indices)


def open_test_sets(cfg: Config, paths: Sequence[str | os.PathLike], kind: str) -> list[Dataset]:
    """Test datasets of a run: the held-out split when a path is the training file, every sample
    otherwise; trajectories whole (one state in, one out: the rollout reads them by sample)."""
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
        options = {"history": 1, "horizon": 1} if kind == "trajectory" else {}
        out.append(open_dataset(path, indices=indices, **options))
    return out
