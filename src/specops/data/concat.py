"""Joining dataset files that hold consecutive sample ranges of one dataset (shards, generation batches).

:func:`concatenate` checks that the parts belong together (same root attributes apart from those that
describe the part, same fields and coordinates) and tile the sample range without gap or overlap, then
copies them through ``write_dataset`` while checking every sample against the digest its part stored. The
result has the same per-field checksums as a file written in one go.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.io import H5_ERRORS, DatasetInfo, read_info
from specops.data.schema import DataFormatError
from specops.data.writer import write_dataset

# Attributes that legitimately differ between the parts of one dataset (shards, generation batches).
PART_ATTRS = frozenset({"created", "sample_start", "sample_stop", "n_samples", "shard", "merged_from"})


def concatenate(
    out: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    *,
    attrs: Mapping[str, Any] | None = None,
    compression: str | None = None,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = True,
) -> Path:
    """Join dataset files holding consecutive sample ranges of one dataset into one file.

    The inputs (shards, or the batches of a generation) must agree in every root attribute except those
    that describe the part (``sample_start``, ``sample_stop``, ``n_samples``, ``created``, ``shard``), in
    field names, layouts, sample shapes and dtypes, and in coordinates; their sample ranges must follow
    each other without gap or overlap. Data is copied sample batch by sample batch and checked against
    each input's stored digests, so the result has the same per-field checksums as a file written in one go.
    ``overwrite`` is passed to :func:`write_dataset`.
    """
    if not inputs:
        raise ValueError("concatenate needs at least one input file")
    infos = sorted((read_info(p) for p in inputs), key=lambda i: int(i.attrs.get("sample_start", 0)))
    _check_compatible(infos)
    check_tiling(infos)
    first = infos[0]
    fields, digests = {}, {}
    for name, f in first.fields.items():
        parts = [StoredField(i.path, name, i.fields[name].shape, np.dtype(f.dtype)) for i in infos]
        fields[name] = ConcatSource(parts, label=f"field {name!r} of {', '.join(str(i.path) for i in infos)}")
        digests[name] = np.concatenate([p.digests() for p in parts])
    root = {k: v for k, v in first.attrs.items() if k not in ("format", "format_version", "created")}
    root.update(
        sample_start=int(first.attrs["sample_start"]), sample_stop=int(infos[-1].attrs["sample_stop"])
    )
    root.update(attrs or {})
    seeds = np.concatenate([i.seeds for i in infos]) if all(i.seeds is not None for i in infos) else None
    keys = set.intersection(*(set(i.sample_info) for i in infos))
    sample_info = {k: np.concatenate([i.sample_info[k] for i in infos]) for k in sorted(keys)}
    return write_dataset(
        out,
        fields,
        layouts={name: f.layout for name, f in first.fields.items()},
        descriptions={name: f.description for name, f in first.fields.items()},
        attrs=root,
        coords=first.coords,
        seeds=seeds,
        expected_digests=digests,
        compression=compression,
        progress=progress,
        overwrite=overwrite,
        sample_info=sample_info,
    )


class StoredField:
    """One field of a dataset file as a sample source; the file is opened only while reading.

    Holding no handle keeps thousands of inputs (the batches of a long generation) within the limit on
    open files.
    """

    def __init__(self, path: Path, name: str, shape: Sequence[int], dtype: np.dtype) -> None:
        self.path, self.name, self.shape, self.dtype = Path(path), name, tuple(shape), np.dtype(dtype)
        self.label = str(path)

    def read(self, start: int, stop: int) -> np.ndarray:
        return self._get(f"fields/{self.name}", slice(start, stop))

    def digests(self) -> np.ndarray:
        return self._get(f"checksums/{self.name}", ...)

    def _get(self, key: str, index: Any) -> np.ndarray:
        try:
            with h5py.File(self.path, "r") as h5:
                return h5[key][index]
        except H5_ERRORS as exc:
            raise DataFormatError(
                f"{self.path}: /{key} cannot be read ({exc}); the file is corrupt: regenerate it"
            ) from None


class ConcatSource:
    """Several sources of the same sample shape, one after the other along the sample axis."""

    def __init__(self, sources: Sequence[Any], label: str = "concatenation") -> None:
        if not sources:
            raise ValueError("ConcatSource needs at least one source")
        shapes = {tuple(s.shape[1:]) for s in sources}
        if len(shapes) != 1:
            raise DataFormatError(f"{label}: the parts have different sample shapes {sorted(shapes)}")
        self.sources, self.label = list(sources), label
        self.dtype = np.result_type(*[s.dtype for s in sources])
        self.offsets = np.cumsum([0] + [s.shape[0] for s in sources])
        self.shape = (int(self.offsets[-1]), *shapes.pop())

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` of the concatenation, read from the parts that hold them."""
        parts = []
        for k, src in enumerate(self.sources):
            lo, hi = max(start, self.offsets[k]), min(stop, self.offsets[k + 1])
            if lo < hi:
                parts.append(src.read(int(lo - self.offsets[k]), int(hi - self.offsets[k])))
        return np.ascontiguousarray(np.concatenate(parts), dtype=self.dtype)


def _check_compatible(infos: Sequence[DatasetInfo]) -> None:
    ref = infos[0]
    for other in infos[1:]:
        keys = (set(ref.attrs) | set(other.attrs)) - PART_ATTRS
        differ = sorted(k for k in keys if ref.attrs.get(k) != other.attrs.get(k))
        if differ:
            details = "; ".join(f"{k}: {ref.attrs.get(k)!r} vs {other.attrs.get(k)!r}" for k in differ[:4])
            raise DataFormatError(
                f"{other.path} does not belong with {ref.path}: root attributes differ ({details}); join only "
                f"shards made by the same command with different --shard values"
            )
        a = {n: (f.shape[1:], f.dtype, f.layout) for n, f in ref.fields.items()}
        b = {n: (f.shape[1:], f.dtype, f.layout) for n, f in other.fields.items()}
        if a != b:
            raise DataFormatError(
                f"{other.path} and {ref.path} have different fields ({b} vs {a}); they cannot be joined"
            )
        if set(ref.coords) != set(other.coords) or any(
            not np.array_equal(ref.coords[k], other.coords[k]) for k in ref.coords
        ):
            raise DataFormatError(
                f"{other.path} and {ref.path} have different coordinates; they cannot be joined"
            )


def check_tiling(infos: Sequence[DatasetInfo]) -> None:
    """Raise unless the files' sample ranges, in the given order, follow each other without gap or overlap."""
    for info in infos:
        if "sample_start" not in info.attrs or "sample_stop" not in info.attrs:
            raise DataFormatError(
                f"{info.path} records no sample range (sample_start/sample_stop); it is not a shard"
            )
    for prev, nxt in itertools.pairwise(infos):
        stop, start = int(prev.attrs["sample_stop"]), int(nxt.attrs["sample_start"])
        if start != stop:
            what = "overlap" if start < stop else f"leave samples {stop}..{start - 1} out"
            raise DataFormatError(
                f"{prev.path} (samples {prev.attrs['sample_start']}..{stop - 1}) and {nxt.path} (samples "
                f"{start}..{nxt.attrs['sample_stop'] - 1}) {what}; pass each shard once and all shards in between"
            )
