"""Reading and verifying specops dataset files (HDF5, layout in docs/data-format.md).

:func:`read_info` gives a file's metadata without reading field data; :func:`open_file` opens one for
reading with one clear error for a missing, foreign, corrupt or too-new file; :func:`verify_file` lists
every problem in a file, recomputing every checksum. Damage found anywhere is a :class:`DataFormatError`
naming the file and the object, never a raw h5py error. Writing is in ``writer.py``, joining files in
``concat.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.checksums import (
    DIGEST_BYTES,
    field_checksum,
    nonfinite_samples,
    sample_digests,
    sample_steps,
)
from specops.data.schema import DataFormatError, check_attrs, check_header, decode_attrs, parse_layout

# h5py reports damage inside a file as any of these, depending on where HDF5 finds it.
H5_ERRORS = (OSError, RuntimeError, KeyError)
VERIFY_BYTES = 256 * 2**20  # samples hashed per step while verifying: about this many bytes


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
    sample_info: dict[str, np.ndarray] = field(default_factory=dict)


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
        if "sample_info" in h5:
            where = "/sample_info"
            if not isinstance(h5["sample_info"], h5py.Group):
                raise DataFormatError(
                    f"{path}: /sample_info is not a group; the file is damaged: regenerate it"
                )
            info.sample_info = {k: _array(h5["sample_info"], k, path)[...] for k in h5["sample_info"]}
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
    if info.sample_info:
        lines.append("  sample_info:")
        lines += [f"    {line}" for line in solver_summary(info)]
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
    with h5:
        try:
            info = _read_info(h5, path)
        except DataFormatError as exc:
            return [str(exc)]
        problems = _root_problems(info)
        for f in info.fields.values():
            problems += _field_problems(h5, info, f, check_data, max_reports)
    return problems


def _root_problems(info: DatasetInfo) -> list[str]:
    """Problems with the root attributes: missing or bad values, named fields that do not exist, seeds."""
    path, attrs = info.path, info.attrs
    problems = check_attrs(attrs, path)
    n = attrs.get("n_samples")
    for key in ("input_fields", "output_fields"):
        for name in attrs.get(key, []) if isinstance(attrs.get(key), list) else []:
            if name not in info.fields:
                problems.append(
                    f"{path}: {key} names field {name!r}, which is missing (fields: {', '.join(info.fields)})"
                )
    if info.seeds is not None and info.seeds.shape != (n,):
        problems.append(f"{path}: /seeds has shape {info.seeds.shape}, expected ({n},)")
    for key, values in info.sample_info.items():
        if values.shape != (n,):
            problems.append(f"{path}: /sample_info/{key} has shape {values.shape}, expected ({n},)")
    return problems + _flagged_samples(info)


def flagged_samples(info: DatasetInfo) -> list[int]:
    """Indices of the samples whose linear solve did not converge (``/sample_info/converged`` is 0)."""
    converged = info.sample_info.get("converged")
    if converged is None or converged.shape != (info.attrs.get("n_samples"),):
        return []
    return [int(i) for i in np.flatnonzero(converged == 0)]


def _flagged_samples(info: DatasetInfo, max_listed: int = 20) -> list[str]:
    """One line per sample flagged as not converged: index, seed, residual and the tolerance."""
    bad = flagged_samples(info)
    start = int(info.attrs.get("sample_start", 0))
    residual = info.sample_info.get("residual")
    rtol = _linear_rtol(info.attrs)
    lines = []
    for i in bad[:max_listed]:
        seed = f" (seed {int(info.seeds[i])})" if info.seeds is not None and info.seeds.shape[0] > i else ""
        res = f": relative residual {residual[i]:.3e}" if residual is not None else ""
        lines.append(
            f"{info.path}: sample {start + i}{seed} did not converge{res} > rtol {rtol}; regenerate it with a "
            f"larger solver.maxiter, a stronger preconditioner or --solver direct"
        )
    if len(bad) > max_listed:
        lines.append(f"{info.path}: {len(bad) - max_listed} more samples did not converge")
    return lines


def _linear_rtol(attrs: dict[str, Any]) -> Any:
    params = attrs.get("parameters")
    solver = params.get("linear_solver") if isinstance(params, dict) else None
    return solver.get("rtol", "n/a") if isinstance(solver, dict) else "n/a"


def solver_summary(info: DatasetInfo) -> list[str]:
    """Lines summarising ``/sample_info``: iterations, products with A, residuals, flagged samples."""
    lines = []
    for key in ("iterations", "matvecs"):
        if key in info.sample_info and info.sample_info[key].size:
            v = info.sample_info[key]
            lines.append(
                f"{key:14s} total {int(v.sum())}, median {float(np.median(v)):g}, max {int(v.max())}"
            )
    if "residual" in info.sample_info and info.sample_info["residual"].size:
        v = info.sample_info["residual"]
        lines.append(f"{'residual':14s} max {float(v.max()):.3e} (rtol {_linear_rtol(info.attrs)})")
    if "converged" in info.sample_info:
        lines.append(f"{'not converged':14s} {len(flagged_samples(info))} sample(s)")
    return lines


def _field_problems(
    h5: h5py.File, info: DatasetInfo, f: FieldInfo, check_data: bool, max_reports: int
) -> list[str]:
    """Problems with one field: layout, sample count, coordinate lengths, checksums and (``check_data``) data."""
    path, n = info.path, info.attrs.get("n_samples")
    try:
        parse_layout(f.layout)
    except ValueError as exc:
        return [f"{path}: field {f.name!r}: {exc}"]
    if len(f.shape) != len(f.layout.split()):
        return [f"{path}: field {f.name!r} has shape {f.shape}, which does not fit layout {f.layout!r}"]
    problems = []
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
    if not isinstance(sums, h5py.Group) or not isinstance(sums.get(f.name), h5py.Dataset) or not f.sha256:
        return [*problems, f"{path}: field {f.name!r} has no checksums; reconvert or regenerate the file"]
    if check_data:
        try:
            problems += _verify_field(h5, f, path, max_reports)
        except H5_ERRORS as exc:
            problems.append(f"{path}: field {f.name!r} cannot be read ({exc}); the file is corrupt")
    return problems


def _verify_field(h5: h5py.File, f: FieldInfo, path: Path, max_reports: int) -> list[str]:
    """Recompute every sample digest of ``f``; report mismatches, NaN/inf and a wrong field checksum."""
    problems: list[str] = []
    dset, stored = h5["fields"][f.name], h5["checksums"][f.name]
    if stored.shape != (f.shape[0], DIGEST_BYTES):
        return [
            f"{path}: /checksums/{f.name} has shape {stored.shape}, expected ({f.shape[0]}, {DIGEST_BYTES})"
        ]
    digests = np.empty((f.shape[0], DIGEST_BYTES), dtype=np.uint8)
    sample_bytes = int(np.prod(f.shape[1:])) * dset.dtype.itemsize
    try:
        for start, stop in sample_steps(f.shape[0], sample_bytes, VERIFY_BYTES):
            batch = dset[start:stop]
            digests[start:stop] = sample_digests(batch)
            for i in nonfinite_samples(batch)[:max_reports]:
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
