"""Normalization layers for channel-first fields ``(batch, channel, *space)``, by name for configs.

With ``mu`` and ``sigma^2`` the mean and (biased) variance over the axes named, ``eps = 1e-5``:

=============  ==============================================  ===================================
name           normalizes over                                 formula
=============  ==============================================  ===================================
``instance``   space, per sample and channel                   ``(x - mu) / sqrt(sigma^2 + eps)``
``group``      channels and space, per sample (one group)      ``gamma_c (x - mu) / sqrt(...) + beta_c``
``layer``      channels, per sample and point                  ``gamma_c (x - mu) / sqrt(...) + beta_c``
=============  ==============================================  ===================================

``evonorm-b0`` and ``evonorm-s0`` are the normalization-activation layers of ``specops.layers.block_options``.

``instance`` has no parameters (``F.instance_norm`` without affine weights), ``group`` is
``nn.GroupNorm(1, C)``; ``layer`` is ``nn.LayerNorm(C)`` applied at every grid point (Ba et al., "Layer
Normalization", 2016, eq. 4) without moving the channel axis last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.block_options import EvoNormB0, EvoNormS0

Norm = Literal["none", "instance", "group", "layer", "evonorm-b0", "evonorm-s0"]


class InstanceNorm(nn.Module):
    """``y[b, c] = (x[b, c] - mean(x[b, c])) / sqrt(var(x[b, c]) + eps)`` over space; no parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x)


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels at each point of a channel-first field.

    ``y[b, :, p] = gamma * (x[b, :, p] - mu) / sqrt(sigma^2 + eps) + beta`` with ``mu``, ``sigma^2`` the
    mean and biased variance of ``x[b, :, p]``: ``F.layer_norm`` over the channel axis, computed in place
    of the channel-last permutation it would need.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, unbiased=False)
        shape = (1, -1, *([1] * (x.dim() - 2)))
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight.reshape(shape) + self.bias.reshape(
            shape
        )


def _group_norm(channels: int) -> nn.Module:
    return nn.GroupNorm(1, channels)


NORMS: dict[str, Callable[[int], nn.Module]] = {
    "instance": lambda channels: InstanceNorm(),
    "group": _group_norm,
    "layer": ChannelLayerNorm,
    "evonorm-b0": EvoNormB0,
    "evonorm-s0": EvoNormS0,
}


def norm_factory(name: str, channels: int) -> Callable[[], nn.Module] | None:
    """A zero-argument builder of the norm ``name`` for ``channels`` channels (None for ``"none"``)."""
    if name == "none":
        return None
    if name not in NORMS:
        raise ValueError(f"norm={name!r} is not one of {('none', *NORMS)}")
    make = NORMS[name]
    return lambda: make(channels)
