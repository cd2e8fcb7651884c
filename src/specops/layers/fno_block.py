"""One Fourier layer of the FNO family, with the refinements of Kossaifi et al. (TMLR 2024).

    v  <- act( norm_1(K v) + S v )                     (spectral convolution K, skip S)
    v' <- act( norm_2(MLP(v) + S' v_in) )              (channel MLP with its own skip S', when enabled)

Activation is skipped after the last layer of a network. This mirrors neuraloperator's post-activation
block, so the same settings describe the same model.

``FNOBlock`` receives built parts (the convolution, skip modules, a norm builder, an activation
function); ``FNOBlockSpec`` is the same choice as plain data (``{"skip": "linear", "norm": "layer"}``), as a
model's constructor takes it, and builds the parts once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.block_options import binarize_
from specops.layers.mlp import ChannelMLP
from specops.layers.norms import NORMS, Norm, norm_factory
from specops.layers.skips import SKIPS, NoSkip, Skip, SkipKind, make_skip
from specops.registry import Options


class FNOBlock(nn.Module):
    """Spectral convolution + skip (+ channel MLP with its skip) (+ norms) + activation.

    Parameters
    ----------
    conv : nn.Module
        The spatial mixing layer ``K``, ``(batch, C, *space) -> (batch, C, *space)``: a ``SpectralConv``,
        or any module of that shape (a factorized or attention mixer).
    skip : Skip, optional
        Skip path ``S`` added to ``K v`` (``specops.layers.skips``; default none).
    channel_mlp : nn.Module, optional
        Pointwise MLP after the first half; called as ``channel_mlp(v, add=t)`` when its skip is linear.
    channel_mlp_skip : Skip, optional
        Skip ``S'`` from the block input to the MLP output (default none).
    norm : callable, optional
        Builds one normalization module (called once per norm: one after ``K``, one after the MLP).
    activation : callable
        Pointwise nonlinearity (default ``F.gelu``).

    Shapes: ``(batch, C, *space) -> (batch, C, *space)``.
    """

    def __init__(
        self,
        conv: nn.Module,
        skip: Skip | None = None,
        *,
        channel_mlp: nn.Module | None = None,
        channel_mlp_skip: Skip | None = None,
        norm: Callable[[], nn.Module] | None = None,
        activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu,
    ) -> None:
        super().__init__()
        self.conv = conv
        self.skip = NoSkip() if skip is None else skip
        self.activation = activation
        self.mlp = channel_mlp
        self.mlp_skip = None
        if self.mlp is not None:
            self.mlp_skip = NoSkip() if channel_mlp_skip is None else channel_mlp_skip
        n_norms = 2 if self.mlp is not None else 1
        self.norms = nn.ModuleList(norm() for _ in range(n_norms)) if norm is not None else None

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.conv.n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int]) -> None:
        self.conv.n_modes = value

    def forward(self, x: torch.Tensor, last: bool = False) -> torch.Tensor:
        """Apply the block; ``last=True`` leaves out the activations (the network's last block)."""
        h = self.conv(x)
        if self.norms is not None:
            h = self.norms[0](h)
        h = self.skip.add(h, x)
        if not last:
            h = self.activation(h)
        if self.mlp is not None:
            h = self.mlp_skip.around(self.mlp, h, x)
            if self.norms is not None:
                h = self.norms[1](h)
            if not last:
                h = self.activation(h)
        return h


@dataclass(frozen=True)
class FNOBlockSpec(Options):
    """The options of a model's Fourier blocks, as plain data; ``build`` makes one block.

    Parameters
    ----------
    skip : "linear", "identity", "soft-gating" or "none"
        Skip path added to the spectral convolution.
    channel_mlp_expansion : float
        Hidden width of the channel MLP as a fraction of the channels; 0 leaves the MLP out.
    channel_mlp_skip : "linear", "identity", "soft-gating" or "none"
        Skip path of the channel MLP.
    norm : "none", "instance", "group", "layer", "evonorm-b0" or "evonorm-s0"
        Normalization after the convolution and after the MLP (``specops.layers.norms``).
    weights : "real" or "biper"
        "biper" makes the pointwise weights of the skip and the channel MLP binary (BiPer,
        ``specops.layers.block_options``); the mixer keeps real weights.
    """

    skip: SkipKind = "linear"
    channel_mlp_expansion: float = 0.5
    channel_mlp_skip: SkipKind = "soft-gating"
    norm: Norm = "none"
    weights: Literal["real", "biper"] = "real"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, allowed in (
            ("skip", SKIPS),
            ("channel_mlp_skip", SKIPS),
            ("norm", ("none", *NORMS)),
            ("weights", ("real", "biper")),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {tuple(allowed)}")
        if not self.channel_mlp_expansion >= 0:
            raise ValueError(f"channel_mlp_expansion={self.channel_mlp_expansion!r} must be 0 or more")

    def build(
        self, channels: int, conv: nn.Module, activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu
    ) -> FNOBlock:
        """An ``FNOBlock`` of width ``channels`` around ``conv`` (parameters drawn in the order: skip,
        channel MLP, MLP skip)."""
        skip = make_skip(self.skip, channels)
        hidden = round(channels * self.channel_mlp_expansion)
        mlp = ChannelMLP(channels, channels, hidden, activation=activation) if hidden > 0 else None
        mlp_skip = make_skip(self.channel_mlp_skip, channels, "channel_mlp_skip") if mlp is not None else None
        if self.weights == "biper":
            for part in (skip, mlp, mlp_skip):
                if part is not None:
                    binarize_(part)
        return FNOBlock(
            conv,
            skip,
            channel_mlp=mlp,
            channel_mlp_skip=mlp_skip,
            norm=norm_factory(self.norm, channels),
            activation=activation,
        )
