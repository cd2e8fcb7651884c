"""Positional embeddings: coordinates as extra input channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from specops.spectral.grid import meshgrid


class GridEmbedding(nn.Module):
    """Coordinates of a uniform periodic grid on ``[0, L)^d``, shape ``(d, *space)``, cached per shape.

    Batch-independent: the FNO lifting layer multiplies it once per forward instead of concatenating a copy
    to every sample.
    """

    def __init__(self, dim: int, lengths: Sequence[float] | float = 1.0) -> None:
        super().__init__()
        self.dim = int(dim)
        self.lengths = lengths
        self._cache: tuple[tuple, torch.Tensor] | None = None

    def forward(self, space: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = (tuple(space), dtype, device)
        if self._cache is None or self._cache[0] != key:
            grid = torch.stack(meshgrid(space, self.lengths, dtype=dtype, device=device))
            self._cache = (key, grid)
        return self._cache[1]
