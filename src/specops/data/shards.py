"""Shards: a generation split into N runs of whole batches, and the merge that joins them.

``--shard K/N`` (K counted from 1) generates the K-th of N contiguous runs of whole batches, so every batch
holds the same samples in a sharded and an unsharded run, and with the same batch size, device and torch
version the merged data are bit-identical to the unsharded run's. :func:`merge_shards` joins shards given
in any order, checks that they come from the same command and cover every sample once, and checks each
sample against the digest its shard stored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from specops.data.concat import check_tiling, concatenate
from specops.data.io import read_info
from specops.locking import exclusive_lock
from specops.progress import Progress


def parse_shard(shard: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"K/N"`` or ``(K, N)`` -> ``(K, N)`` with ``1 <= K <= N`` (the K-th of N parts); ``None`` stays."""
    if shard is None:
        return None
    try:
        k, n = (int(v) for v in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"shard={shard!r} must look like K/N, e.g. 2/4 for the second of four parts"
        ) from exc
    if not 1 <= k <= n:
        raise ValueError(
            f"shard={shard!r}: K must be between 1 and N (K/N = {k}/{n}); parts are numbered from 1"
        )
    return k, n


def shard_range(n_samples: int, batch_size: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Global sample range ``[start, stop)`` of a shard: whole batches, as even as possible."""
    if shard is None:
        return 0, n_samples
    k, n = shard
    n_batches = -(-n_samples // batch_size)
    if n > n_batches:
        raise ValueError(
            f"--shard {k}/{n}: {n_samples} samples in batches of {batch_size} make only {n_batches} batches, "
            f"fewer than {n} shards; use a smaller --batch-size or fewer shards"
        )
    lo, hi = (k - 1) * n_batches // n, k * n_batches // n
    return lo * batch_size, min(hi * batch_size, n_samples)


def merge_shards(
    out: str | os.PathLike,
    shards: Sequence[str | os.PathLike],
    *,
    compression: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Join shard files of one generation into one dataset, identical in data to an unsharded run.

    Shards may be given in any order; together they must cover every sample exactly once. An existing
    ``out`` that already holds this merge is kept as it is; one that holds anything else is replaced only
    with ``overwrite`` (otherwise ``FileExistsError``).
    """
    if not shards:
        raise ValueError("merge needs at least one shard file")
    out = Path(out)
    with exclusive_lock(out, what="dataset file", fix="wait for it to finish, or choose another output file"):
        infos = sorted((read_info(p) for p in shards), key=lambda i: int(i.attrs.get("sample_start", 0)))
        check_tiling(infos)
        total = int(infos[0].attrs.get("n_total", 0))
        start, stop = int(infos[0].attrs["sample_start"]), int(infos[-1].attrs["sample_stop"])
        covered = stop - start
        if (start, stop) != (0, total):
            raise ValueError(
                f"the shards hold samples {start}..{stop - 1}, {covered} of {total}; generate the missing "
                f"shards (same command, other --shard K/N) and pass all of them"
            )
        with Progress(covered, unit="sample", desc="merge", enabled=progress) as bar:
            return concatenate(
                out,
                [i.path for i in infos],
                attrs={"shard": "none", "merged_from": [i.path.name for i in infos]},
                compression=compression,
                progress=bar.update,
                overwrite=overwrite,
            )
