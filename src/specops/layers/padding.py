"""Domain padding for non-periodic problems: extend the grid so the FFT's periodicity does no harm."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class DomainPadding(nn.Module):
    """Zero-pad the end of each spatial axis by ``fraction`` of its length; ``unpad`` crops it back.

    Padding on one side only keeps the original grid points at their indices, so the padded model still
    evaluates at any resolution (the pad scales with the grid).
    """

    def __init__(self, fraction: float | Sequence[float], dim: int) -> None:
        super().__init__()
        fractions = (
            [float(fraction)] * dim if isinstance(fraction, (int, float)) else [float(f) for f in fraction]
        )
        if len(fractions) != dim or any(f < 0 for f in fractions):
            raise ValueError(
                f"domain_padding={fraction} must be a non-negative number or one per axis ({dim})"
            )
        self.fractions = fractions

    def amounts(self, space: Sequence[int]) -> list[int]:
        return [round(f * n) for f, n in zip(self.fractions, space)]

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        amounts = self.amounts(x.shape[2:])
        spec = []
        for a in reversed(amounts):
            spec += [0, a]
        return F.pad(x, spec) if any(amounts) else x

    def unpad(self, x: torch.Tensor, space: Sequence[int]) -> torch.Tensor:
        index = (slice(None), slice(None), *[slice(0, n) for n in space])
        return x[index]
