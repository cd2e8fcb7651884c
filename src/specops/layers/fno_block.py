"""One Fourier layer of the FNO family, with the refinements of Kossaifi et al. (TMLR 2024).

``v <- act( norm(K v) + S v )`` followed, when enabled, by a channel MLP with its own skip:
``v <- act( norm(MLP(v) + S' v_in) )``. Activation is skipped after the last layer of a network.
This mirrors neuraloperator's post-activation block, so the same settings describe the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.factorized import Factorization
from specops.layers.mlp import ChannelMLP, PointwiseLinear, SoftGating
from specops.layers.spectral_conv import SpectralConv
from specops.spectral.fft import Method

Skip = Literal["linear", "identity", "soft-gating", "none"]
Norm = Literal["none", "instance", "group", "layer"]
SKIPS = ("linear", "identity", "soft-gating", "none")
NORMS = ("none", "instance", "group", "layer")


def _check(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {tuple(allowed)}")
    return value


class FNOBlock(nn.Module):
    """Spectral convolution + pointwise skip (+ channel MLP) (+ norm) + activation.

    Parameters
    ----------
    channels : int
        Hidden width (input and output channels).
    n_modes : sequence of int
        Kept modes per dimension (see ``SpectralConv``).
    skip : "linear", "identity", "soft-gating" or "none"
        Skip path added to the spectral convolution.
    channel_mlp_expansion : float
        Hidden width of the channel MLP as a fraction of ``channels``; 0 disables the MLP.
    channel_mlp_skip : skip type of the channel MLP.
    norm : "none", "instance", "group" or "layer"
    activation : activation name.
    spectral : dict
        Extra keyword arguments for ``SpectralConv`` (factorization, rank, separable, max_n_modes, ...).
    """

    def __init__(
        self,
        channels: int,
        n_modes: Sequence[int],
        *,
        skip: Skip = "linear",
        channel_mlp_expansion: float = 0.5,
        channel_mlp_skip: Skip = "soft-gating",
        norm: Norm = "none",
        activation: Activation = "gelu",
        factorization: Factorization | None = None,
        rank: float = 1.0,
        separable: bool = False,
        max_n_modes: Sequence[int] | None = None,
        fft_method: Method = "auto",
    ) -> None:
        super().__init__()
        self.channels = channels
        self.conv = SpectralConv(
            channels,
            channels,
            n_modes,
            max_n_modes=max_n_modes,
            factorization=factorization,
            rank=rank,
            separable=separable,
            fft_method=fft_method,
        )
        self.skip_kind = _check("skip", skip, SKIPS)
        self.skip = _make_skip(skip, channels)
        self.activation = get_activation(activation)
        self.norm_kind = _check("norm", norm, NORMS)
        hidden = round(channels * channel_mlp_expansion)
        self.mlp = ChannelMLP(channels, channels, hidden, activation=activation) if hidden > 0 else None
        self.mlp_skip_kind = _check("channel_mlp_skip", channel_mlp_skip, SKIPS)
        self.mlp_skip = _make_skip(channel_mlp_skip, channels) if self.mlp is not None else None
        n_norms = 2 if self.mlp is not None else 1
        self.norms = (
            nn.ModuleList(_make_norm(norm, channels) for _ in range(n_norms)) if norm != "none" else None
        )

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.conv.n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int]) -> None:
        self.conv.n_modes = value

    def forward(self, x: torch.Tensor, last: bool = False) -> torch.Tensor:
        h = self.conv(x)
        if self.norms is not None:
            h = self.norms[0](h)
        h = _add_skip(h, x, self.skip_kind, self.skip)
        if not last:
            h = self.activation(h)
        if self.mlp is not None:
            if self.mlp_skip_kind == "linear":
                h = self.mlp(h, add=self.mlp_skip(x))
            else:
                h = _add_skip(self.mlp(h), x, self.mlp_skip_kind, self.mlp_skip)
            if self.norms is not None:
                h = self.norms[1](h)
            if not last:
                h = self.activation(h)
        return h


def _make_skip(kind: str, channels: int) -> nn.Module | None:
    if kind == "linear":
        return PointwiseLinear(channels, channels, bias=False)
    if kind == "soft-gating":
        return SoftGating(channels)
    return None


def _add_skip(h: torch.Tensor, x: torch.Tensor, kind: str, module: nn.Module | None, inplace: bool = False):
    """``h + skip(x)``, fused where the skip allows it."""
    if kind == "linear":
        # W x + h in one batched GEMM (h rides in as the accumulator).
        return module(x, add=h)
    if kind == "identity":
        return h.add_(x) if inplace else h + x
    if kind == "soft-gating":
        gate = module.weight.reshape(1, -1, *([1] * (x.dim() - 2)))
        return h.addcmul_(x, gate) if inplace else torch.addcmul(h, x, gate)
    return h


class _InstanceNorm(nn.Module):
    def forward(self, x):
        return F.instance_norm(x)


class _LayerNorm(nn.Module):
    """Layer norm over channels at each point, for channel-first fields."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        var, mean = torch.var_mean(x, dim=1, keepdim=True, unbiased=False)
        shape = (1, -1, *([1] * (x.dim() - 2)))
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight.reshape(shape) + self.bias.reshape(
            shape
        )


def _make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return _InstanceNorm()
    if kind == "group":
        return nn.GroupNorm(1, channels)
    return _LayerNorm(channels)
