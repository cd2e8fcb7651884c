"""Import datasets from other projects' formats into specops files: ``specops convert``.

The readers, one module per family, are in ``specops.data.formats`` (``--from`` names in ``FORMATS``):
``neuraloperator``, ``pdebench``, ``the-well``, ``npy``, ``npz``, ``mat``. A reader opens the source and
returns sample sources in specops layout; :func:`convert` records where the data came from and writes it
with ``write_dataset``, so samples are read in batches while the file is written, never whole, and the
output appears atomically or not at all.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from specops.data.formats import FORMATS, Imported
from specops.data.writer import write_dataset
from specops.locking import exclusive_lock
from specops.progress import Progress

__all__ = ["convert"]


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
        Axis names of the source arrays (one for all, or one per array) for ``neuraloperator``/``npy``/
        ``npz``/``mat``, e.g. ``"sample x y time"``; default ``sample`` followed by the spatial axes, no
        channel.
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
        n = next(iter(imported.fields.values())).shape[0]
        with Progress(n, unit="sample", desc=f"convert {src.name}", enabled=progress) as bar:
            return write_dataset(
                out,
                imported.fields,
                layouts=imported.layouts,
                attrs=_root_attrs(imported, fmt, src),
                coords=imported.coords,
                compression=compression,
                progress=bar.update,
                overwrite=overwrite,
            )


def _root_attrs(imported: Imported, fmt: str, src: Path) -> dict[str, Any]:
    """What the source said about itself, plus where it came from and what kind of data it is.

    The file is a trajectory dataset when every output field has a time axis, an operator dataset
    otherwise.
    """
    kinds = {imported.layouts[name].split()[1] == "time" for name in imported.output_fields}
    return {
        **imported.attrs,
        "source": f"convert:{fmt}",
        "source_file": str(src.resolve()),
        "kind": "trajectory" if kinds == {True} else "operator",
        "input_fields": imported.input_fields,
        "output_fields": imported.output_fields,
    }
