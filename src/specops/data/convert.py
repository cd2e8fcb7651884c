"""Import datasets from other projects' formats into specops files.

Formats (``--from`` names, registered in ``FORMATS``):

- ``neuraloperator``: a ``torch.save`` dict with tensors ``x`` (inputs) and ``y`` (outputs), ``(N, *space)``
  without a channel axis (neuraloperator's ``PTDataset`` adds it on load).
- ``pdebench``: PDEBench HDF5 in its three layouts, detected from the keys: a single ``tensor``
  ``(N, T, *space)`` (with ``nu (N, *space)`` it is Darcy: coefficient ``nu`` -> solution ``tensor
  (N, 1, *space)``); per-variable ``density``/``pressure``/``Vx``/``Vy``/``Vz`` each ``(N, T, *space)``; and
  per-seed groups ``"0000"...`` each holding ``data (T, *space, C)`` and ``grid/x``, ``grid/y``, ``grid/t``.
- ``the-well``: The Well's HDF5 schema (``t0_fields``/``t1_fields``/``t2_fields``, ``dimensions``,
  ``scalars``, ``boundary_conditions``).
- ``npy``, ``npz``, ``mat``: plain arrays with user-given field names and an axis layout such as
  ``"sample x y time"`` (MATLAB v7.3 files are HDF5 and are read with their axes in MATLAB order).

Readers never load whole arrays: samples are read in batches while the specops file is written.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.schema import SPATIAL_AXES, DataFormatError, layout_for, to_python
from specops.data.writer import write_dataset
from specops.locking import exclusive_lock
from specops.progress import Progress
from specops.registry import Registry

FORMATS = Registry("data format")
LayoutSpec = str | Mapping[str, str] | None
LAYOUT_AXES = ("sample", "time", "channel", *SPATIAL_AXES)


@dataclass
class Imported:
    """What a reader found: sample sources in specops layout, and what maps to what."""

    fields: dict[str, Any]
    layouts: dict[str, str]
    input_fields: list[str]
    output_fields: list[str]
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- sources
class LayoutSource:
    """An array whose axes are named by ``layout`` (e.g. ``"sample x y time"``), read in specops order.

    The result has axes ``(sample, [time], channel, x, [y, [z]])``; a missing channel axis becomes one of
    size 1. ``reverse_axes`` reads HDF5 arrays written by MATLAB (column-major: axes stored reversed).
    """

    def __init__(
        self, array: Any, layout: str, *, label: str, dtype: Any = np.float32, reverse_axes: bool = False
    ) -> None:
        self.array, self.label, self.dtype, self.reverse = array, label, np.dtype(dtype), reverse_axes
        stored_shape = tuple(array.shape)[::-1] if reverse_axes else tuple(array.shape)
        axes = parse_array_layout(layout, len(stored_shape), label, stored_shape)
        self.sample_axis = axes.index("sample")
        self.has_time = "time" in axes
        order = [
            "sample",
            *(["time"] if self.has_time else []),
            "channel",
            *[a for a in SPATIAL_AXES if a in axes],
        ]
        self.perm = [axes.index(a) for a in order if a in axes]
        self.add_channel = "channel" not in axes
        shape = [stored_shape[i] for i in self.perm]
        if self.add_channel:
            shape.insert(2 if self.has_time else 1, 1)
        self.shape = tuple(shape)
        self.layout = layout_for(
            "trajectory" if self.has_time else "operator", len(shape) - (3 if self.has_time else 2)
        )

    def read(self, start: int, stop: int) -> np.ndarray:
        n_axes = len(self.array.shape)
        axis = n_axes - 1 - self.sample_axis if self.reverse else self.sample_axis
        index = tuple(slice(start, stop) if a == axis else slice(None) for a in range(n_axes))
        block = np.asarray(self.array[index])
        if self.reverse:
            block = block.transpose(tuple(range(n_axes))[::-1])
        block = block.transpose(self.perm)
        if self.add_channel:
            block = np.expand_dims(block, 2 if self.has_time else 1)
        return np.ascontiguousarray(block, dtype=self.dtype)


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
        data = np.stack([self.h5[name]["data"][...] for name in self.groups[start:stop]])
        return np.ascontiguousarray(np.moveaxis(data, -1, 2), dtype=self.dtype)


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


def parse_array_layout(layout: str, n_axes: int, label: str, shape: Sequence[int]) -> list[str]:
    """Validate a user layout such as ``"sample x y time"`` against an array with ``n_axes`` axes."""
    axes = str(layout).replace(",", " ").split()
    spatial = [a for a in axes if a in SPATIAL_AXES]
    problems = []
    if any(a not in LAYOUT_AXES for a in axes):
        problems.append(
            f"unknown axis names {[a for a in axes if a not in LAYOUT_AXES]} (allowed: {', '.join(LAYOUT_AXES)})"
        )
    if len(set(axes)) != len(axes):
        problems.append("an axis name appears twice")
    if "sample" not in axes:
        problems.append("no 'sample' axis")
    if sorted(spatial) != list(SPATIAL_AXES[: len(spatial)]) or not spatial:
        problems.append("spatial axes must be x, or x y, or x y z")
    if len(axes) != n_axes:
        problems.append(f"it names {len(axes)} axes but the array has {n_axes}")
    if problems:
        raise DataFormatError(
            f"{label} has shape {tuple(shape)}; layout {layout!r} does not fit: {'; '.join(problems)}. Pass "
            f"--layout naming every axis in order, e.g. 'sample x y' or 'sample x y time'"
        )
    return axes


def default_layout(n_axes: int) -> str:
    """Channel-free layout for an ``n_axes`` array: ``sample`` then 1-3 spatial axes."""
    if not 2 <= n_axes <= 4:
        raise DataFormatError(
            f"an array with {n_axes} axes has no default layout; pass --layout, e.g. 'sample time x y channel'"
        )
    return " ".join(("sample", *SPATIAL_AXES[: n_axes - 1]))


def _arrays(
    arrays: Mapping[str, Any],
    available: Sequence[str],
    input_keys: Sequence[str],
    output_keys: Sequence[str],
    layout: str | Mapping[str, str] | None,
    label: str,
    dtype: Any,
    reverse_axes: bool = False,
) -> Imported:
    """Build an :class:`Imported` from named arrays.

    ``layout`` is one string for every array or a mapping from array name to its layout; arrays without
    one get :func:`default_layout`. With no input keys the outputs are also the inputs (a trajectory).
    """
    if not output_keys:
        raise ValueError(
            f"{label}: name the output array(s) with --output KEY (the file has: {', '.join(available)})"
        )
    fields, layouts = {}, {}
    for key in dict.fromkeys([*input_keys, *output_keys]):
        if key not in arrays:
            raise DataFormatError(
                f"{label} has no array {key!r}; it has {', '.join(available) or 'none'}: pick one of those"
            )
        arr = arrays[key]
        given = layout.get(key) if isinstance(layout, Mapping) else layout
        src = LayoutSource(
            arr,
            given or default_layout(len(arr.shape)),
            label=f"{label} array {key!r}",
            dtype=dtype,
            reverse_axes=reverse_axes,
        )
        fields[key], layouts[key] = src, src.layout
    return Imported(fields, layouts, list(input_keys or output_keys), list(output_keys))


# -------------------------------------------------------------------------------------------- readers
def _open_h5(src: Path, stack: contextlib.ExitStack) -> h5py.File:
    try:
        return stack.enter_context(h5py.File(src, "r"))
    except OSError as exc:
        raise DataFormatError(
            f"cannot read {src} as HDF5 ({exc}); the file is truncated or not HDF5: download it again"
        ) from exc


@FORMATS.register(
    "neuraloperator", description="torch.save dict with x (inputs) and y (outputs), (N, *space)"
)
def read_neuraloperator(
    src: Path, stack: contextlib.ExitStack, *, layout: LayoutSpec = None, dtype: Any = np.float32, **_: Any
) -> Imported:
    """neuraloperator ``.pt`` files: ``{"x": (N, *space), "y": (N, *space)}`` -> fields ``x`` -> ``y``."""
    import torch

    try:
        payload = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise DataFormatError(
            f"cannot read {src} as a torch file ({type(exc).__name__}: {exc}); it is truncated or not a "
            f"neuraloperator .pt dataset"
        ) from exc
    if not isinstance(payload, dict) or not {"x", "y"} <= set(payload):
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise DataFormatError(
            f"{src} is not a neuraloperator dataset: expected a dict with keys 'x' and 'y', found {keys}"
        )
    arrays = {k: payload[k].numpy() for k in ("x", "y")}
    return _arrays(arrays, list(arrays), ["x"], ["y"], layout, str(src), dtype)


PDEBENCH_VARIABLES = ("density", "pressure", "Vx", "Vy", "Vz")


def _pdebench_coords(h5: h5py.File, n_times: int | None) -> dict[str, np.ndarray]:
    coords = {}
    for axis in ("x", "y", "z", "t"):
        key = f"{axis}-coordinate"
        if key in h5:
            values = h5[key][...].reshape(-1)
            # PDEBench stores n_times + 1 time stamps for n_times frames; keep those of the frames.
            coords[axis] = values[:n_times] if axis == "t" and n_times is not None else values
    return coords


@FORMATS.register("pdebench", description="PDEBench HDF5: tensor, per-variable, or per-seed groups")
def read_pdebench(src: Path, stack: contextlib.ExitStack, *, dtype: Any = np.float32, **_: Any) -> Imported:
    """PDEBench files in any of their three layouts (detected from the keys; see module docstring)."""
    h5 = _open_h5(src, stack)
    attrs = {"parameters": {k: to_python(v) for k, v in h5.attrs.items()}, "pde": src.stem}
    label = str(src)
    if "tensor" in h5:
        tensor = h5["tensor"]
        if "nu" in h5:
            nu = h5["nu"]
            fields = {
                "nu": LayoutSource(nu, default_layout(nu.ndim), label=f"{label} 'nu'", dtype=dtype),
                "tensor": LayoutSource(
                    tensor,
                    "sample channel " + " ".join(SPATIAL_AXES[: tensor.ndim - 2]),
                    label=f"{label} 'tensor'",
                    dtype=dtype,
                ),
            }
            inputs, outputs, n_times = ["nu"], ["tensor"], None
        else:
            space = " ".join(SPATIAL_AXES[: tensor.ndim - 2])
            fields = {
                "tensor": LayoutSource(tensor, f"sample time {space}", label=f"{label} 'tensor'", dtype=dtype)
            }
            inputs, outputs, n_times = ["tensor"], ["tensor"], tensor.shape[1]
    elif any(v in h5 for v in PDEBENCH_VARIABLES):
        names = [v for v in PDEBENCH_VARIABLES if v in h5]
        space = " ".join(SPATIAL_AXES[: h5[names[0]].ndim - 2])
        fields = {
            v: LayoutSource(h5[v], f"sample time {space}", label=f"{label} {v!r}", dtype=dtype) for v in names
        }
        inputs, outputs, n_times = names, names, h5[names[0]].shape[1]
    else:
        groups = sorted(k for k in h5 if isinstance(h5[k], h5py.Group) and "data" in h5[k])
        if not groups:
            raise DataFormatError(
                f"{src} matches no PDEBench layout: no 'tensor', no {'/'.join(PDEBENCH_VARIABLES)}, no seed groups "
                f"with 'data' (keys: {', '.join(list(h5)[:10])}); check --from"
            )
        fields = {"data": _SeedGroupsSource(h5, groups, f"{label} seed groups", dtype)}
        inputs, outputs = ["data"], ["data"]
        grid = h5[groups[0]].get("grid", {})
        coords = {k: grid[k][...].reshape(-1) for k in ("x", "y", "z", "t") if k in grid}
        attrs["seeds"] = groups
        return Imported(
            fields,
            {"data": layout_for("trajectory", len(fields["data"].shape) - 3)},
            inputs,
            outputs,
            coords,
            attrs,
        )
    layouts = {k: v.layout for k, v in fields.items()}
    return Imported(fields, layouts, inputs, outputs, _pdebench_coords(h5, n_times), attrs)


@FORMATS.register("the-well", description="The Well HDF5 schema (t0/t1/t2 fields, dimensions, scalars)")
def read_the_well(src: Path, stack: contextlib.ExitStack, *, dtype: Any = np.float32, **_: Any) -> Imported:
    """The Well: time-varying t0/t1/t2 fields become trajectory fields (components on the channel axis,
    ``D**order`` of them, row-major), constant-in-time fields become operator-layout fields."""
    h5 = _open_h5(src, stack)
    label = str(src)
    for key in ("dimensions", "t0_fields"):
        if key not in h5:
            raise DataFormatError(f"{src} has no {key!r} group, so it is not a The Well file; check --from")
    dims = h5["dimensions"]
    spatial = [to_python(d) for d in np.atleast_1d(dims.attrs.get("spatial_dims", []))]
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
                group[name], order, n, n_times, space, f"{label} t{order}_fields/{name}", dtype
            )
            fields[name] = source
            layouts[name] = layout_for("trajectory" if source.time_varying else "operator", len(space))
            if source.time_varying:
                state.append(name)
    if not state:
        raise DataFormatError(f"{src} has no time-varying field; nothing to learn a trajectory from")
    coords = {axis: dims[d][...].reshape(-1) for axis, d in zip(SPATIAL_AXES, spatial)}
    if "time" in dims:
        coords["t"] = dims["time"][...].reshape(-1)
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
    attrs = {
        "pde": to_python(h5.attrs.get("dataset_name", src.stem)),
        "parameters": params,
        "boundary": boundary or None,
        "grid_type": to_python(h5.attrs.get("grid_type", "cartesian")),
        "spatial_dims": spatial,
    }
    return Imported(fields, layouts, state, state, coords, attrs)


@FORMATS.register("npy", description="one .npy array (a trajectory field); name it with --output")
def read_npy(
    src: Path,
    stack: contextlib.ExitStack,
    *,
    output_fields: Sequence[str] = (),
    layout: LayoutSpec = None,
    dtype: Any = np.float32,
    **_: Any,
) -> Imported:
    """A single ``.npy`` array, memory-mapped; it must have a time axis (input and output are the same)."""
    if len(output_fields) != 1:
        raise ValueError(f"{src}: a .npy file holds one array; name it with exactly one --output NAME")
    try:
        array = np.load(src, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataFormatError(
            f"cannot read {src} as .npy ({exc}); the file is truncated or not a NumPy array"
        ) from exc
    name = output_fields[0]
    imported = _arrays({name: array}, [name], [], output_fields, layout, str(src), dtype)
    if "time" not in next(iter(imported.layouts.values())):
        raise DataFormatError(
            f"{src}: one array without a time axis cannot be an operator pair; store inputs and outputs in an "
            f".npz (--input KEY --output KEY), or give a layout with 'time' for a trajectory"
        )
    return imported


@FORMATS.register("npz", description=".npz archive; --input/--output name its arrays")
def read_npz(
    src: Path,
    stack: contextlib.ExitStack,
    *,
    input_fields: Sequence[str] = (),
    output_fields: Sequence[str] = (),
    layout: LayoutSpec = None,
    dtype: Any = np.float32,
    **_: Any,
) -> Imported:
    """Arrays of an ``.npz`` archive, by key; ``--input`` keys map to ``--output`` keys."""
    try:
        archive = stack.enter_context(np.load(src, allow_pickle=False))
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataFormatError(
            f"cannot read {src} as .npz ({exc}); the file is truncated or not a NumPy archive"
        ) from exc
    keys = [*input_fields, *output_fields]
    try:
        arrays = {k: archive[k] for k in dict.fromkeys(keys) if k in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFormatError(f"cannot read the arrays of {src} ({exc}); the archive is corrupt") from exc
    return _arrays(arrays, archive.files, input_fields, output_fields, layout, str(src), dtype)


@FORMATS.register(
    "mat", description="MATLAB .mat (v4-v7.2 via scipy, v7.3 via h5py); --input/--output name variables"
)
def read_mat(
    src: Path,
    stack: contextlib.ExitStack,
    *,
    input_fields: Sequence[str] = (),
    output_fields: Sequence[str] = (),
    layout: LayoutSpec = None,
    dtype: Any = np.float32,
    **_: Any,
) -> Imported:
    """MATLAB variables by name; the layout names the axes in MATLAB order (as ``size()`` shows them)."""
    if h5py.is_hdf5(src):
        h5 = _open_h5(src, stack)
        arrays = {k: v for k, v in h5.items() if isinstance(v, h5py.Dataset)}
        return _arrays(
            arrays, list(arrays), input_fields, output_fields, layout, str(src), dtype, reverse_axes=True
        )
    import scipy.io

    try:
        available = [name for name, *_ in scipy.io.whosmat(src)]
        arrays = scipy.io.loadmat(
            src, variable_names=[k for k in [*input_fields, *output_fields] if k in available]
        )
    except (ValueError, OSError, NotImplementedError, TypeError) as exc:
        raise DataFormatError(
            f"cannot read {src} as a .mat file ({exc}); the file is truncated or not MATLAB data"
        ) from exc
    return _arrays(arrays, available, input_fields, output_fields, layout, str(src), dtype)


# ---------------------------------------------------------------------------------------------- entry
def convert(
    src: str | os.PathLike,
    fmt: str,
    out: str | os.PathLike,
    *,
    input_fields: Sequence[str] = (),
    output_fields: Sequence[str] = (),
    layout: str | Mapping[str, str] | None = None,
    dtype: Any = np.float32,
    compression: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Convert ``src`` (format ``fmt``, one of ``FORMATS.names()``) into the specops file ``out``.

    Parameters
    ----------
    input_fields, output_fields : sequence of str
        Array names for ``npy``/``npz``/``mat`` (ignored by the self-describing formats).
    layout : str or mapping name -> str, optional
        Axis names of the source arrays (one for all, or one per array) for ``neuraloperator``/``npy``/``npz``/``mat``, e.g.
        ``"sample x y time"``; default ``sample`` followed by the spatial axes, no channel.
    dtype
        Stored dtype (float32 by default).
    overwrite : bool
        Replace an existing ``out`` that holds anything but this very conversion (otherwise
        ``FileExistsError``; an ``out`` that already holds it is kept as it is).

    The output is written atomically: on any error (corrupt source, NaN, mismatched sample counts) no
    file appears at ``out`` and an existing one is untouched. One process at a time may write ``out``.
    """
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"source file {src} does not exist")
    reader: Callable[..., Imported] = FORMATS.get(fmt).target
    with (
        exclusive_lock(out, what="dataset file", fix="wait for it to finish, or choose another --out"),
        contextlib.ExitStack() as stack,
    ):
        imported = reader(
            src,
            stack,
            input_fields=tuple(input_fields),
            output_fields=tuple(output_fields),
            layout=layout,
            dtype=dtype,
        )
        kinds = {imported.layouts[name].split()[1] == "time" for name in imported.output_fields}
        kind = "trajectory" if kinds == {True} else "operator"
        attrs = {
            **imported.attrs,
            "source": f"convert:{fmt}",
            "source_file": str(src.resolve()),
            "kind": kind,
            "input_fields": imported.input_fields,
            "output_fields": imported.output_fields,
        }
        n = next(iter(imported.fields.values())).shape[0]
        with Progress(n, unit="sample", desc=f"convert {src.name}", enabled=progress) as bar:
            return write_dataset(
                out,
                imported.fields,
                layouts=imported.layouts,
                attrs=attrs,
                coords=imported.coords,
                compression=compression,
                progress=bar.update,
                overwrite=overwrite,
            )
