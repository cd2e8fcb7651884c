"""The specops dataset schema: names, layouts, root attributes and their checks (see docs/data-format.md).

A dataset is one HDF5 file. Root attributes describe where the data came from; ``/fields/<name>`` hold
the arrays, ``/checksums/<name>`` one SHA-256 digest per sample of each field, ``/coords`` the grid and
time coordinates, ``/seeds`` the seed of every sample of a generated dataset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

FORMAT_NAME = "specops-dataset"
FORMAT_VERSION = 1
SPATIAL_AXES = ("x", "y", "z")
Kind = Literal["operator", "trajectory"]
KINDS = ("operator", "trajectory")

# Present in every file. Generated files also carry GENERATED_ATTRS.
REQUIRED_ATTRS = (
    "format",
    "format_version",
    "specops_version",
    "created",
    "kind",
    "n_samples",
    "input_fields",
    "output_fields",
    "source",
)
GENERATED_ATTRS = (
    "pde",
    "parameters",
    "solver",
    "stepper",
    "dt",
    "domain",
    "resolution",
    "boundary",
    "seed",
    "sample_start",
    "sample_stop",
    "batch_size",
    "dtype",
    "device",
    "torch_version",
)
# Root attributes that are lists or dicts are stored as JSON strings; this attribute names them.
JSON_ATTRS_KEY = "json_attrs"


class DataFormatError(ValueError):
    """A dataset file that cannot be used as it is: the message names the file, the field and the fix."""


def layout_for(kind: Kind, ndim: int) -> str:
    """Axis names of a field, e.g. ``"sample channel x y"`` or ``"sample time channel x y"``."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} must be one of {KINDS}")
    if not 1 <= ndim <= 3:
        raise ValueError(f"ndim={ndim} must be 1, 2 or 3 spatial axes")
    head = ("sample", "channel") if kind == "operator" else ("sample", "time", "channel")
    return " ".join(head + SPATIAL_AXES[:ndim])


def parse_layout(layout: str) -> tuple[Kind, int]:
    """``(kind, ndim)`` of a layout string written by :func:`layout_for`; ``ValueError`` otherwise."""
    axes = str(layout).split()
    for kind in KINDS:
        head = 2 if kind == "operator" else 3
        ndim = len(axes) - head
        if 1 <= ndim <= 3 and " ".join(axes) == layout_for(kind, ndim):
            return kind, ndim
    raise ValueError(
        f"layout {layout!r} is not a specops field layout; expected e.g. {layout_for('operator', 2)!r} "
        f"or {layout_for('trajectory', 2)!r}"
    )


def to_python(value: Any) -> Any:
    """An HDF5 attribute value as plain Python: NumPy scalars and arrays to numbers and lists, bytes to str."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return to_python(value.item())
    if isinstance(value, np.ndarray):
        return [to_python(v) for v in value] if value.dtype.kind in "SO" else value.tolist()
    return value


def encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Root attributes as HDF5 can hold them: scalars as they are, lists and dicts as JSON strings."""
    out: dict[str, Any] = {}
    json_keys = []
    for key, value in attrs.items():
        value = to_python(value)
        if value is None:
            value = "n/a"
        scalar = next((base for base in (bool, int, float, str) if isinstance(value, base)), None)
        if scalar is not None:
            # Cast to the exact builtin: h5py cannot store subclasses such as torch's TorchVersion.
            out[key] = scalar(value)
        else:
            try:
                out[key] = json.dumps(value, sort_keys=True)
            except TypeError as exc:
                raise ValueError(
                    f"attribute {key!r}={value!r} is not JSON-serializable; pass numbers, strings, lists "
                    f"or dicts of them"
                ) from exc
            json_keys.append(key)
    out[JSON_ATTRS_KEY] = json.dumps(sorted(json_keys))
    return out


def decode_attrs(attrs: Mapping[str, Any], path: str | os.PathLike = "attributes") -> dict[str, Any]:
    """Inverse of :func:`encode_attrs`: a dict of Python values (JSON attributes parsed).

    Raises :class:`DataFormatError` naming ``path`` and the attribute when an attribute cannot be read or a
    JSON attribute does not parse.
    """
    raw = {}
    for key in attrs:
        try:
            raw[key] = to_python(attrs[key])
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(
                f"{path}: root attribute {key!r} cannot be read ({exc}); the file is damaged: regenerate it"
            ) from None
    json_keys = _json_value(raw.pop(JSON_ATTRS_KEY, "[]"), JSON_ATTRS_KEY, path)
    if not isinstance(json_keys, list) or not all(isinstance(k, str) for k in json_keys):
        raise DataFormatError(
            f"{path}: root attribute {JSON_ATTRS_KEY}={json_keys!r} must be a list of attribute names; the "
            f"file is damaged: regenerate it"
        )
    for key in json_keys:
        if key in raw:
            raw[key] = _json_value(raw[key], key, path)
    return raw


def _json_value(value: Any, key: str, path: str | os.PathLike) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(
            f"{path}: root attribute {key!r}={_short(value)} is listed as JSON but does not parse ({exc}); the "
            f"file is damaged: regenerate it, or fix the attribute with h5py"
        ) from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


USABLE_ATTRS = ("kind", "n_samples", "input_fields", "output_fields")


def check_usable(attrs: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Raise :class:`DataFormatError` unless ``attrs`` say what the file holds (kind, count, fields).

    These are the root attributes the datasets and the trainer read; the message names the file, what is
    missing or wrong, and the fix.
    """
    missing = [key for key in USABLE_ATTRS if key not in attrs]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise DataFormatError(
            f"{path} has no root attribute{plural} {', '.join(missing)}, so it is not a complete specops dataset "
            f"and nothing says what it holds; regenerate it with `specops generate`, or import the original "
            f"data with `specops convert` (`specops info {path} --verify` lists every problem)"
        )
    problems = _value_problems(attrs, path)
    n = attrs["n_samples"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        problems.append(f"{path}: root attribute n_samples={n!r} must be a non-negative integer")
    if problems:
        raise DataFormatError(f"{problems[0]}; the file is damaged: regenerate or reconvert it")


def check_header(attrs: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Raise :class:`DataFormatError` unless ``attrs`` mark a specops dataset this version can read."""
    name = attrs.get("format")
    if name != FORMAT_NAME:
        raise DataFormatError(
            f"{path} is not a specops dataset (root attribute format={name!r}, expected {FORMAT_NAME!r}); "
            f"import foreign files with `specops convert {path} --from FORMAT --out NEW.h5`"
        )
    version = attrs.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise DataFormatError(
            f"{path} has an invalid format_version={version!r}; the file is damaged: regenerate or reconvert it"
        )
    if version > FORMAT_VERSION:
        raise DataFormatError(
            f"{path} has format_version {version}, newer than this specops reads ({FORMAT_VERSION}); "
            f"upgrade specops (pip install -U specops)"
        )


def check_attrs(attrs: Mapping[str, Any], path: str | os.PathLike) -> list[str]:
    """Problems with the decoded root attributes of ``path`` (empty when the header is complete)."""
    problems = []
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if attrs.get("source") == "generate":
        missing += [key for key in GENERATED_ATTRS if key not in attrs]
    if missing:
        problems.append(f"{path}: root attributes missing: {', '.join(missing)}")
    return problems + _value_problems(attrs, path)


def _value_problems(attrs: Mapping[str, Any], path: str | os.PathLike) -> list[str]:
    problems = []
    if "kind" in attrs and attrs["kind"] not in KINDS:
        problems.append(f"{path}: root attribute kind={attrs['kind']!r} is not one of {KINDS}")
    for key in ("input_fields", "output_fields"):
        value = attrs.get(key)
        if key in attrs and (
            not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value)
        ):
            problems.append(f"{path}: root attribute {key}={value!r} must be a non-empty list of field names")
    return problems
