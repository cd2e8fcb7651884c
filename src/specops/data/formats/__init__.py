"""Readers of other projects' dataset formats, registered in :data:`FORMATS` by their ``--from`` name.

- ``arrays.py``: ``neuraloperator`` (``.pt``), ``npy``, ``npz``, ``mat``: named arrays, axes from ``--layout``;
- ``pdebench.py``: ``pdebench``, PDEBench HDF5 in its three layouts;
- ``the_well.py``: ``the-well``, The Well's HDF5 schema.

``base.py`` holds the registry and the reader contract, ``layout.py`` the user-named array layouts.
Importing this package registers every reader; ``specops.data.convert.convert`` drives them.
"""

from specops.data.formats import arrays, pdebench, the_well  # noqa: F401  (importing registers the readers)
from specops.data.formats.base import FORMATS, Imported

__all__ = ["FORMATS", "Imported"]
