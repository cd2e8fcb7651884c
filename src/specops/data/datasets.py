"""PyTorch datasets over specops files: operator pairs and trajectory windows, read lazily per sample.

Each item is ``{"x": Tensor, "y": Tensor}``, raw fields in the data's units. Operator pairs: ``x (C_in, *space)``, ``y (C_out, *space)``,
the input (output) fields concatenated on the channel axis in the order of ``input_fields``
(``output_fields``). Trajectory windows: ``x (k, C, *space)`` (frames ``t0, t0 + s, ..., t0 + (k-1)s``)
and ``y (m, C, *space)`` (the next ``m`` frames, same stride ``s``).

The HDF5 file is opened on first use in each process and never pickled, so DataLoader workers (fork or
spawn) each hold their own handle; only the requested sample is read, so files larger than memory work.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from specops.data.io import DatasetInfo, open_file, read_info
from specops.data.normalization import Normalizer, fit_normalizers
from specops.data.schema import DataFormatError, check_usable, parse_layout


class _FileDataset(Dataset):
    """Shared machinery: lazy per-process file handle, sample selection, subsampling."""

    kind = ""

    def __init__(
        self,
        path: str | os.PathLike,
        fields_x: Sequence[str] | None,
        fields_y: Sequence[str] | None,
        *,
        indices: Sequence[int] | None,
        subsample: int | Sequence[int],
        dtype: torch.dtype,
    ) -> None:
        self.path = Path(path)
        info = read_info(self.path)
        check_usable(info.attrs, self.path)
        self.info: DatasetInfo = info
        self.metadata: dict[str, Any] = dict(info.attrs)
        # Default fields: what the file says maps to what; a trajectory evolves its output fields.
        default_x = info.attrs.get("input_fields" if self.kind == "operator" else "output_fields", [])
        self.fields_x = list(fields_x if fields_x is not None else default_x)
        self.fields_y = list(fields_y if fields_y is not None else info.attrs.get("output_fields", []))
        self.dtype = dtype
        n_file = self._check_fields(info, [*self.fields_x, *self.fields_y])
        self.indices = self._check_indices(indices, n_file)
        first = info.fields[self.fields_x[0]]
        _, self.ndim = parse_layout(first.layout)
        stored = tuple(first.shape[-self.ndim :])
        factors = (subsample,) * self.ndim if isinstance(subsample, int) else tuple(int(f) for f in subsample)
        if len(factors) != self.ndim or any(f < 1 for f in factors):
            raise ValueError(
                f"subsample={subsample!r} must be a positive int or one per spatial axis ({self.ndim})"
            )
        for axis, (n, f) in enumerate(zip(stored, factors)):
            if n % f:
                divisors = [d for d in range(1, n + 1) if n % d == 0]
                raise DataFormatError(
                    f"{self.path}: subsample factor {f} does not divide the {n} points of field "
                    f"{first.name!r} along {'xyz'[axis]}; choose one of {divisors}"
                )
        self.subsample = factors
        self._space = (Ellipsis, *(slice(None, None, f) for f in factors))
        self.spatial_shape = tuple(n // f for n, f in zip(stored, factors))
        self.in_channels = sum(self._channels(info, name) for name in self.fields_x)
        self.out_channels = sum(self._channels(info, name) for name in self.fields_y)
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self._dsets: dict[str, h5py.Dataset] = {}

    # -- checks --------------------------------------------------------------------------------------
    def _check_fields(self, info: DatasetInfo, names: Sequence[str]) -> int:
        if not names:
            raise ValueError(f"{self.path}: no fields selected")
        spaces, counts = {}, {}
        for name in dict.fromkeys(names):
            if name not in info.fields:
                raise DataFormatError(
                    f"{self.path}: field {name!r} is missing; the file has {', '.join(info.fields) or 'no fields'}: "
                    f"pick those with input_fields/output_fields (or fields=), or regenerate the file"
                )
            f = info.fields[name]
            kind, ndim = parse_layout(f.layout)
            if kind != self.kind:
                other = "TrajectoryDataset" if kind == "trajectory" else "OperatorDataset"
                raise DataFormatError(
                    f"{self.path}: field {name!r} has layout {f.layout!r} ({kind}); {type(self).__name__} reads "
                    f"{self.kind} fields: use {other}, or open_dataset() which picks by the file's kind"
                )
            counts[name] = f.shape[0]
            spaces[name] = f.shape[-ndim:] if kind == "operator" else (f.shape[1], *f.shape[-ndim:])
        if len(set(counts.values())) != 1:
            raise DataFormatError(
                f"{self.path}: fields have different sample counts ({counts}); every field needs one entry per "
                f"sample: regenerate or reconvert the file"
            )
        if len(set(spaces.values())) != 1:
            raise DataFormatError(
                f"{self.path}: fields {list(spaces)} have different grids ({spaces}); select fields on one grid"
            )
        return next(iter(counts.values()))

    def _check_indices(self, indices: Sequence[int] | None, n: int) -> np.ndarray:
        if indices is None:
            return np.arange(n)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(
                f"{self.path}: sample indices must lie in [0, {n}), got {idx.min()}..{idx.max()}"
            )
        return idx

    @staticmethod
    def _channels(info: DatasetInfo, name: str) -> int:
        f = info.fields[name]
        return f.shape[-parse_layout(f.layout)[1] - 1]

    # -- reading -------------------------------------------------------------------------------------
    def _dataset(self, name: str) -> h5py.Dataset:
        # A handle inherited through fork is shared with the parent and unsafe: reopen per process.
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = open_file(self.path)
            self._pid = os.getpid()
            # Group lookups cost more than reading a small sample: resolve each field once.
            self._dsets = {
                name: self._h5["fields"][name] for name in dict.fromkeys(self.fields_x + self.fields_y)
            }
        return self._dsets[name]

    def _read(self, name: str, sample: int, frames: slice | None = None) -> torch.Tensor:
        dset = self._dataset(name)
        try:
            data = dset[sample] if frames is None else dset[sample, frames]
        except (OSError, RuntimeError) as exc:
            raise DataFormatError(
                f"{self.path}: cannot read sample {sample} of field {name!r} ({exc}); the file is corrupt: "
                f"run `specops info {self.path} --verify`, then regenerate it"
            ) from exc
        data = np.ascontiguousarray(data[self._space])
        if not np.isfinite(data).all():
            raise DataFormatError(
                f"{self.path}: sample {sample} of field {name!r} has NaN or inf values; drop it (indices=) or "
                f"regenerate the file (`specops info {self.path} --verify` lists every bad sample)"
            )
        return torch.from_numpy(data).to(self.dtype)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"], state["_pid"], state["_dsets"] = None, None, {}
        return state

    def close(self) -> None:
        """Close this process's file handle (it is reopened on the next read)."""
        if self._h5 is not None:
            self._h5.close()
        self._h5, self._dsets = None, {}

    @property
    def n_samples(self) -> int:
        """Number of selected samples (trajectories for a trajectory dataset)."""
        return len(self.indices)


class OperatorDataset(_FileDataset):
    """Input/output function pairs ``a -> u`` from a specops file (e.g. Darcy coefficient -> pressure).

    Parameters
    ----------
    path : path
        A specops dataset file (``specops generate`` or ``specops convert``).
    input_fields, output_fields : sequence of str, optional
        Fields concatenated (in this order) into ``x`` and ``y``; default: those the file records.
    indices : sequence of int, optional
        Samples to use (a split); default all.
    subsample : int or sequence of int
        Keep every ``subsample``-th grid point per spatial axis; must divide the resolution.
    dtype : torch.dtype
        Dtype of the returned tensors (float32 by default).

    Items are raw fields in the data's units: normalization happens in one place, the
    ``FieldNormalization`` of the trainer or the ``Predictor`` (``specops.models``).
    """

    kind = "operator"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        input_fields: Sequence[str] | None = None,
        output_fields: Sequence[str] | None = None,
        indices: Sequence[int] | None = None,
        subsample: int | Sequence[int] = 1,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            path,
            input_fields,
            output_fields,
            indices=indices,
            subsample=subsample,
            dtype=dtype,
        )

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = int(self.indices[index])
        x = torch.cat([self._read(name, sample) for name in self.fields_x])
        y = torch.cat([self._read(name, sample) for name in self.fields_y])
        return {"x": x, "y": y}


class TrajectoryDataset(_FileDataset):
    """Windows of trajectories: ``history`` input frames, then ``horizon`` output frames, ``stride`` apart.

    Every start frame ``t0`` with ``t0 + (history + horizon - 1) * stride < T`` of every selected sample is
    one item; items are ordered by sample, then ``t0``.

    Parameters
    ----------
    path : path
        A specops dataset file holding trajectory fields ``(sample, time, channel, *space)``.
    history, horizon : int
        Input frames ``k`` and output frames ``m`` per window.
    stride : int
        Stored frames between consecutive window frames (``dt`` of the window is ``stride`` times the
        stored frame spacing).
    fields : sequence of str, optional
        Trajectory fields concatenated on the channel axis (default: the file's ``output_fields``).
    indices, subsample, dtype
        As for :class:`OperatorDataset`.
    """

    kind = "trajectory"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        history: int = 1,
        horizon: int = 1,
        stride: int = 1,
        fields: Sequence[str] | None = None,
        indices: Sequence[int] | None = None,
        subsample: int | Sequence[int] = 1,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if min(int(history), int(horizon), int(stride)) < 1:
            raise ValueError(
                f"history={history}, horizon={horizon} and stride={stride} must all be at least 1"
            )
        super().__init__(
            path,
            fields,
            fields,
            indices=indices,
            subsample=subsample,
            dtype=dtype,
        )
        self.history, self.horizon, self.stride = int(history), int(horizon), int(stride)
        names = self.fields_x
        self.n_times = self.info.fields[names[0]].shape[1]
        self.span = (self.history + self.horizon - 1) * self.stride + 1
        if self.span > self.n_times:
            longest = (self.n_times - 1) // (self.history + self.horizon - 1)
            fix = f"use stride <= {longest}" if longest >= 1 else "reduce history/horizon"
            raise DataFormatError(
                f"{self.path}: a window of {self.history} + {self.horizon} frames with stride {self.stride} spans "
                f"{self.span} frames, but field {names[0]!r} has {self.n_times}; {fix}"
            )
        self.windows_per_sample = self.n_times - self.span + 1
        t = self.info.coords.get("t")
        frame_dt = float(t[1] - t[0]) if t is not None and t.size > 1 else math.nan
        self.dt = frame_dt * self.stride

    def __len__(self) -> int:
        return len(self.indices) * self.windows_per_sample

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        sample = int(self.indices[index // self.windows_per_sample])
        t0 = index % self.windows_per_sample
        frames = slice(t0, t0 + self.span, self.stride)
        window = torch.cat([self._read(name, sample, frames) for name in self.fields_x], dim=1)
        return {"x": window[: self.history], "y": window[self.history :]}

    def trajectory(self, index: int) -> torch.Tensor:
        """The whole trajectory of selected sample ``index``: ``(T, C, *space)``, every stored frame."""
        sample = int(self.indices[index])
        return torch.cat([self._read(name, sample) for name in self.fields_x], dim=1)


def open_dataset(path: str | os.PathLike, **kwargs: Any) -> OperatorDataset | TrajectoryDataset:
    """The dataset class that fits the file's ``kind`` (operator pairs or trajectories), built with ``kwargs``."""
    attrs = read_info(path).attrs
    check_usable(attrs, path)
    return (
        OperatorDataset(path, **kwargs) if attrs["kind"] == "operator" else TrajectoryDataset(path, **kwargs)
    )


def split_indices(
    n_samples: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), *, seed: int | None = None
) -> list[np.ndarray]:
    """Disjoint sample index sets, one per fraction (in file order, or shuffled with ``seed``).

    Boundaries are ``round(cumsum(fractions) * n)``, so the sets are as close to the fractions as integers
    allow; fractions may sum to less than 1 (the rest is unused).
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or (fr < 0).any() or fr.sum() > 1 + 1e-9:
        raise ValueError(f"fractions={list(fractions)} must be non-negative and sum to at most 1")
    order = np.arange(n_samples) if seed is None else np.random.default_rng(seed).permutation(n_samples)
    bounds = np.round(np.concatenate([[0.0], np.cumsum(fr)]) * n_samples).astype(np.int64)
    parts = [order[lo:hi] for lo, hi in itertools.pairwise(bounds)]
    for f, part in zip(fr, parts):
        if f > 0 and part.size == 0:
            raise ValueError(
                f"{n_samples} samples are too few for fractions {list(fractions)}: a split would be empty; "
                f"use more samples or larger fractions"
            )
    return parts


@dataclass
class DataSplits:
    """Train/validation/test datasets (raw fields) and normalizers fitted on the training split only."""

    train: OperatorDataset | TrajectoryDataset
    val: OperatorDataset | TrajectoryDataset
    test: OperatorDataset | TrajectoryDataset
    x_normalizer: Normalizer
    y_normalizer: Normalizer


def load_splits(
    path: str | os.PathLike,
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int | None = None,
    normalizer: Literal["gaussian", "minmax", "none"] = "gaussian",
    **kwargs: Any,
) -> DataSplits:
    """Split a file by sample into train/val/test and fit normalizers on train.

    The datasets return raw fields; give the normalizers to the ``Trainer`` (which encodes batches) and
    keep them with the model (``Predictor``). ``kwargs`` go to the dataset class (``history``,
    ``horizon``, ``stride``, ``subsample``, ...).
    """
    if len(fractions) != 3:
        raise ValueError(f"fractions={list(fractions)} must have three entries (train, val, test)")
    attrs = read_info(path).attrs
    check_usable(attrs, path)
    train_idx, val_idx, test_idx = split_indices(attrs["n_samples"], fractions, seed=seed)
    train = open_dataset(path, indices=train_idx, **kwargs)
    x_norm, y_norm = fit_normalizers(train, normalizer)
    val = open_dataset(path, indices=val_idx, **kwargs)
    test = open_dataset(path, indices=test_idx, **kwargs)
    return DataSplits(train, val, test, x_norm, y_norm)
