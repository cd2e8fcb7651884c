"""Checking sample data: the format's SHA-256 checksums, finite values, and the steps samples are read in.

Definitions (docs/data-format.md, "Checksums"):

- the digest of a sample is the SHA-256 of its little-endian, C-order bytes; ``/checksums/<name>`` holds
  them in sample order, ``(n_samples, 32)`` uint8;
- a field's ``sha256`` attribute is the SHA-256 of the ASCII header ``"<dtype> <n>x<d1>x<d2>..."`` (e.g.
  ``"<f4 100x1x64x64"``) followed by the per-sample digests.

So the field checksum does not depend on the order or the batches in which samples were written: a
resumed, merged or recompressed dataset has the same checksums as one written in one go. Writing,
verifying and comparing files all hash through these functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np

DIGEST_BYTES = 32  # SHA-256


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


def nonfinite_samples(batch: np.ndarray) -> np.ndarray:
    """Indices (within ``batch``) of the samples holding a NaN or an infinity; none for integer data."""
    if not np.issubdtype(batch.dtype, np.floating):
        return np.zeros(0, dtype=np.int64)
    bad = ~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)
    return np.flatnonzero(bad)


def sample_steps(n: int, sample_bytes: int, step_bytes: int) -> Iterator[tuple[int, int]]:
    """Ranges ``[start, stop)`` covering ``n`` samples, each of about ``step_bytes`` (at least one sample).

    Samples are read, hashed and copied in these steps so that memory stays bounded for files larger
    than memory.
    """
    step = max(1, step_bytes // max(sample_bytes, 1))
    for start in range(0, n, step):
        yield start, min(n, start + step)
