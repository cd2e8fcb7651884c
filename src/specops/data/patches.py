"""Patch-level training items: a dataset of whole fields seen as (sample, patch position) items.

MG-TFNO's patching (Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution
PDEs", TMLR 2024, sec. 3.3) cuts every field into ``P = p_1 ... p_d`` patches that go through the model
independently. Trained at the patch level, the training set is the ``N x P`` pairs ``(i, j)``:

    item k = (sample i, patch j),   i = k // P,   j = k % P,   k = 0 .. N P - 1,

so a sampler that shuffles and shards items (``specops.training.distributed.ResumableSampler``) spreads the
patches of one field over steps and over processes, and each training step holds the activations of its
items' patches, never of a whole field. An item carries the whole input and target (the coarse views of a
patch read its surroundings, and the normalizers act on whole fields) plus its patch index under
``PATCH_KEY``; ``specops.training.patch_task.PatchTask`` cuts the patch out after encoding.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

PATCH_KEY = "patch"
"""The item key of the patch position (an int in ``[0, n_patches)``, C order over the axes)."""


class PatchItems(Dataset):
    """``base`` (items ``{"x", "y"}``) as ``len(base) * n_patches`` items ``{"x", "y", "patch"}``.

    Item ``k`` is ``base[k // n_patches]`` with ``"patch": k % n_patches``: every (sample, patch) pair once,
    sample-major. Attributes of ``base`` (``spatial_shape``, ``kind``, ...) are readable through the view.

    Parameters
    ----------
    base : map-style dataset of ``{"x", "y"}`` items (whole fields)
    n_patches : int
        Patches per field, ``prod(patches)`` of the ``MultigridPatching`` model.

    Notes
    -----
    Each item reads its whole sample, so an epoch reads every sample ``n_patches`` times; data held in
    memory (or cached by the operating system) make that cheap.
    """

    def __init__(self, base: Dataset, n_patches: int) -> None:
        if isinstance(n_patches, bool) or int(n_patches) != n_patches or n_patches < 1:
            raise ValueError(f"n_patches={n_patches!r} must be a whole number >= 1 (patches per field)")
        if not hasattr(base, "__len__") or not hasattr(base, "__getitem__"):
            raise TypeError(
                f"patch-level training needs a map-style dataset (with __len__ and __getitem__), got "
                f"{type(base).__name__}: a stream cannot be split into (sample, patch) items"
            )
        self.base = base
        self.n_patches = int(n_patches)

    def __len__(self) -> int:
        return len(self.base) * self.n_patches

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"patch item {index} out of range for {len(self)} items")
        sample, patch = divmod(int(index), self.n_patches)
        item = self.base[sample]
        if not isinstance(item, dict) or PATCH_KEY in item:
            raise ValueError(
                f"PatchItems needs base items that are dicts {{'x', 'y'}} without a {PATCH_KEY!r} key, got "
                f"{type(item).__name__}"
            )
        return {**item, PATCH_KEY: patch}

    def locate(self, index: int) -> tuple[int, int]:
        """``(sample, patch)`` of item ``index``."""
        return divmod(int(index), self.n_patches)

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not set yet (during unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.base, name)
