"""Test sets from specops data files: their names, domains, the problem that made them, and their samples
made again on other grids.

- :func:`set_names`: ``<file stem>@<grid>`` per test set (``#2``, ``#3`` appended to repeats), so two test
  sets on one grid keep their own results and the grid stays visible;
- :func:`domain_lengths`: the domain of a file, for metrics that depend on it (relative H1);
- :func:`problem_for_file`: the registered problem that generated a file, to run its solver again;
- :func:`regenerate`: test samples made again by that problem on another grid (``eval.resolutions``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from specops.data.io import read_info


def set_names(paths: Sequence[str | os.PathLike], shapes: Sequence[Sequence[int]]) -> list[str]:
    """Unique test-set names ``<file stem>@<grid>``, e.g. ``darcy_63@63x63`` (``#2``, ... for repeats)."""
    names: list[str] = []
    for path, shape in zip(paths, shapes):
        base = f"{Path(path).stem}@{'x'.join(str(int(n)) for n in shape)}"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}#{k}"
        names.append(name)
    return names


def domain_lengths(path: str | os.PathLike, ndim: int) -> list[float]:
    """Domain side lengths of a data file: its ``domain`` attribute (``[[0, L], ...]``), else its grid
    coordinates (``n dx`` on periodic grids, ``x[-1] - x[0]`` on node grids), else 1 per axis."""
    info = read_info(path)
    domain = info.attrs.get("domain")
    if isinstance(domain, list) and len(domain) == ndim and all(len(d) == 2 for d in domain):
        return [float(hi) - float(lo) for lo, hi in domain]
    periodic = str(info.attrs.get("boundary", "periodic")) == "periodic"
    out = []
    for axis in "xyz"[:ndim]:
        x = info.coords.get(axis)
        if x is None or len(x) < 2:
            return [1.0] * ndim
        out.append(float(len(x) * (x[1] - x[0]) if periodic else x[-1] - x[0]))
    return out


def file_dtype(attrs) -> torch.dtype:
    """The precision a generated file was solved in."""
    return torch.float64 if attrs.get("dtype") == "float64" else torch.float32


def problem_for_file(path: str | os.PathLike):
    """The registered problem that generated the specops file ``path`` (its stored overrides applied), or
    None for files that did not come from ``specops generate`` with a registered problem."""
    from specops.registry import PROBLEMS
    from specops.solvers.problems import make_problem

    attrs = read_info(path).attrs
    name = (attrs.get("parameters") or {}).get("problem") or attrs.get("pde")
    if attrs.get("source") != "generate" or not name or name not in PROBLEMS:
        return None
    return make_problem(name, **dict(attrs.get("overrides") or {}))


def regenerate(
    path: str | os.PathLike, indices: Sequence[int], resolution: int
) -> tuple[torch.Tensor, torch.Tensor, Any] | None:
    """Samples ``indices`` of the generated file ``path`` made again by its problem on another grid:
    ``(x, y, problem)`` with ``x`` and ``y`` the input and output fields (channels concatenated, float64),
    or None if the file did not come from a registered problem.

    The seeds are the samples' own (``/seeds``, else ``seed + sample_start + i``), so test samples stay
    test samples; on another grid the sampler may draw another field from the same law (a GRF's noise
    depends on the grid), which is a fresh test sample of the same problem, solved by the same method.
    """
    from specops.solvers.problems import make_problem

    info = read_info(path)
    base = problem_for_file(path)
    if base is None:
        return None
    if info.seeds is not None:
        seeds = [int(info.seeds[i]) for i in indices]
    else:
        start = int(info.attrs.get("seed", 0)) + int(info.attrs.get("sample_start", 0))
        seeds = [start + int(i) for i in indices]
    overrides = {**dict(info.attrs.get("overrides") or {}), "resolution": int(resolution)}
    problem = make_problem(base.name, **overrides)
    data = problem.generate(seeds, dtype=file_dtype(info.attrs))
    x = torch.cat([data[f] for f in problem.input_fields], dim=1).double()
    y = torch.cat([data[f] for f in problem.output_fields], dim=1).double()
    return x, y, problem
