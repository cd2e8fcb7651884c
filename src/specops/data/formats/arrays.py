"""Formats that are named arrays and nothing else: neuraloperator ``.pt``, ``.npy``, ``.npz``, MATLAB ``.mat``.

None of them says what its axes are, so the user's ``--layout`` (or the default: ``sample`` then spatial
axes) names them (``layout.py``), and ``--input``/``--output`` name the arrays where the file holds more
than the reader knows what to do with. Arrays are memory-mapped or read lazily where the format allows.

- ``neuraloperator``: a ``torch.save`` dict with tensors ``x`` (inputs) and ``y`` (outputs), ``(N, *space)``
  without a channel axis (neuraloperator's ``PTDataset`` adds it on load).
- ``npy``: one array, a trajectory (it must have a time axis: input and output are the same field).
- ``npz``: arrays by key; ``--input`` keys map to ``--output`` keys.
- ``mat``: MATLAB variables by name; v4-v7.2 through scipy, v7.3 (HDF5) through h5py with the axes given in
  MATLAB order (as ``size()`` prints them).
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.formats.base import FORMATS, Imported, LayoutSpec, open_h5
from specops.data.formats.layout import named_arrays
from specops.data.schema import DataFormatError


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
    return named_arrays(arrays, list(arrays), ["x"], ["y"], layout, str(src), dtype)


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
    imported = named_arrays({name: array}, [name], [], output_fields, layout, str(src), dtype)
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
    return named_arrays(arrays, archive.files, input_fields, output_fields, layout, str(src), dtype)


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
        h5 = open_h5(src, stack)
        arrays = {k: v for k, v in h5.items() if isinstance(v, h5py.Dataset)}
        return named_arrays(
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
    return named_arrays(arrays, available, input_fields, output_fields, layout, str(src), dtype)
