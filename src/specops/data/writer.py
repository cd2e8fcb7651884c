"""Writing specops dataset files: :func:`write_dataset`, the one way every dataset file is made.

The whole file is built under a temporary name and renamed into place (``specops.atomic.atomic_path``): a
reader never sees a half-written file, and an error leaves any previous file intact. Everything that can be
checked before writing is checked before the temporary file exists (sample counts, layouts, attributes,
seeds); the data itself (shape, NaN and inf, expected digests) is checked batch by batch while it is copied.

Fields come from *sources*: objects with ``shape = (n_samples, *sample_shape)``, ``dtype``, ``label`` (the
origin, for messages) and ``read(start, stop)`` returning samples ``start:stop`` as a C-contiguous array.
:class:`ArraySource` wraps an array; ``concat.py`` and the format readers in ``formats/`` provide others.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops import __version__
from specops.atomic import atomic_path
from specops.data.checksums import (
    DIGEST_BYTES,
    field_checksum,
    nonfinite_samples,
    sample_digests,
    sample_steps,
)
from specops.data.h5write import GuardedFile, create_h5
from specops.data.io import read_info
from specops.data.outputs import dataset_differences
from specops.data.schema import FORMAT_NAME, FORMAT_VERSION, DataFormatError, encode_attrs, parse_layout
from specops.seeding import check_seeds

COPY_BYTES = 256 * 2**20  # samples copied per step: about this many bytes
# Target HDF5 chunk of a trajectory field: a few frames. Random windows read ~3x faster than from
# whole-trajectory chunks, which HDF5 reads (and caches) entirely for a few frames (bench_data.py).
CHUNK_BYTES = 64 * 2**10
COMPRESSIONS = (None, "gzip", "lzf")


class ArraySource:
    """Samples of an array already in specops layout (NumPy, h5py, anything sliceable along axis 0).

    ``label`` names the origin in error messages; ``dtype`` (default: the array's) is the stored dtype.
    """

    def __init__(self, array: Any, *, label: str = "array", dtype: np.dtype | str | None = None) -> None:
        if len(array.shape) < 2 or array.shape[0] == 0:
            raise DataFormatError(f"{label} has shape {tuple(array.shape)}; expected (n_samples >= 1, ...)")
        self.array, self.label = array, label
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(dtype if dtype is not None else array.dtype)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` as a C-contiguous array of ``self.dtype``."""
        return np.ascontiguousarray(self.array[start:stop], dtype=self.dtype)


def write_dataset(
    out: str | os.PathLike,
    fields: Mapping[str, Any],
    *,
    layouts: Mapping[str, str],
    attrs: Mapping[str, Any],
    coords: Mapping[str, Any] | None = None,
    seeds: Sequence[int] | np.ndarray | None = None,
    descriptions: Mapping[str, str] | None = None,
    expected_digests: Mapping[str, np.ndarray] | None = None,
    compression: str | None = None,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = True,
    sample_info: Mapping[str, Any] | None = None,
) -> Path:
    """Write a complete dataset file atomically (temporary file, then rename).

    Parameters
    ----------
    out : path
        Target file; an existing file is replaced only when the whole write succeeded.
    fields : mapping name -> source
        Each source has ``.shape = (n_samples, *sample_shape)``, ``.dtype``, ``.read(start, stop)`` and
        ``.label`` (see :class:`ArraySource`); all must have the same number of samples.
    layouts : mapping name -> str
        Layout of each field, e.g. ``"sample channel x y"`` (see ``schema.layout_for``).
    attrs : mapping
        Root attributes (``format``, ``format_version``, ``n_samples`` and ``specops_version`` are added).
    coords : mapping, optional
        1D coordinate arrays, keys among ``x``, ``y``, ``z``, ``t``.
    seeds : sequence of int, optional
        Seed of each sample (stored as ``/seeds``); each must be valid (``specops.seeding.check_seeds``).
    descriptions : mapping name -> str, optional
        What each field is, stored as its ``description`` attribute (default empty).
    expected_digests : mapping name -> (n, 32) uint8, optional
        Per-sample digests the data must reproduce (checked while copying, e.g. shards being merged).
    compression : {None, "gzip", "lzf"}
    progress : callable, optional
        Called with the number of samples copied after each step (of the first field's length).
    overwrite : bool
        With ``False``, an existing ``out`` is kept as it is when it already holds this very dataset
        (same attributes, fields, coordinates and sample digests; see ``specops.data.outputs``) and
        refused with ``FileExistsError`` when it holds anything else.
    sample_info : mapping name -> (n_samples,) array, optional
        Numbers about each sample (a linear solver's iterations, residual, convergence flag), stored as
        ``/sample_info/<name>`` (int64 or float64).

    Raises
    ------
    DataFormatError
        On mismatched sample counts, a layout that does not fit the data, NaN or inf values, or a digest
        mismatch. The message names the field, the source and the fix.
    ValueError
        On a missing layout, an unknown compression, attributes that cannot be stored, or invalid seeds
        (all before anything is written).
    FileExistsError
        With ``overwrite=False``, when ``out`` holds another dataset.
    OutOfSpaceError
        When the disk, the quota or the file size limit is exhausted (an ``OSError``; ``out`` is intact).
    """
    n = _sample_count(fields, layouts)
    compression_args = _compression_args(compression)
    out = Path(out)
    root = _root_attrs(attrs, n)
    try:
        encoded = encode_attrs(root)
    except ValueError as exc:
        raise ValueError(f"cannot write {out}: {exc}") from None
    seeds = _checked_seeds(seeds, n)
    info = _checked_sample_info(sample_info, n)
    if (
        not overwrite
        and out.exists()
        and _holds_already(out, root, fields, layouts, coords, expected_digests)
    ):
        return out
    with atomic_path(out) as tmp, create_h5(tmp, out) as (h5, guard):
        h5.attrs.update(encoded)
        h5.create_group("fields")
        h5.create_group("checksums")
        target = _Target(h5, guard, out, int(root["sample_start"]), compression_args)
        for i, (name, src) in enumerate(fields.items()):
            _write_field(
                target,
                name,
                src,
                layout=layouts[name],
                description=(descriptions or {}).get(name, ""),
                expected=(expected_digests or {}).get(name),
                progress=progress if i == 0 else None,
            )
        _write_coords(h5, coords)
        if seeds is not None:
            h5.create_dataset("seeds", data=seeds)
        if info:
            group = h5.create_group("sample_info")
            for key, values in info.items():
                group.create_dataset(key, data=values)
    return out


# ------------------------------------------------------------------------------------ before the write
def _sample_count(fields: Mapping[str, Any], layouts: Mapping[str, str]) -> int:
    """The common sample count of ``fields``, after checking that each fits its layout."""
    if not fields:
        raise ValueError("write_dataset needs at least one field")
    counts = {name: int(src.shape[0]) for name, src in fields.items()}
    if len(set(counts.values())) != 1:
        listing = ", ".join(f"{k} ({fields[k].label}): {v}" for k, v in counts.items())
        raise DataFormatError(
            f"fields have different numbers of samples ({listing}); every input and output field needs one "
            f"entry per sample: trim or fix the sources so the counts agree"
        )
    for name, src in fields.items():
        layout = layouts.get(name)
        if layout is None:
            raise ValueError(f"field {name!r} has no layout; pass layouts[{name!r}]")
        parse_layout(layout)
        expected = len(layout.split())
        if len(src.shape) != expected:
            raise DataFormatError(
                f"field {name!r} ({src.label}) has shape {tuple(src.shape)} but layout {layout!r} needs "
                f"{expected} axes; check the source layout (e.g. --layout for convert)"
            )
    return next(iter(counts.values()))


def _compression_args(compression: str | None) -> dict[str, Any]:
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression={compression!r} must be one of {COMPRESSIONS}")
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    return {}


def _root_attrs(attrs: Mapping[str, Any], n: int) -> dict[str, Any]:
    """``attrs`` completed with the format header, the sample count and range, writer and time."""
    root = {
        **attrs,
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "n_samples": n,
        "specops_version": attrs.get("specops_version", __version__),
    }
    root.setdefault("created", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    root.setdefault("sample_start", 0)
    root.setdefault("sample_stop", root["sample_start"] + n)
    return root


def _checked_seeds(seeds: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray | None:
    if seeds is None:
        return None
    values = np.asarray(check_seeds(seeds), dtype=np.int64)
    if values.shape != (n,):
        raise ValueError(f"seeds has shape {values.shape}, expected ({n},): one seed per sample")
    return values


def _checked_sample_info(info: Mapping[str, Any] | None, n: int) -> dict[str, np.ndarray]:
    """``info`` as int64/float64 arrays of one finite-or-NaN entry per sample; ValueError naming a bad one."""
    out = {}
    for key, values in (info or {}).items():
        array = np.asarray(values)
        if not str(key).isidentifier() or array.shape != (n,) or array.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_info[{key!r}] has shape {array.shape} and dtype {array.dtype}; expected ({n},) numbers "
                f"named by an identifier: one entry per sample"
            )
        out[str(key)] = array.astype(np.float64 if array.dtype.kind == "f" else np.int64)
    return out


def _holds_already(out: Path, root, fields, layouts, coords, expected_digests) -> bool:
    """True if ``out`` holds this very dataset; ``FileExistsError`` naming the difference otherwise."""
    try:
        info = read_info(out)
    except (DataFormatError, OSError) as exc:
        raise FileExistsError(
            f"{out} exists and is not a readable dataset ({exc}); pass --overwrite to replace it, or write "
            f"to another file"
        ) from None
    differ = dataset_differences(out, info, root, fields, layouts, coords, expected_digests)
    if differ:
        raise FileExistsError(
            f"{out} already holds a different dataset (differs in {', '.join(differ[:4])}); pass --overwrite "
            f"to replace it, or write to another file"
        )
    return True


# ---------------------------------------------------------------------------------------------- the write
@dataclass(frozen=True)
class _Target:
    """The file being written and what every field's copy needs to know about it."""

    h5: h5py.File
    guard: GuardedFile
    out: Path  # the file the user asked for, named in errors
    offset: int  # global index of the first sample (a shard's or batch's sample_start)
    compression: dict[str, Any]


def _write_field(
    target: _Target,
    name: str,
    src: Any,
    *,
    layout: str,
    description: str,
    expected: np.ndarray | None,
    progress: Callable[[int], None] | None,
) -> None:
    """Copy one field batch by batch, checking and hashing each batch; then its attributes.

    ``expected`` holds the digests its samples must have (``None``: no check).
    """
    n, sample_shape, dtype = int(src.shape[0]), tuple(int(s) for s in src.shape[1:]), np.dtype(src.dtype)
    dset = target.h5["fields"].create_dataset(
        name,
        shape=(n, *sample_shape),
        dtype=dtype,
        chunks=_chunks(layout, sample_shape, dtype.itemsize),
        **target.compression,
    )
    digests = target.h5["checksums"].create_dataset(name, shape=(n, DIGEST_BYTES), dtype=np.uint8)
    for start, stop in sample_steps(n, int(np.prod(sample_shape)) * dtype.itemsize, COPY_BYTES):
        batch = _checked_batch(target, name, src, start, stop)
        sums = sample_digests(batch)
        if expected is not None:
            _check_digests(target, name, src, start, sums, np.asarray(expected[start:stop]))
        dset[start:stop] = batch
        digests[start:stop] = sums
        target.guard.check()
        if progress is not None:
            progress(stop - start)
    dset.attrs["layout"] = layout
    dset.attrs["description"] = description
    dset.attrs["sha256"] = field_checksum(digests[...], dtype, sample_shape)


def _chunks(layout: str, sample_shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """HDF5 chunk of a field: one sample, or for a trajectory a few frames of one sample."""
    kind, _ = parse_layout(layout)
    if kind == "operator":
        return (1, *sample_shape)
    n_times, frame = sample_shape[0], int(np.prod(sample_shape[1:])) * itemsize
    frames = max(1, min(n_times, CHUNK_BYTES // max(frame, 1)))
    n_chunks = -(-n_times // frames)
    return (1, -(-n_times // n_chunks), *sample_shape[1:])  # balanced, so the last chunk is not mostly empty


def _checked_batch(target: _Target, name: str, src: Any, start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of ``src``, refused if their shape is wrong or they hold NaN or inf."""
    batch = src.read(start, stop)
    expected = (stop - start, *(int(s) for s in src.shape[1:]))
    if batch.shape != expected:
        raise DataFormatError(
            f"field {name!r} ({src.label}): samples {start}:{stop} have shape {batch.shape}, "
            f"expected {expected}; the source is inconsistent"
        )
    bad = nonfinite_samples(batch)
    if len(bad):
        where = ", ".join(str(target.offset + start + int(i)) for i in bad[:5])
        raise DataFormatError(
            f"field {name!r} ({src.label}) has NaN or inf values in sample(s) {where}"
            f"{' and more' if len(bad) > 5 else ''}; nothing was written to {target.out}: remove or "
            f"recompute those samples in the source"
        )
    return batch


def _check_digests(
    target: _Target, name: str, src: Any, start: int, sums: np.ndarray, want: np.ndarray
) -> None:
    wrong = np.flatnonzero((want != sums).any(axis=1))
    if len(wrong):
        raise DataFormatError(
            f"field {name!r} ({src.label}): sample {target.offset + start + int(wrong[0])} does not "
            f"match its stored checksum; the source is corrupt: regenerate it"
        )


def _write_coords(h5: h5py.File, coords: Mapping[str, Any] | None) -> None:
    if coords:
        group = h5.create_group("coords")
        for key, value in coords.items():
            if value is not None:
                group.create_dataset(key, data=np.asarray(value, dtype=np.float64).reshape(-1))
