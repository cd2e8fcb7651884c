"""Whether an existing output file already holds the dataset about to be written.

``specops convert`` and ``specops merge`` (``write_dataset(..., overwrite=False)``) keep an output that
already holds exactly the dataset they would write, and refuse to replace one that differs unless asked to
(``--overwrite``), as ``specops generate`` does. "Exactly" means: the same root attributes (except when and
by which specops version it was written), the same fields (names, shapes, dtypes, layouts), the same
coordinates, and the same per-sample SHA-256 digests. The digests come from the caller when it knows them
(the shards being merged store theirs); otherwise the sources are read and hashed, stopping at the first
sample that differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.checksums import DIGEST_BYTES, sample_digests, sample_steps
from specops.data.schema import JSON_ATTRS_KEY, decode_attrs, encode_attrs

# Root attributes that say when and with what a file was written, not what it holds.
WRITE_ATTRS = frozenset({"created", "specops_version", "format", "format_version", JSON_ATTRS_KEY})
COMPARE_BYTES = 64 * 2**20  # samples hashed per step when the sources must be read


def dataset_differences(
    path: Path,
    info: Any,
    root: Mapping[str, Any],
    fields: Mapping[str, Any],
    layouts: Mapping[str, str],
    coords: Mapping[str, Any] | None,
    expected_digests: Mapping[str, np.ndarray] | None,
) -> list[str]:
    """What differs between the file ``path`` (read as ``info``) and the dataset described by the rest.

    Parameters
    ----------
    info : DatasetInfo
        ``read_info(path)``.
    root, fields, layouts, coords, expected_digests
        As passed to ``write_dataset`` (``root`` complete: with ``n_samples`` and the sample range).

    Returns
    -------
    Short descriptions of the differences (attribute names, ``field 'u'``, ``data of field 'u'``); empty
    when the file holds this very dataset.
    """
    want = {k: v for k, v in decode_attrs(encode_attrs(root)).items() if k not in WRITE_ATTRS}
    have = {k: v for k, v in info.attrs.items() if k not in WRITE_ATTRS}
    differ = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if set(fields) != set(info.fields):
        differ.append(f"fields ({', '.join(sorted(info.fields))} vs {', '.join(sorted(fields))})")
    for name in sorted(set(fields) & set(info.fields)):
        src, stored = fields[name], info.fields[name]
        if (tuple(src.shape), np.dtype(src.dtype), layouts[name]) != (
            tuple(stored.shape),
            np.dtype(stored.dtype),
            stored.layout,
        ):
            differ.append(f"field {name!r}")
    given = {
        k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in (coords or {}).items() if v is not None
    }
    if set(given) != set(info.coords) or any(not np.array_equal(given[k], info.coords[k]) for k in given):
        differ.append("coordinates")
    if differ:
        return differ
    with h5py.File(path, "r") as h5:
        for name, src in fields.items():
            stored = h5["checksums"][name] if "checksums" in h5 and name in h5["checksums"] else None
            if stored is None or not _same_digests(src, stored, (expected_digests or {}).get(name)):
                differ.append(f"data of field {name!r}")
    return differ


def _same_digests(src: Any, stored: h5py.Dataset, expected: np.ndarray | None) -> bool:
    if not isinstance(stored, h5py.Dataset) or stored.shape != (src.shape[0], DIGEST_BYTES):
        return False
    if expected is not None:
        return bool(np.array_equal(np.asarray(expected), stored[...]))
    sample_bytes = int(np.prod(src.shape[1:])) * np.dtype(src.dtype).itemsize
    for start, stop in sample_steps(src.shape[0], sample_bytes, COMPARE_BYTES):
        if not np.array_equal(sample_digests(src.read(start, stop)), stored[start:stop]):
            return False
    return True
