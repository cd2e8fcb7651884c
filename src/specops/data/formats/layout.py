"""Arrays whose axes the user names: ``--layout "sample x y time"`` and the sources that read them so.

Plain array files (``.npy``, ``.npz``, ``.mat``, neuraloperator's ``.pt``) and some PDEBench arrays carry
no description of their axes. A layout names them, in order, from ``sample``, ``time``, ``channel``, ``x``,
``y``, ``z``; without one an array is ``sample`` followed by spatial axes. :class:`LayoutSource` reads
such an array in specops order, ``(sample, [time], channel, x, [y, [z]])``, batch by batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from specops.data.formats.base import Imported
from specops.data.schema import SPATIAL_AXES, DataFormatError, layout_for

LAYOUT_AXES = ("sample", "time", "channel", *SPATIAL_AXES)


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
        """Samples ``start:stop`` in specops axis order, as a C-contiguous array of ``self.dtype``."""
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


def named_arrays(
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
