"""Reading, writing, checking and concatenating specops dataset files (HDF5, layout in docs/data-format.md).

Every write goes through :func:`write_dataset`, which builds the whole file under a temporary name and
renames it into place (``specops.atomic.atomic_path``): a reader never sees a half-written file, and an
error leaves any previous file intact. Checksums are per sample (SHA-256 of the sample's little-endian
bytes) and per field (SHA-256 over the header and the per-sample digests in sample order), so the field
checksum does not depend on the order or the batches in which samples were written.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.atomic import atomic_path
from specops.data.h5write import create_h5
from specops.data.outputs import dataset_differences
from specops.data.schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    DataFormatError,
    check_attrs,
    check_header,
    decode_attrs,
    encode_attrs,
    parse_layout,
)

DIGEST_BYTES = 32
COPY_BYTES = 256 * 2**20  # samples copied per step: about this many bytes
# Target HDF5 chunk of a trajectory field: a few frames. Random windows read ~3x faster than from
# whole-trajectory chunks, which HDF5 reads (and caches) entirely for a few frames (bench_data.py).
CHUNK_BYTES = 64 * 2**10
COMPRESSIONS = (None, "gzip", "lzf")
# h5py reports damage inside a file as any of these, depending on where HDF5 finds it.
H5_ERRORS = (OSError, RuntimeError, KeyError)
# Attributes that legitimately differ between the parts of one dataset (shards, generation batches).
PART_ATTRS = frozenset({"created", "sample_start", "sample_stop", "n_samples", "shard", "merged_from"})


# ----------------------------------------------------------------------------------------------- sources
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
        parts = []
        for k, src in enumerate(self.sources):
            lo, hi = max(start, self.offsets[k]), min(stop, self.offsets[k + 1])
            if lo < hi:
                parts.append(src.read(int(lo - self.offsets[k]), int(hi - self.offsets[k])))
        return np.ascontiguousarray(np.concatenate(parts), dtype=self.dtype)


# --------------------------------------------------------------------------------------------- checksums
def sample_digests(batch: np.ndarray) -> np.ndarray:
    """SHA-256 of each sample's little-endian C-order bytes: ``(n, 32)`` uint8."""
    little = np.ascontiguousarray(batch, dtype=batch.dtype.newbyteorder("<"))
    out = np.empty((len(little), DIGEST_BYTES), dtype=np.uint8)
    for i, sample in enumerate(little):
        out[i] = np.frombuffer(hashlib.sha256(sample.tobytes()).digest(), dtype=np.uint8)
    return out


def field_checksum(digests: np.ndarray, dtype: np.dtype, sample_shape: Sequence[int]) -> str:
    """Field checksum: SHA-256 of ``"<dtype> <n>x<shape>"`` followed by the per-sample digests, in hex."""
    header = f"{np.dtype(dtype).newbyteorder('<').str} {len(digests)}x{'x'.join(map(str, sample_shape))}"
    h = hashlib.sha256(header.encode())
    h.update(np.ascontiguousarray(digests, dtype=np.uint8).tobytes())
    return h.hexdigest()


def _nonfinite_samples(batch: np.ndarray) -> np.ndarray:
    if not np.issubdtype(batch.dtype, np.floating):
        return np.zeros(0, dtype=np.int64)
    bad = ~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)
    return np.flatnonzero(bad)


# ------------------------------------------------------------------------------------------------ writing
def _chunks(layout: str, sample_shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    kind, _ = parse_layout(layout)
    if kind == "operator":
        return (1, *sample_shape)
    n_times, frame = sample_shape[0], int(np.prod(sample_shape[1:])) * itemsize
    frames = max(1, min(n_times, CHUNK_BYTES // max(frame, 1)))
    n_chunks = -(-n_times // frames)
    return (1, -(-n_times // n_chunks), *sample_shape[1:])  # balanced, so the last chunk is not mostly empty


def _compression_args(compression: str | None) -> dict[str, Any]:
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression={compression!r} must be one of {COMPRESSIONS}")
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    return {}


def _batches(n: int, sample_bytes: int) -> Iterator[tuple[int, int]]:
    step = max(1, COPY_BYTES // max(sample_bytes, 1))
    for start in range(0, n, step):
        yield start, min(n, start + step)


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
        Seed of each sample (stored as ``/seeds``).
    expected_digests : mapping name -> (n, 32) uint8, optional
        Per-sample digests the data must reproduce (checked while copying, e.g. shards being merged).
    compression : {None, "gzip", "lzf"}
    progress : callable, optional
        Called with the number of samples copied after each step (of the first field's length).
    overwrite : bool
        With ``False``, an existing ``out`` is kept as it is when it already holds this very dataset
        (same attributes, fields, coordinates and sample digests; see ``specops.data.outputs``) and
        refused with ``FileExistsError`` when it holds anything else.

    Raises
    ------
    DataFormatError
        On mismatched sample counts, a layout that does not fit the data, NaN or inf values, or a digest
        mismatch. The message names the field, the source and the fix.
    OutOfSpaceError
        When the disk, the quota or the file size limit is exhausted (an ``OSError``; ``out`` is intact).
    """
    from specops import __version__

    if not fields:
        raise ValueError("write_dataset needs at least one field")
    counts = {name: int(src.shape[0]) for name, src in fields.items()}
    n = next(iter(counts.values()))
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
    compression_args = _compression_args(compression)
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
    offset = int(root["sample_start"])
    out = Path(out)
    try:
        encoded = encode_attrs(root)
    except ValueError as exc:
        raise ValueError(f"cannot write {out}: {exc}") from None
    if (
        not overwrite
        and out.exists()
        and _holds_already(out, root, fields, layouts, coords, expected_digests)
    ):
        return out
    with atomic_path(out) as tmp, create_h5(tmp, out) as (h5, guard):
        h5.attrs.update(encoded)
        group, sums = h5.create_group("fields"), h5.create_group("checksums")
        for name, src in fields.items():
            sample_shape = tuple(int(s) for s in src.shape[1:])
            dtype = np.dtype(src.dtype)
            dset = group.create_dataset(
                name,
                shape=(n, *sample_shape),
                dtype=dtype,
                chunks=_chunks(layouts[name], sample_shape, dtype.itemsize),
                **compression_args,
            )
            digests = sums.create_dataset(name, shape=(n, DIGEST_BYTES), dtype=np.uint8)
            sample_bytes = int(np.prod(sample_shape)) * dtype.itemsize
            for start, stop in _batches(n, sample_bytes):
                batch = src.read(start, stop)
                if batch.shape != (stop - start, *sample_shape):
                    raise DataFormatError(
                        f"field {name!r} ({src.label}): samples {start}:{stop} have shape {batch.shape}, "
                        f"expected {(stop - start, *sample_shape)}; the source is inconsistent"
                    )
                bad = _nonfinite_samples(batch)
                if len(bad):
                    where = ", ".join(str(offset + start + int(i)) for i in bad[:5])
                    raise DataFormatError(
                        f"field {name!r} ({src.label}) has NaN or inf values in sample(s) {where}"
                        f"{' and more' if len(bad) > 5 else ''}; nothing was written to {out}: remove or "
                        f"recompute those samples in the source"
                    )
                sample_sums = sample_digests(batch)
                if expected_digests is not None and name in expected_digests:
                    want = np.asarray(expected_digests[name][start:stop])
                    wrong = np.flatnonzero((want != sample_sums).any(axis=1))
                    if len(wrong):
                        raise DataFormatError(
                            f"field {name!r} ({src.label}): sample {offset + start + int(wrong[0])} does not "
                            f"match its stored checksum; the source is corrupt: regenerate it"
                        )
                dset[start:stop] = batch
                digests[start:stop] = sample_sums
                guard.check()
                if progress is not None and name == next(iter(fields)):
                    progress(stop - start)
            dset.attrs["layout"] = layouts[name]
            dset.attrs["description"] = (descriptions or {}).get(name, "")
            dset.attrs["sha256"] = field_checksum(digests[...], dtype, sample_shape)
        if coords:
            cgroup = h5.create_group("coords")
            for key, value in coords.items():
                if value is not None:
                    cgroup.create_dataset(key, data=np.asarray(value, dtype=np.float64).reshape(-1))
        if seeds is not None:
            seeds = np.asarray(seeds, dtype=np.int64)
            if seeds.shape != (n,):
                raise ValueError(f"seeds has shape {seeds.shape}, expected ({n},): one seed per sample")
            h5.create_dataset("seeds", data=seeds)
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
    differ = dataset_differences(out, info, root, fields, layouts, coords, expected_digests, sample_digests)
    if differ:
        raise FileExistsError(
            f"{out} already holds a different dataset (differs in {', '.join(differ[:4])}); pass --overwrite "
            f"to replace it, or write to another file"
        )
    return True


# ------------------------------------------------------------------------------------------------ reading
def open_file(path: str | os.PathLike) -> h5py.File:
    """Open a specops dataset read-only; clear errors for a missing, foreign, corrupt or too-new file."""
    path = Path(path)
    if not path.is_file():
        partial = path.with_name(path.name + ".partial")
        hint = (
            f"; {partial} holds an interrupted generation: rerun the same `specops generate` command to finish it"
            if partial.is_dir()
            else ""
        )
        raise FileNotFoundError(f"dataset file {path} does not exist{hint}")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(
            f"cannot read {path} as HDF5 ({exc}); the file is truncated or corrupt: regenerate it, or "
            f"download or convert it again"
        ) from exc
    try:
        try:
            check_header(decode_attrs(h5.attrs, path), path)
            has_fields = isinstance(h5.get("fields"), h5py.Group)
        except H5_ERRORS as exc:
            raise DataFormatError(
                f"{path}: the root attributes cannot be read ({exc}); the file is corrupt: regenerate it"
            ) from None
        if not has_fields:
            raise DataFormatError(f"{path} has no /fields group; the file is damaged: regenerate it")
    except BaseException:
        h5.close()
        raise
    return h5


def _array(group: h5py.Group, name: str, path: Path) -> h5py.Dataset:
    """``group[name]`` if it is an array; a :class:`DataFormatError` naming the file and the object otherwise."""
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        what = "a group" if isinstance(obj, h5py.Group) else "missing" if obj is None else type(obj).__name__
        raise DataFormatError(
            f"{path}: {group.name.rstrip('/')}/{name} is {what}, not an array; the file is damaged: regenerate "
            f"it, or convert the original data again"
        )
    return obj


@dataclass
class FieldInfo:
    """Shape, dtype and layout of one stored field."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    layout: str
    description: str = ""
    sha256: str = ""


@dataclass
class DatasetInfo:
    """What :func:`read_info` finds in a file: root attributes, fields, coordinates."""

    path: Path
    attrs: dict[str, Any]
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    seeds: np.ndarray | None = None


def _read_info(h5: h5py.File, path: Path) -> DatasetInfo:
    where = "the root attributes"
    try:
        info = DatasetInfo(path=path, attrs=decode_attrs(h5.attrs, path))
        where = "/fields"
        for name in h5["fields"]:
            where = f"field {name!r}"
            dset = _array(h5["fields"], name, path)
            info.fields[name] = FieldInfo(
                name=name,
                shape=tuple(dset.shape),
                dtype=str(dset.dtype),
                layout=str(dset.attrs.get("layout", "")),
                description=str(dset.attrs.get("description", "")),
                sha256=str(dset.attrs.get("sha256", "")),
            )
        if "coords" in h5:
            where = "/coords"
            if not isinstance(h5["coords"], h5py.Group):
                raise DataFormatError(f"{path}: /coords is not a group; the file is damaged: regenerate it")
            info.coords = {k: _array(h5["coords"], k, path)[...] for k in h5["coords"]}
        if "seeds" in h5:
            where = "/seeds"
            info.seeds = _array(h5, "seeds", path)[...]
    except H5_ERRORS as exc:
        raise DataFormatError(
            f"{path}: {where} cannot be read ({exc}); the file is corrupt: regenerate it"
        ) from None
    return info


def read_info(path: str | os.PathLike) -> DatasetInfo:
    """Root attributes, field shapes/layouts/checksums and coordinates of a dataset (no field data read)."""
    path = Path(path)
    with open_file(path) as h5:
        return _read_info(h5, path)


def format_info(info: DatasetInfo) -> str:
    """Human-readable summary of :func:`read_info`'s result (what ``specops info`` prints)."""
    lines = [f"{info.path}"]
    for key in sorted(info.attrs):
        lines.append(f"  {key:16s} {info.attrs[key]}")
    lines.append("  fields:")
    for f in info.fields.values():
        lines.append(
            f"    {f.name:14s} {f.dtype:8s} {'x'.join(map(str, f.shape)):>22s}  ({f.layout})  {f.description}"
        )
    if info.coords:
        lines.append("  coords:")
        for key, value in info.coords.items():
            span = f"[{value.min():.6g}, {value.max():.6g}]" if value.size else "[]"
            lines.append(f"    {key:14s} {value.size:6d} points  {span}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- checking
def verify_file(path: str | os.PathLike, *, check_data: bool = True, max_reports: int = 5) -> list[str]:
    """Every problem found in a dataset file; an empty list means it is sound.

    Checks the header and required attributes, that each field has a valid layout and one entry per
    sample, that the named input/output fields exist, coordinate lengths, and (``check_data``) that every
    sample's SHA-256 and each field checksum match and that no value is NaN or inf.
    """
    path = Path(path)
    try:
        h5 = open_file(path)
    except (DataFormatError, FileNotFoundError) as exc:
        return [str(exc)]
    problems: list[str] = []
    with h5:
        try:
            info = _read_info(h5, path)
        except DataFormatError as exc:
            return [str(exc)]
        attrs = info.attrs
        problems += check_attrs(attrs, path)
        n = attrs.get("n_samples")
        for key in ("input_fields", "output_fields"):
            for name in attrs.get(key, []) if isinstance(attrs.get(key), list) else []:
                if name not in info.fields:
                    problems.append(
                        f"{path}: {key} names field {name!r}, which is missing (fields: {', '.join(info.fields)})"
                    )
        if info.seeds is not None and info.seeds.shape != (n,):
            problems.append(f"{path}: /seeds has shape {info.seeds.shape}, expected ({n},)")
        for f in info.fields.values():
            try:
                parse_layout(f.layout)
            except ValueError as exc:
                problems.append(f"{path}: field {f.name!r}: {exc}")
                continue
            if len(f.shape) != len(f.layout.split()):
                problems.append(
                    f"{path}: field {f.name!r} has shape {f.shape}, which does not fit layout {f.layout!r}"
                )
                continue
            if f.shape[0] != n:
                problems.append(f"{path}: field {f.name!r} has {f.shape[0]} samples, n_samples is {n}")
            for axis, length in zip(f.layout.split()[1:], f.shape[1:]):
                axis = "t" if axis == "time" else axis
                if axis in info.coords and info.coords[axis].size != length:
                    problems.append(
                        f"{path}: coordinate {axis!r} has {info.coords[axis].size} points but field "
                        f"{f.name!r} has {length} along {axis}"
                    )
            sums = h5.get("checksums")
            if (
                not isinstance(sums, h5py.Group)
                or not isinstance(sums.get(f.name), h5py.Dataset)
                or not f.sha256
            ):
                problems.append(
                    f"{path}: field {f.name!r} has no checksums; reconvert or regenerate the file"
                )
                continue
            if check_data:
                try:
                    problems += _verify_field(h5, f, path, max_reports)
                except H5_ERRORS as exc:
                    problems.append(f"{path}: field {f.name!r} cannot be read ({exc}); the file is corrupt")
    return problems


def _verify_field(h5: h5py.File, f: FieldInfo, path: Path, max_reports: int) -> list[str]:
    problems: list[str] = []
    dset, stored = h5["fields"][f.name], h5["checksums"][f.name]
    if stored.shape != (f.shape[0], DIGEST_BYTES):
        return [
            f"{path}: /checksums/{f.name} has shape {stored.shape}, expected ({f.shape[0]}, {DIGEST_BYTES})"
        ]
    digests = np.empty((f.shape[0], DIGEST_BYTES), dtype=np.uint8)
    sample_bytes = int(np.prod(f.shape[1:])) * dset.dtype.itemsize
    try:
        for start, stop in _batches(f.shape[0], sample_bytes):
            batch = dset[start:stop]
            digests[start:stop] = sample_digests(batch)
            for i in _nonfinite_samples(batch)[:max_reports]:
                problems.append(f"{path}: field {f.name!r} sample {start + int(i)} has NaN or inf values")
    except H5_ERRORS as exc:
        return [f"{path}: field {f.name!r} cannot be read ({exc}); the file is corrupt: regenerate it"]
    wrong = np.flatnonzero((digests != stored[...]).any(axis=1))
    for i in wrong[:max_reports]:
        problems.append(
            f"{path}: field {f.name!r} sample {int(i)} does not match its checksum (data corrupted)"
        )
    if len(wrong) > max_reports:
        problems.append(f"{path}: field {f.name!r}: {len(wrong) - max_reports} more samples do not match")
    if field_checksum(stored[...], dset.dtype, f.shape[1:]) != f.sha256:
        problems.append(f"{path}: field {f.name!r}: the per-sample checksums do not match the field sha256")
    return problems


# ----------------------------------------------------------------------------------------- concatenation
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
