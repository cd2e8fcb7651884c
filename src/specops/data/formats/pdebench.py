"""PDEBench HDF5 files (Takamoto et al., NeurIPS 2022 Datasets and Benchmarks), in their three layouts.

The layout is detected from the keys:

- a single ``tensor`` ``(N, T, *space)``: trajectories; with ``nu (N, *space)`` beside it, Darcy flow, an
  operator pair from the coefficient ``nu`` to the solution ``tensor (N, 1, *space)``;
- per-variable arrays ``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz``, each ``(N, T, *space)`` (the
  compressible Navier-Stokes files): one trajectory field per variable;
- per-seed groups ``"0000"``, ``"0001"``, ... each holding ``data (T, *space, C)`` and ``grid/x``,
  ``grid/y``, ``grid/t`` (diffusion-reaction, shallow water): one trajectory field ``data``.

PDEBench stores ``T + 1`` time stamps for ``T`` frames; the first ``T`` are kept. The file's root
attributes become ``parameters``, its name ``pde``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.formats.base import FORMATS, Imported, open_h5
from specops.data.formats.layout import LayoutSource, default_layout
from specops.data.schema import SPATIAL_AXES, DataFormatError, layout_for, to_python

VARIABLES = ("density", "pressure", "Vx", "Vy", "Vz")


@FORMATS.register("pdebench", description="PDEBench HDF5: tensor, per-variable, or per-seed groups")
def read_pdebench(src: Path, stack: contextlib.ExitStack, *, dtype: Any = np.float32, **_: Any) -> Imported:
    """PDEBench files in any of their three layouts (detected from the keys; see the module docstring)."""
    h5 = open_h5(src, stack)
    attrs = {"parameters": {k: to_python(v) for k, v in h5.attrs.items()}, "pde": src.stem}
    label = str(src)
    if "tensor" in h5:
        fields, inputs, outputs, n_times = _tensor_fields(h5, label, dtype)
    elif any(v in h5 for v in VARIABLES):
        fields, inputs, outputs, n_times = _variable_fields(h5, label, dtype)
    else:
        return _seed_groups(h5, src, attrs, dtype)
    layouts = {k: v.layout for k, v in fields.items()}
    return Imported(fields, layouts, inputs, outputs, _coords(h5, n_times), attrs)


def _tensor_fields(h5: h5py.File, label: str, dtype: Any) -> tuple[dict, list, list, int | None]:
    """``tensor`` as trajectories, or with ``nu`` as the Darcy pair; ``(fields, inputs, outputs, n_times)``."""
    tensor = h5["tensor"]
    space = " ".join(SPATIAL_AXES[: tensor.ndim - 2])
    if "nu" in h5:
        nu = h5["nu"]
        fields = {
            "nu": LayoutSource(nu, default_layout(nu.ndim), label=f"{label} 'nu'", dtype=dtype),
            "tensor": LayoutSource(tensor, f"sample channel {space}", label=f"{label} 'tensor'", dtype=dtype),
        }
        return fields, ["nu"], ["tensor"], None
    fields = {"tensor": LayoutSource(tensor, f"sample time {space}", label=f"{label} 'tensor'", dtype=dtype)}
    return fields, ["tensor"], ["tensor"], tensor.shape[1]


def _variable_fields(h5: h5py.File, label: str, dtype: Any) -> tuple[dict, list, list, int]:
    """One trajectory field per variable present; ``(fields, inputs, outputs, n_times)``."""
    names = [v for v in VARIABLES if v in h5]
    space = " ".join(SPATIAL_AXES[: h5[names[0]].ndim - 2])
    fields = {
        v: LayoutSource(h5[v], f"sample time {space}", label=f"{label} {v!r}", dtype=dtype) for v in names
    }
    return fields, names, names, h5[names[0]].shape[1]


def _coords(h5: h5py.File, n_times: int | None) -> dict[str, np.ndarray]:
    coords = {}
    for axis in ("x", "y", "z", "t"):
        key = f"{axis}-coordinate"
        if key in h5:
            values = h5[key][...].reshape(-1)
            # PDEBench stores n_times + 1 time stamps for n_times frames; keep those of the frames.
            coords[axis] = values[:n_times] if axis == "t" and n_times is not None else values
    return coords


def _seed_groups(h5: h5py.File, src: Path, attrs: dict[str, Any], dtype: Any) -> Imported:
    """The per-seed layout: groups ``"0000"/data (T, *space, C)`` as one trajectory field ``data``."""
    groups = sorted(k for k in h5 if isinstance(h5[k], h5py.Group) and "data" in h5[k])
    if not groups:
        raise DataFormatError(
            f"{src} matches no PDEBench layout: no 'tensor', no {'/'.join(VARIABLES)}, no seed groups "
            f"with 'data' (keys: {', '.join(list(h5)[:10])}); check --from"
        )
    source = _SeedGroupsSource(h5, groups, f"{src} seed groups", dtype)
    grid = h5[groups[0]].get("grid", {})
    coords = {k: grid[k][...].reshape(-1) for k in ("x", "y", "z", "t") if k in grid}
    layouts = {"data": layout_for("trajectory", len(source.shape) - 3)}
    return Imported({"data": source}, layouts, ["data"], ["data"], coords, {**attrs, "seeds": groups})


class _SeedGroupsSource:
    """PDEBench per-seed groups ``"0000"/data (T, *space, C)`` as one ``(N, T, C, *space)`` source."""

    def __init__(self, h5: h5py.File, groups: Sequence[str], label: str, dtype: Any) -> None:
        self.h5, self.groups, self.label, self.dtype = h5, list(groups), label, np.dtype(dtype)
        first = h5[self.groups[0]]["data"]
        t, *space, c = first.shape
        self.shape = (len(self.groups), t, c, *space)
        for name in self.groups:
            if h5[name]["data"].shape != first.shape:
                raise DataFormatError(
                    f"{label}: group {name!r} has data of shape {h5[name]['data'].shape}, group "
                    f"{self.groups[0]!r} has {first.shape}; all seeds must share one grid"
                )

    def read(self, start: int, stop: int) -> np.ndarray:
        """Seeds ``start:stop`` (in group-name order), channels moved before space."""
        data = np.stack([self.h5[name]["data"][...] for name in self.groups[start:stop]])
        return np.ascontiguousarray(np.moveaxis(data, -1, 2), dtype=self.dtype)
