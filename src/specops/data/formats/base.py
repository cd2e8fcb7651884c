"""The contract between ``specops convert`` and the readers of other projects' formats.

A reader is registered in :data:`FORMATS` under its ``--from`` name and called as
``reader(src, stack, *, input_fields, output_fields, layout, dtype)``; it opens ``src`` (entering any open
file into the ``contextlib.ExitStack`` ``stack``, which ``convert`` closes after writing), reads nothing but
metadata, and returns an :class:`Imported`: sample sources in specops layout (see ``data/writer.py``) and
what maps to what. Readers ignore the keyword arguments their format does not use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from specops.data.schema import DataFormatError
from specops.registry import Registry

FORMATS = Registry("data format")
# A user's --layout: one for every array, or one per array name; None for the default.
LayoutSpec = str | Mapping[str, str] | None


@dataclass
class Imported:
    """What a reader found: sample sources in specops layout, and what maps to what.

    Attributes
    ----------
    fields : dict name -> source
        Sources with ``shape``, ``dtype``, ``label`` and ``read(start, stop)``, as ``write_dataset`` takes.
    layouts : dict name -> str
        Each field's specops layout (``schema.layout_for``).
    input_fields, output_fields : list of str
        Field names; for a trajectory both name the evolving fields.
    coords : dict axis -> 1D array
        Grid and time coordinates the source provides (``x``, ``y``, ``z``, ``t``).
    attrs : dict
        Root attributes the source provides (``parameters``, ``pde``, ``boundary`` ...).
    """

    fields: dict[str, Any]
    layouts: dict[str, str]
    input_fields: list[str]
    output_fields: list[str]
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


def open_h5(src: Path, stack: contextlib.ExitStack) -> h5py.File:
    """``src`` opened read-only with h5py and entered into ``stack``; one clear error if it is not HDF5."""
    try:
        return stack.enter_context(h5py.File(src, "r"))
    except OSError as exc:
        raise DataFormatError(
            f"cannot read {src} as HDF5 ({exc}); the file is truncated or not HDF5: download it again"
        ) from exc
