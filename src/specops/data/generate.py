"""Generate a dataset from a Problem: batched, resumable, shardable, reproducible bit for bit.

Sample ``i`` of a dataset with base seed ``S`` is computed from seed ``S + i``. Batches are aligned on
multiples of ``batch_size`` in the global sample index, and a shard is a run of whole batches, so every
batch holds the same samples whether the dataset is made in one go, resumed, or made in shards: on the
same device, torch version and batch size the data are bit-identical.

Each finished batch is written atomically to its own file in ``OUT.partial/``; an interrupted run keeps
them, and running the same call again computes only the missing batches. The batches are then joined into
``OUT`` (built under a temporary name and renamed) and the directory is removed. One process at a time
generates ``OUT``: it holds ``specops.locking.exclusive_lock(OUT)`` throughout, so a second one fails at once
instead of computing the same batches; the lock dies with its process, so a killed run stays resumable.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from specops.atomic import OutOfSpaceError, out_of_space
from specops.data.concat import check_tiling, concatenate
from specops.data.io import read_info
from specops.data.schema import DataFormatError, decode_attrs, encode_attrs, parse_layout
from specops.data.writer import ArraySource, write_dataset
from specops.device import resolve_device
from specops.locking import exclusive_lock
from specops.progress import Progress
from specops.seeding import check_seed_range

# The Problem protocol (duck-typed; implemented by specops.solvers.problems):
#   name: str; input_fields, output_fields: tuple[str, ...]
#   generate(seeds, *, device=None, dtype=torch.float32) -> dict[str, Tensor]
#   fields() -> {name: {"layout": layout_for(kind, ndim), "shape": per-sample shape, "description": str}}
#   coords() -> {"x": ..., "y": ..., "t": ...}; metadata() -> JSON-able dict


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


def _field_specs(problem: Any) -> tuple[dict[str, tuple[int, ...]], dict[str, str], dict[str, str]]:
    shapes, layouts, descriptions = {}, {}, {}
    for name, spec in problem.fields().items():
        shape = tuple(int(s) for s in spec["shape"])
        try:
            kind, ndim = parse_layout(spec.get("layout", ""))
        except ValueError as exc:
            raise ValueError(f"problem {problem.name!r} field {name!r}: {exc}") from exc
        if len(shape) != ndim + (2 if kind == "trajectory" else 1):
            raise ValueError(
                f"problem {problem.name!r} field {name!r}: per-sample shape {shape} does not fit its layout "
                f"{spec['layout']!r} without the sample axis"
            )
        layouts[name] = spec["layout"]
        shapes[name] = shape
        descriptions[name] = str(spec.get("description", ""))
    return shapes, layouts, descriptions


def _identity(
    problem: Any,
    n_samples: int,
    seed: int,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    shapes: Mapping[str, tuple[int, ...]],
    layouts: Mapping[str, str],
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Root attributes shared by every batch and shard of one dataset: everything needed to regenerate it."""
    from specops import __version__

    meta = dict(problem.metadata())
    outputs = tuple(problem.output_fields)
    kind, _ = parse_layout(layouts[outputs[0]])
    space = shapes[outputs[0]][2 if kind == "trajectory" else 1 :]
    ident = {
        "source": "generate",
        "pde": str(problem.name),
        "parameters": meta,
        "solver": meta.get("solver"),
        "stepper": meta.get("stepper"),
        "dt": meta.get("dt"),
        "domain": meta.get("domain"),
        "resolution": meta.get("resolution", list(space)),
        "boundary": meta.get("boundary"),
        "kind": kind,
        "input_fields": list(problem.input_fields),
        "output_fields": list(outputs),
        "seed": int(seed),
        "n_total": int(n_samples),
        "batch_size": int(batch_size),
        "dtype": str(dtype).removeprefix("torch."),
        "device": device.type,
        "torch_version": torch.__version__,
        "specops_version": __version__,
        "field_shapes": {k: list(v) for k, v in shapes.items()},
    }
    ident.update(extra or {})
    # Round-trip through the file encoding so it compares equal to what a file read back holds.
    return decode_attrs(encode_attrs(ident))


def _partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def _same_generation(attrs: Mapping[str, Any], ident: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in ident if attrs.get(k) != ident[k])


def _check_batch(
    problem: Any, data: Mapping[str, torch.Tensor], seeds: Sequence[int], shapes, start: int, partial: Path
):
    arrays = {}
    for name, shape in shapes.items():
        if name not in data:
            raise ValueError(
                f"problem {problem.name!r}.generate returned no field {name!r} (got {sorted(data)}); "
                f"fields() and generate() disagree: fix the problem class"
            )
        value = data[name]
        if tuple(value.shape) != (len(seeds), *shape):
            raise ValueError(
                f"problem {problem.name!r} field {name!r}: generate returned shape {tuple(value.shape)} for "
                f"{len(seeds)} seeds, fields() promises {(len(seeds), *shape)}"
            )
        bad = torch.nonzero(~torch.isfinite(value.reshape(len(seeds), -1)).all(dim=1)).flatten().tolist()
        if bad:
            which = ", ".join(f"{start + i} (seed {seeds[i]})" for i in bad[:5])
            raise ValueError(
                f"problem {problem.name!r} produced NaN or inf in field {name!r} for sample(s) {which}: the "
                f"solver diverged; use a smaller time step or other parameters (--set key=value), or float64. "
                f"Finished batches are kept in {partial}"
            )
        arrays[name] = value.detach().cpu().numpy()
    return arrays


def generate_dataset(
    problem: Any,
    n_samples: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    batch_size: int = 32,
    shard: str | Sequence[int] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    compression: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Generate ``n_samples`` samples of ``problem`` into the dataset file ``out`` (resumable).

    Parameters
    ----------
    problem : Problem
        Any object with the Problem protocol (``name``, ``input_fields``, ``output_fields``,
        ``generate(seeds, device=, dtype=)``, ``fields()``, ``coords()``, ``metadata()``).
    n_samples : int
        Samples in the whole dataset (all shards together).
    out : path
        The dataset file (for a shard: this shard's file). Finished batches wait in ``out + ".partial/"``.
    seed : int
        Base seed: sample ``i`` uses seed ``seed + i``.
    batch_size : int
        Samples per call to ``problem.generate``; also the unit of resumption and sharding.
    shard : "K/N" or (K, N), optional
        Generate only the K-th of N disjoint parts (whole batches); join them with :func:`merge_shards`.
    device, dtype
        Where and in which precision the solver runs; stored data has ``dtype``. The device is checked
        (``specops.device.resolve_device``) before anything is written.
    compression : {None, "gzip", "lzf"}
    attrs : mapping, optional
        Extra root attributes (the CLI stores the command that regenerates the file).
    overwrite : bool
        Replace an existing ``out`` that was made by a different call (otherwise an error).

    Returns
    -------
    Path of the finished file. If ``out`` already holds this very dataset, nothing is recomputed.

    Raises
    ------
    FileExistsError
        ``out`` holds another dataset (or is unreadable) and ``overwrite`` is false.
    specops.locking.LockedError
        Another process is generating ``out``.
    ValueError
        Bad arguments, a device that is not available, or a batch with NaN/inf values or a solver blow-up
        (naming the samples and their seeds; finished batches are kept).
    specops.atomic.OutOfSpaceError
        The disk, quota or file size limit ran out; finished batches are kept, rerun to resume.
    """
    if int(n_samples) < 1 or int(batch_size) < 1:
        raise ValueError(f"n_samples={n_samples} and batch_size={batch_size} must be at least 1")
    seed = check_seed_range(seed, int(n_samples), "seed")  # sample i uses seed + i
    n_samples, batch_size = int(n_samples), int(batch_size)
    shard = parse_shard(shard)
    start, stop = shard_range(n_samples, batch_size, shard)
    out = Path(out)
    device = resolve_device(device, what="--device")
    shapes, layouts, descriptions = _field_specs(problem)
    for name in (*problem.input_fields, *problem.output_fields):
        if name not in shapes:
            raise ValueError(
                f"problem {problem.name!r} names field {name!r} as input/output but fields() lacks it"
            )
    ident = _identity(problem, n_samples, seed, batch_size, device, dtype, shapes, layouts, attrs)
    ident["shard"] = f"{shard[0]}/{shard[1]}" if shard else "none"
    coords = {k: (v.detach().cpu().numpy() if torch.is_tensor(v) else v) for k, v in problem.coords().items()}
    if _finished(out, ident, start, stop, overwrite):  # nothing to write, so no lock to take
        return out
    # One process at a time per output: a second one would compute the same batches and both would
    # report success with one's data in the file.
    with exclusive_lock(out, what="dataset file", fix="wait for it to finish, or choose another --out"):
        if _finished(out, ident, start, stop, overwrite):  # finished by another process meanwhile
            return out
        partial = _partial_dir(out)
        partial.mkdir(parents=True, exist_ok=True)
        done = _finished_batches(partial, ident)
        batches = [(b, min(b + batch_size, stop)) for b in range(start, stop, batch_size)]
        initial = sum(hi - lo for lo, hi in batches if (lo, hi) in done)
        try:
            with _bar(stop - start, f"generate {problem.name}", progress, initial) as bar:
                for lo, hi in (b for b in batches if b not in done):
                    seeds = [seed + i for i in range(lo, hi)]
                    try:
                        with torch.no_grad():
                            data = problem.generate(seeds, device=device, dtype=dtype)
                    except FloatingPointError as exc:  # the solvers' BlowUpError names batch indices
                        raise _blow_up(problem, exc, seeds, lo, partial) from exc
                    arrays = _check_batch(problem, data, seeds, shapes, lo, partial)
                    write_dataset(
                        _part_path(partial, lo, hi),
                        {
                            name: ArraySource(arrays[name], label=f"problem {problem.name!r} field {name!r}")
                            for name in shapes
                        },
                        layouts=layouts,
                        descriptions=descriptions,
                        attrs={**ident, "sample_start": lo, "sample_stop": hi},
                        coords=coords,
                        seeds=seeds,
                    )
                    bar.update(hi - lo)
            with _bar(stop - start, "assemble", progress) as bar:
                parts = [_part_path(partial, lo, hi) for lo, hi in batches]
                concatenate(out, parts, compression=compression, progress=bar.update)
        except OutOfSpaceError as exc:
            first = "raise the limit (ulimit -f unlimited)" if exc.errno == errno.EFBIG else "free disk space"
            fix = f"{first}, then rerun the same command: it resumes from the finished batches in {partial}"
            raise out_of_space(exc, exc.filename, fix) from exc
        shutil.rmtree(partial)
    return out


def _bar(total: int, desc: str, progress: bool, initial: int = 0) -> Progress:
    return Progress(total, initial=initial, unit="sample", desc=desc, enabled=progress)


def _finished(out: Path, ident: Mapping[str, Any], start: int, stop: int, overwrite: bool) -> bool:
    """Whether ``out`` already holds this very dataset; ``FileExistsError`` if it holds another one."""
    if not out.exists() or overwrite:
        return False
    try:
        info = read_info(out)
    except (DataFormatError, OSError) as exc:
        raise FileExistsError(
            f"{out} exists and is not a readable dataset ({exc}); pass --overwrite or another --out"
        ) from exc
    differ = _same_generation(info.attrs, ident)
    if not differ and (info.attrs.get("sample_start"), info.attrs.get("sample_stop")) == (start, stop):
        return True
    raise FileExistsError(
        f"{out} already holds a different dataset (differs in {', '.join(differ) or 'sample range'}); "
        f"choose another --out or pass --overwrite to replace it"
    )


def _blow_up(
    problem: Any, exc: FloatingPointError, seeds: Sequence[int], start: int, partial: Path
) -> ValueError:
    """The solver's blow-up as one line naming the global sample indices and their seeds."""
    samples = [i for i in getattr(exc, "samples", None) or [] if isinstance(i, int) and 0 <= i < len(seeds)]
    if samples:
        which = ", ".join(f"{start + i} (seed {seeds[i]})" for i in samples[:5])
        which += f" and {len(samples) - 5} more" if len(samples) > 5 else ""
    else:
        which = f"{start}..{start + len(seeds) - 1} (seeds {seeds[0]}..{seeds[-1]})"
    when = f" by t={exc.time:.6g}" if isinstance(getattr(exc, "time", None), float) else ""
    step = f" with dt={exc.dt:.4g}" if isinstance(getattr(exc, "dt", None), float) else ""
    return ValueError(
        f"problem {problem.name!r}: the solver blew up (NaN or inf) in sample(s) {which}{when}{step}; use a "
        f"smaller time step (--set dt=...), a finer grid or more viscosity, or --dtype float64. Finished "
        f"batches are kept in {partial}"
    )


def _part_path(partial: Path, lo: int, hi: int) -> Path:
    return partial / f"samples_{lo:010d}_{hi:010d}.h5"


def _finished_batches(partial: Path, ident: Mapping[str, Any]) -> set[tuple[int, int]]:
    """Sample ranges already written in ``partial`` by the same generation; other leftovers are errors."""
    done = set()
    for path in sorted(partial.glob("samples_*.h5")):
        try:
            info = read_info(path)
        except (DataFormatError, OSError):
            # An unreadable batch file (e.g. a disk error after the rename): recompute that batch.
            path.unlink()
            continue
        differ = _same_generation(info.attrs, ident)
        if differ:
            details = "; ".join(f"{k}: {info.attrs.get(k)!r} then, {ident[k]!r} now" for k in differ[:4])
            raise ValueError(
                f"{partial} holds batches of a different generation ({details}); rerun with the same "
                f"arguments as before to resume it, or delete {partial} to start over"
            )
        done.add((int(info.attrs["sample_start"]), int(info.attrs["sample_stop"])))
    return done


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
        with _bar(covered, "merge", progress) as bar:
            return concatenate(
                out,
                [i.path for i in infos],
                attrs={"shard": "none", "merged_from": [i.path.name for i in infos]},
                compression=compression,
                progress=bar.update,
                overwrite=overwrite,
            )
