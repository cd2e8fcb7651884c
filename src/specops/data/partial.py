"""Resuming a generation: the finished batches in ``OUT.partial/``, and whether ``OUT`` is already done.

Each finished batch of ``generate_dataset`` is a complete dataset file ``OUT.partial/samples_LO_HI.h5``
(global samples ``[LO, HI)``), written atomically, so an interrupted run keeps every batch it finished.
Whether a batch, or a finished ``OUT``, belongs to the generation being run is decided by one comparison:
every root attribute of the generation's identity (problem, parameters, seed, batch size, dtype, device,
torch and specops versions, shard ...) must be equal. Leftovers of another generation are refused, never
mixed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specops.data.io import read_info
from specops.data.schema import DataFormatError


def partial_dir(out: Path) -> Path:
    """The directory that holds the finished batches of ``out``: ``OUT.partial`` beside it."""
    return out.with_name(out.name + ".partial")


def part_path(partial: Path, lo: int, hi: int) -> Path:
    """The file of the batch holding global samples ``[lo, hi)``."""
    return partial / f"samples_{lo:010d}_{hi:010d}.h5"


def finished_batches(partial: Path, ident: Mapping[str, Any]) -> set[tuple[int, int]]:
    """Sample ranges already written in ``partial`` by the same generation; other leftovers are errors."""
    done = set()
    for path in sorted(partial.glob("samples_*.h5")):
        try:
            info = read_info(path)
        except (DataFormatError, OSError):
            # An unreadable batch file (e.g. a disk error after the rename): recompute that batch.
            path.unlink()
            continue
        differ = _differences(info.attrs, ident)
        if differ:
            details = "; ".join(f"{k}: {info.attrs.get(k)!r} then, {ident[k]!r} now" for k in differ[:4])
            raise ValueError(
                f"{partial} holds batches of a different generation ({details}); rerun with the same "
                f"arguments as before to resume it, or delete {partial} to start over"
            )
        done.add((int(info.attrs["sample_start"]), int(info.attrs["sample_stop"])))
    return done


def finished(out: Path, ident: Mapping[str, Any], sample_range: tuple[int, int], overwrite: bool) -> bool:
    """Whether ``out`` already holds this very dataset; ``FileExistsError`` if it holds another one.

    ``sample_range`` is the ``(start, stop)`` this run (shard) writes. With ``overwrite`` an existing
    ``out`` never counts as finished.
    """
    if not out.exists() or overwrite:
        return False
    try:
        info = read_info(out)
    except (DataFormatError, OSError) as exc:
        raise FileExistsError(
            f"{out} exists and is not a readable dataset ({exc}); pass --overwrite or another --out"
        ) from exc
    differ = _differences(info.attrs, ident)
    if not differ and (info.attrs.get("sample_start"), info.attrs.get("sample_stop")) == tuple(sample_range):
        return True
    raise FileExistsError(
        f"{out} already holds a different dataset (differs in {', '.join(differ) or 'sample range'}); "
        f"choose another --out or pass --overwrite to replace it"
    )


def _differences(attrs: Mapping[str, Any], ident: Mapping[str, Any]) -> list[str]:
    """Names of the identity attributes on which a file's ``attrs`` differ from ``ident``."""
    return sorted(k for k in ident if attrs.get(k) != ident[k])
