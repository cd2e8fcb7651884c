"""The Well's HDF5 schema (Ohana et al., NeurIPS 2024 Datasets and Benchmarks).

A file holds ``n_trajectories`` samples; ``dimensions`` gives the spatial axes (attribute ``spatial_dims``)
and ``time``; fields sit in ``t0_fields`` (scalars), ``t1_fields`` (vectors, ``D`` components) and
``t2_fields`` (tensors, ``D**2`` components, row-major), each with the attributes ``sample_varying``,
``time_varying`` and ``dim_varying`` saying along which axes it is stored.

The time-varying fields become trajectory fields (components on the channel axis); fields constant in
time become operator-layout fields; both are broadcast over the samples and axes they do not vary along.
``simulation_parameters`` become ``parameters``, ``boundary_conditions`` become ``boundary``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.formats.base import FORMATS, Imported, open_h5
from specops.data.schema import SPATIAL_AXES, DataFormatError, layout_for, to_python


@FORMATS.register("the-well", description="The Well HDF5 schema (t0/t1/t2 fields, dimensions, scalars)")
def read_the_well(src: Path, stack: contextlib.ExitStack, *, dtype: Any = np.float32, **_: Any) -> Imported:
    """The Well: time-varying t0/t1/t2 fields become trajectory fields (components on the channel axis,
    ``D**order`` of them, row-major), constant-in-time fields become operator-layout fields."""
    h5 = open_h5(src, stack)
    for key in ("dimensions", "t0_fields"):
        if key not in h5:
            raise DataFormatError(f"{src} has no {key!r} group, so it is not a The Well file; check --from")
    dims = h5["dimensions"]
    spatial = [to_python(d) for d in np.atleast_1d(dims.attrs.get("spatial_dims", []))]
    fields, layouts, state = _fields(h5, src, spatial, dtype)
    if not state:
        raise DataFormatError(f"{src} has no time-varying field; nothing to learn a trajectory from")
    coords = {axis: dims[d][...].reshape(-1) for axis, d in zip(SPATIAL_AXES, spatial)}
    if "time" in dims:
        coords["t"] = dims["time"][...].reshape(-1)
    return Imported(fields, layouts, state, state, coords, _attrs(h5, src, spatial))


def _fields(
    h5: h5py.File, src: Path, spatial: Sequence[str], dtype: Any
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Sources and layouts of every listed t0/t1/t2 field, and the names of the time-varying ones."""
    dims = h5["dimensions"]
    n = int(h5.attrs.get("n_trajectories", 0))
    n_times = int(dims["time"].shape[-1]) if "time" in dims else 1
    space = [int(dims[d].shape[-1]) for d in spatial]
    fields, layouts, state = {}, {}, []
    for order in (0, 1, 2):
        group = h5.get(f"t{order}_fields")
        if group is None:
            continue
        for name in [to_python(v) for v in np.atleast_1d(group.attrs.get("field_names", list(group)))]:
            if name not in group:
                raise DataFormatError(
                    f"{src}: t{order}_fields lists field {name!r}, which is missing; the file is incomplete"
                )
            source = _WellSource(
                group[name], order, n, n_times, space, f"{src} t{order}_fields/{name}", dtype
            )
            fields[name] = source
            layouts[name] = layout_for("trajectory" if source.time_varying else "operator", len(space))
            if source.time_varying:
                state.append(name)
    return fields, layouts, state


def _attrs(h5: h5py.File, src: Path, spatial: list[str]) -> dict[str, Any]:
    """Root attributes from the file: name, simulation parameters, boundary conditions, grid."""
    params = {
        k: to_python(h5.attrs[k])
        for k in (to_python(v) for v in np.atleast_1d(h5.attrs.get("simulation_parameters", [])))
        if k in h5.attrs
    }
    boundary = {
        name: {
            "bc_type": to_python(g.attrs.get("bc_type")),
            "associated_dims": to_python(g.attrs.get("associated_dims")),
        }
        for name, g in h5.get("boundary_conditions", {}).items()
    }
    return {
        "pde": to_python(h5.attrs.get("dataset_name", src.stem)),
        "parameters": params,
        "boundary": boundary or None,
        "grid_type": to_python(h5.attrs.get("grid_type", "cartesian")),
        "spatial_dims": spatial,
    }


class _WellSource:
    """One field of a The Well file as ``(N, [T,] C, *space)``; constant axes are broadcast."""

    def __init__(
        self,
        dset: h5py.Dataset,
        order: int,
        n: int,
        n_times: int,
        space: Sequence[int],
        label: str,
        dtype: Any,
    ) -> None:
        a = dset.attrs
        self.dset, self.label, self.dtype = dset, label, np.dtype(dtype)
        self.sample_varying = bool(a.get("sample_varying", True))
        self.time_varying = bool(a.get("time_varying", True))
        self.dim_varying = [bool(v) for v in np.atleast_1d(a.get("dim_varying", [True] * len(space)))]
        self.space, self.n_comp = tuple(space), len(space) ** order
        expected = (
            ([n] if self.sample_varying else [])
            + ([n_times] if self.time_varying else [])
            + [s for s, v in zip(space, self.dim_varying) if v]
            + ([self.n_comp] if order else [])
        )
        if tuple(dset.shape) != tuple(expected):
            raise DataFormatError(
                f"{label} has shape {dset.shape}, but its attributes (sample_varying={self.sample_varying}, "
                f"time_varying={self.time_varying}, dim_varying={self.dim_varying}) and tensor order {order} "
                f"imply {tuple(expected)}; the file does not follow The Well's schema"
            )
        self.order = order
        self.shape = (n, *([n_times] if self.time_varying else []), self.n_comp, *space)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop``, components moved before space, constant axes broadcast."""
        data = self.dset[start:stop] if self.sample_varying else self.dset[...][None]
        lead = 2 if self.time_varying else 1
        if not self.order:
            data = data[..., None]
        # Insert the non-varying spatial axes, then move components before space.
        for axis, varying in enumerate(self.dim_varying):
            if not varying:
                data = np.expand_dims(data, lead + axis)
        data = np.moveaxis(data, -1, lead)
        target = (stop - start, *self.shape[1:])
        return np.ascontiguousarray(np.broadcast_to(data, target), dtype=self.dtype)
