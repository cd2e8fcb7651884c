"""The Fourier Neural Operator family: FNO, tensorized TFNO and implicit IFNO.

FNO: Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
TFNO: Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator", TMLR 2024.
IFNO: You et al., "Learning Deep Implicit Fourier Neural Operators", 2022.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.embeddings import GridEmbedding
from specops.layers.factorized import Factorization
from specops.layers.fno_block import FNOBlock, Norm, Skip
from specops.layers.mlp import ChannelMLP, PointwiseLinear, pointwise
from specops.layers.padding import DomainPadding
from specops.layers.spectral_conv import SpectralConv, _as_modes
from specops.models.base import OperatorModel
from specops.registry import MODELS
from specops.spectral.fft import Method


class _Lifting(nn.Module):
    """Pointwise map from input channels (+ coordinates) to the hidden width.

    Coordinates are batch-independent, so their contribution ``W_grid @ grid`` is computed once per call and
    enters the first layer's GEMM as its accumulator instead of being concatenated to every sample.
    """

    def __init__(self, in_channels: int, grid_dim: int, out_channels: int, ratio: float, activation: str):
        super().__init__()
        self.in_channels = in_channels
        self.grid_dim = grid_dim
        hidden = round(out_channels * ratio)
        self.mlp = (
            ChannelMLP(in_channels + grid_dim, out_channels, hidden, activation=activation)
            if hidden > 0
            else ChannelMLP(in_channels + grid_dim, out_channels, out_channels, n_layers=1)
        )

    def forward(self, x: torch.Tensor, grid: torch.Tensor | None) -> torch.Tensor:
        if grid is None:
            return self.mlp(x)
        first, rest = self.mlp.layers[0], self.mlp.layers[1:]
        w = first.weight
        grid_term = torch.matmul(w[:, self.in_channels :], grid.reshape(self.grid_dim, -1))
        h = pointwise(x, w[:, : self.in_channels], first.bias, add=grid_term.unsqueeze(0))
        for layer in rest:
            h = layer(self.mlp.activation(h))
        return h


def _make_lifting(
    in_channels: int, dim: int, hidden: int, ratio: float, activation: str, positional: bool
) -> tuple[GridEmbedding | None, _Lifting]:
    """The coordinate embedding (or None) and the lifting of an FNO-family model."""
    embedding = GridEmbedding(dim) if positional else None
    return embedding, _Lifting(in_channels, dim if positional else 0, hidden, ratio, activation)


def _make_projection(hidden: int, out_channels: int, ratio: float, activation: str) -> nn.Module:
    """Pointwise projection to the output channels: an MLP of width ``ratio * hidden``, or one linear."""
    width = round(hidden * ratio)
    if width > 0:
        return ChannelMLP(hidden, out_channels, width, activation=activation)
    return PointwiseLinear(hidden, out_channels)


def _lift(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Lift a checked input ``x`` (with the coordinates, if the model embeds them) to the hidden width."""
    grid = model.embedding(x.shape[2:], x.dtype, x.device) if model.embedding is not None else None
    return model.lifting(x, grid)


class FNO(OperatorModel):
    """Fourier Neural Operator: lifting, ``n_layers`` Fourier blocks, projection.

    ``u = Q( B_L ... B_1 ( P(a, x) ) )`` with ``B`` the blocks of ``specops.layers.FNOBlock``. Defaults match
    neuraloperator 2.0's ``FNO`` so the same configuration builds the same model (same parameter count).

    Parameters
    ----------
    n_modes : sequence of int
        Kept Fourier modes per spatial dimension; the dimension of the model is ``len(n_modes)``.
    in_channels, out_channels, hidden_channels : int
    n_layers : int
    lifting_channel_ratio, projection_channel_ratio : float
        Hidden width of the lifting / projection MLPs as multiples of ``hidden_channels`` (0: one linear).
    positional_embedding : bool
        Append the grid coordinates on ``[0, 1)^d`` to the input channels.
    domain_padding : float or sequence
        Fraction of each axis to zero-pad at its end (for non-periodic problems).
    activation, norm, skip, channel_mlp_expansion, channel_mlp_skip
        Block options (see ``FNOBlock``).
    factorization, rank, separable, max_n_modes, fft_method
        Spectral weight options (see ``SpectralConv``).

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)`` at any resolution that holds
    the kept modes.
    """

    registry_name = "fno"

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 64,
        n_layers: int = 4,
        *,
        lifting_channel_ratio: float = 2,
        projection_channel_ratio: float = 2,
        positional_embedding: bool = True,
        domain_padding: float | Sequence[float] = 0.0,
        activation: Activation = "gelu",
        norm: Norm = "none",
        skip: Skip = "linear",
        channel_mlp_expansion: float = 0.5,
        channel_mlp_skip: Skip = "soft-gating",
        factorization: Factorization | None = None,
        rank: float = 1.0,
        separable: bool = False,
        max_n_modes: Sequence[int] | None = None,
        fft_method: Method = "auto",
    ) -> None:
        super().__init__()
        n_modes = _as_modes(n_modes)
        self.dim = len(n_modes)
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("hidden_channels", hidden_channels),
            ("n_layers", n_layers),
        ):
            if int(value) < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = int(hidden_channels)
        self.n_layers = int(n_layers)
        get_activation(activation)
        self.embedding, self.lifting = _make_lifting(
            self.in_channels,
            self.dim,
            self.hidden_channels,
            lifting_channel_ratio,
            activation,
            positional_embedding,
        )
        pad = domain_padding if isinstance(domain_padding, (int, float)) else max(domain_padding)
        self.padding = DomainPadding(domain_padding, self.dim) if pad else None
        self.blocks = nn.ModuleList(
            FNOBlock(
                self.hidden_channels,
                n_modes,
                skip=skip,
                channel_mlp_expansion=channel_mlp_expansion,
                channel_mlp_skip=channel_mlp_skip,
                norm=norm,
                activation=activation,
                factorization=factorization,
                rank=rank,
                separable=separable,
                max_n_modes=max_n_modes,
                fft_method=fft_method,
            )
            for _ in range(self.n_layers)
        )
        self.projection = _make_projection(
            self.hidden_channels, self.out_channels, projection_channel_ratio, activation
        )

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.blocks[0].n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int]) -> None:
        for block in self.blocks:
            block.n_modes = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        space = x.shape[2:]
        h = _lift(self, x)
        if self.padding is not None:
            h = self.padding.pad(h)
        for i, block in enumerate(self.blocks):
            h = block(h, last=i == self.n_layers - 1)
        if self.padding is not None:
            h = self.padding.unpad(h, space).contiguous()
        return self.projection(h)


class TFNO(FNO):
    """Tensorized FNO: FNO whose spectral weights are low-rank (Tucker by default, 5% of the parameters)."""

    registry_name = "tfno"

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 64,
        n_layers: int = 4,
        *,
        factorization: Factorization = "tucker",
        rank: float = 0.05,
        **kwargs,
    ) -> None:
        if factorization in (None, "dense"):
            raise ValueError("TFNO needs factorization='cp', 'tucker' or 'tt'; use FNO for dense weights")
        super().__init__(
            n_modes,
            in_channels,
            out_channels,
            hidden_channels,
            n_layers,
            factorization=factorization,
            rank=rank,
            **kwargs,
        )


class IFNO(OperatorModel):
    """Implicit FNO: one Fourier layer applied ``n_layers`` times as a fixed-point iteration.

    ``v <- v + (1/L) act(K v + W v)`` for the first ``L - 1`` steps and ``v <- v + (1/L)(K v + W v)`` for the
    last, with the same ``K`` (spectral) and ``W`` (pointwise) every time (You et al. 2022): depth costs no
    parameters, and the weights of a shallow model initialise a deeper one.
    """

    registry_name = "ifno"

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 64,
        n_layers: int = 8,
        *,
        lifting_channel_ratio: float = 2,
        projection_channel_ratio: float = 2,
        positional_embedding: bool = True,
        activation: Activation = "gelu",
        factorization: Factorization | None = None,
        rank: float = 1.0,
        fft_method: Method = "auto",
    ) -> None:
        super().__init__()
        n_modes = _as_modes(n_modes)
        self.dim = len(n_modes)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.hidden_channels, self.n_layers = int(hidden_channels), int(n_layers)
        if self.n_layers < 1:
            raise ValueError(f"n_layers={n_layers} must be a positive integer")
        self.activation = get_activation(activation)
        self.embedding, self.lifting = _make_lifting(
            self.in_channels,
            self.dim,
            self.hidden_channels,
            lifting_channel_ratio,
            activation,
            positional_embedding,
        )
        self.conv = SpectralConv(
            self.hidden_channels,
            self.hidden_channels,
            n_modes,
            factorization=factorization,
            rank=rank,
            fft_method=fft_method,
        )
        self.pointwise = PointwiseLinear(self.hidden_channels, self.hidden_channels)
        self.projection = _make_projection(
            self.hidden_channels, self.out_channels, projection_channel_ratio, activation
        )

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.conv.n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int]) -> None:
        self.conv.n_modes = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _lift(self, self.check_input(x, self.in_channels, self.dim))
        step = 1.0 / self.n_layers
        for i in range(self.n_layers):
            update = self.pointwise(h, add=self.conv(h))
            if i < self.n_layers - 1:
                update = self.activation(update)
            h = h + step * update
        return self.projection(h)


MODELS.register("fno", FNO)
MODELS.register("tfno", TFNO)
MODELS.register("ifno", IFNO)

# Presets: common sizes from the literature, buildable with no further arguments.
_PRESETS = {
    "fno-1d-burgers": (
        "fno",
        {"n_modes": [16], "hidden_channels": 64},
        "FNO paper, 1D Burgers (16 modes, width 64)",
    ),
    "fno-2d-darcy": (
        "fno",
        {"n_modes": [12, 12], "hidden_channels": 32},
        "FNO paper, 2D Darcy (12 modes, width 32)",
    ),
    "fno-2d-small": (
        "fno",
        {"n_modes": [8, 8], "hidden_channels": 32},
        "neuraloperator's small-Darcy example (8 modes, width 32, 340k parameters)",
    ),
    "fno-2d-ns": (
        "fno",
        {"n_modes": [12, 12], "hidden_channels": 20, "in_channels": 10},
        "FNO-2D for Navier-Stokes: 10 past vorticity frames -> next frame",
    ),
    "fno-2d-medium": (
        "fno",
        {"n_modes": [16, 16], "hidden_channels": 64},
        "2D, 16 modes, width 64, 4 layers (4.77M parameters; the benchmark model)",
    ),
    "fno-3d-ns": (
        "fno",
        {"n_modes": [8, 8, 8], "hidden_channels": 20, "in_channels": 1},
        "FNO-3D space-time for Navier-Stokes (8 modes, width 20)",
    ),
    "tfno-2d-medium": (
        "tfno",
        {"n_modes": [16, 16], "hidden_channels": 64, "rank": 0.05},
        "TFNO, Tucker rank 0.05, 2D 16 modes width 64",
    ),
    "tfno-2d-cp": (
        "tfno",
        {"n_modes": [16, 16], "hidden_channels": 64, "factorization": "cp", "rank": 0.05},
        "TFNO with CP weights (5% of the dense parameters)",
    ),
    "tfno-2d-tt": (
        "tfno",
        {"n_modes": [16, 16], "hidden_channels": 64, "factorization": "tt", "rank": 0.05},
        "TFNO with tensor-train weights (5% of the dense parameters)",
    ),
    "ifno-2d": (
        "ifno",
        {"n_modes": [12, 12], "hidden_channels": 32, "n_layers": 8},
        "implicit FNO, 8 shared-weight iterations, 12 modes, width 32",
    ),
}
for _name, (_family, _defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, MODELS.get(_family).target, defaults=_defaults, description=_doc, family=_family)
