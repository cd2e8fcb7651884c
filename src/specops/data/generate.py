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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specops import __version__
from specops.atomic import OutOfSpaceError, out_of_space
from specops.data.concat import concatenate
from specops.data.partial import finished, finished_batches, part_path, partial_dir
from specops.data.schema import decode_attrs, encode_attrs, parse_layout
from specops.data.shards import parse_shard, shard_range
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
#   optional generate_with_info(seeds, device=, dtype=) -> (fields, {name: (len(seeds),) array}): what each
#   sample's solve needed (iterations, residual, converged, ...), stored in /sample_info


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
        Generate only the K-th of N disjoint parts (whole batches); join them with
        ``specops.data.shards.merge_shards``.
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
    plan = _plan(problem, n_samples, seed, batch_size, shard, device, dtype, attrs)
    out = Path(out)
    # Nothing to write, so no lock to take.
    if finished(out, plan.ident, plan.sample_range, overwrite):
        return out
    # One process at a time per output: a second one would compute the same batches and both would
    # report success with one's data in the file.
    with exclusive_lock(out, what="dataset file", fix="wait for it to finish, or choose another --out"):
        if finished(out, plan.ident, plan.sample_range, overwrite):  # by another process meanwhile
            return out
        partial = partial_dir(out)
        partial.mkdir(parents=True, exist_ok=True)
        done = finished_batches(partial, plan.ident)
        try:
            _compute_missing(plan, done, partial, progress)
            with _bar(plan.n_own, "assemble", progress) as bar:
                parts = [part_path(partial, lo, hi) for lo, hi in plan.batches]
                concatenate(out, parts, compression=compression, progress=bar.update)
        except OutOfSpaceError as exc:
            first = "raise the limit (ulimit -f unlimited)" if exc.errno == errno.EFBIG else "free disk space"
            fix = f"{first}, then rerun the same command: it resumes from the finished batches in {partial}"
            raise out_of_space(exc, exc.filename, fix) from exc
        shutil.rmtree(partial)
    return out


# ------------------------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class _Plan:
    """One generation, every argument checked: which samples from which seeds, and how they are stored."""

    problem: Any
    seed: int  # sample i uses seed + i
    batch_size: int
    start: int  # this shard's global sample range [start, stop)
    stop: int
    device: torch.device
    dtype: torch.dtype
    shapes: dict[str, tuple[int, ...]]  # per-sample shape of each field
    layouts: dict[str, str]
    descriptions: dict[str, str]
    ident: dict[str, Any]  # root attributes shared by every batch and shard (see _identity)
    coords: dict[str, Any]

    @property
    def batches(self) -> list[tuple[int, int]]:
        """Sample ranges of this run's batches, aligned on multiples of ``batch_size``."""
        return [
            (b, min(b + self.batch_size, self.stop)) for b in range(self.start, self.stop, self.batch_size)
        ]

    @property
    def sample_range(self) -> tuple[int, int]:
        return self.start, self.stop

    @property
    def n_own(self) -> int:
        """Samples this run (this shard) holds."""
        return self.stop - self.start


def _plan(
    problem: Any,
    n_samples: int,
    seed: int,
    batch_size: int,
    shard: str | Sequence[int] | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
    attrs: Mapping[str, Any] | None,
) -> _Plan:
    """The arguments of ``generate_dataset`` checked, before anything is written."""
    if int(n_samples) < 1 or int(batch_size) < 1:
        raise ValueError(f"n_samples={n_samples} and batch_size={batch_size} must be at least 1")
    seed = check_seed_range(seed, int(n_samples), "seed")  # sample i uses seed + i
    n_samples, batch_size = int(n_samples), int(batch_size)
    shard = parse_shard(shard)
    start, stop = shard_range(n_samples, batch_size, shard)
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
    return _Plan(
        problem, seed, batch_size, start, stop, device, dtype, shapes, layouts, descriptions, ident, coords
    )


def _field_specs(problem: Any) -> tuple[dict[str, tuple[int, ...]], dict[str, str], dict[str, str]]:
    """Per-sample shape, layout and description of every field the problem promises, checked."""
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


# --------------------------------------------------------------------------------------------- the batches
def _bar(total: int, desc: str, progress: bool, initial: int = 0) -> Progress:
    return Progress(total, initial=initial, unit="sample", desc=desc, enabled=progress)


def _compute_missing(plan: _Plan, done: set[tuple[int, int]], partial: Path, progress: bool) -> None:
    """Compute every batch not in ``done``, each written to its own file in ``partial``."""
    initial = sum(hi - lo for lo, hi in plan.batches if (lo, hi) in done)
    with _bar(plan.n_own, f"generate {plan.problem.name}", progress, initial) as bar:
        for lo, hi in (b for b in plan.batches if b not in done):
            _compute_batch(plan, lo, hi, partial)
            bar.update(hi - lo)


def _compute_batch(plan: _Plan, lo: int, hi: int, partial: Path) -> None:
    """Samples ``lo:hi`` from seeds ``seed + lo .. seed + hi - 1``, checked, written atomically."""
    problem, seeds = plan.problem, [plan.seed + i for i in range(lo, hi)]
    info = None
    try:
        with torch.no_grad():
            if hasattr(problem, "generate_with_info"):  # linear problems: per-sample solver statistics
                data, info = problem.generate_with_info(seeds, device=plan.device, dtype=plan.dtype)
            else:
                data = problem.generate(seeds, device=plan.device, dtype=plan.dtype)
    except FloatingPointError as exc:  # the solvers' BlowUpError names batch indices
        raise _blow_up(problem, exc, seeds, lo, partial) from exc
    arrays = _check_batch(problem, data, seeds, plan.shapes, lo, partial)
    write_dataset(
        part_path(partial, lo, hi),
        {
            name: ArraySource(arrays[name], label=f"problem {problem.name!r} field {name!r}")
            for name in plan.shapes
        },
        layouts=plan.layouts,
        descriptions=plan.descriptions,
        attrs={**plan.ident, "sample_start": lo, "sample_stop": hi},
        coords=plan.coords,
        seeds=seeds,
        sample_info=info,
    )


def _check_batch(
    problem: Any,
    data: Mapping[str, torch.Tensor],
    seeds: Sequence[int],
    shapes: Mapping[str, tuple[int, ...]],
    start: int,
    partial: Path,
) -> dict[str, np.ndarray]:
    """The batch's fields as NumPy arrays, once each is present, of the promised shape and finite."""
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
