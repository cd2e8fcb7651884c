"""(sample, patch) items: every patch of every field exactly once."""

import pytest
import torch

from specops.data.patches import PATCH_KEY, PatchItems
from specops.models.patching import patch_cores


class Fields(torch.utils.data.Dataset):
    def __init__(self, n, shape):
        self.x = torch.arange(n * torch.Size(shape).numel(), dtype=torch.float64).reshape(n, 1, *shape)
        self.spatial_shape = shape

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return {"x": self.x[i], "y": -self.x[i]}


@pytest.mark.parametrize("patches,shape", [([4], (16,)), ([2, 3], (8, 12)), ([2, 1, 2], (4, 6, 4))])
def test_items_partition_every_field_exactly_once(patches, shape):
    base = Fields(3, shape)
    n_patches = torch.Size(patches).numel()
    items = PatchItems(base, n_patches)
    assert len(items) == 3 * n_patches and items.spatial_shape == shape  # base attributes read through
    pairs = [items.locate(k) for k in range(len(items))]
    assert sorted(pairs) == [(i, j) for i in range(3) for j in range(n_patches)]  # each pair once
    # the points of the items' patch cores: every grid point of every field, each exactly once
    seen = torch.zeros(base.x.numel(), dtype=torch.long)
    for k in range(len(items)):
        item = items[k]
        sample, patch = items.locate(k)
        assert item[PATCH_KEY] == patch and torch.equal(item["x"], base.x[sample])
        core = patch_cores(item["x"][None], patches, torch.tensor([patch]))
        seen[core.flatten().long()] += 1
    assert torch.equal(seen, torch.ones_like(seen))


def test_bad_patch_items_are_refused():
    with pytest.raises(ValueError, match=r"n_patches=0 must be a whole number >= 1"):
        PatchItems(Fields(1, (4,)), 0)
    with pytest.raises(TypeError, match=r"needs a map-style dataset"):
        PatchItems(iter([]), 2)
    with pytest.raises(IndexError, match=r"patch item 8 out of range for 8 items"):
        PatchItems(Fields(2, (4,)), 4)[8]
