"""The Fourier Neural Operator family: FNO, tensorized TFNO and implicit IFNO.

FNO: Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
TFNO: Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator", TMLR 2024.
IFNO: You et al., "Learning Deep Implicit Fourier Neural Operators", 2022.

Constructor arguments are plain data, grouped: ``spectral`` (a ``SpectralConvSpec``: weight factorization,
rank, separable, max_n_modes, fft_method) and ``block`` (an ``FNOBlockSpec``: skips, channel MLP, norm).
Each group is resolved to objects once, here; the layers receive the objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.fno_block import FNOBlockSpec
from specops.layers.lifting import Lifting, make_projection
from specops.layers.mixers import mixer_factory
from specops.layers.mlp import PointwiseLinear
from specops.layers.padding import DomainPadding
from specops.layers.spectral_conv import SpectralConvSpec, as_modes
from specops.models.base import OperatorModel, fold_options, register_model
from specops.registry import MODELS

SpectralOptions = SpectralConvSpec | Mapping[str, Any] | None
BlockOptions = FNOBlockSpec | Mapping[str, Any] | None


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if int(value) < 1:
            raise ValueError(f"{name}={value} must be a positive integer")


@register_model("fno")
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
    activation : "gelu", "relu", "silu", "tanh" or "identity"
        Nonlinearity of the blocks, the lifting and the projection.
    block : FNOBlockSpec or mapping, optional
        Block options: ``skip``, ``channel_mlp_expansion``, ``channel_mlp_skip``, ``norm``.
    spectral : SpectralConvSpec or mapping, optional
        Spectral convolution options: ``factorization``, ``rank``, ``separable``, ``max_n_modes``,
        ``fft_method``, ``joint_factorization``, e.g. ``spectral={"factorization": "tucker", "rank": 0.05}``.
        ``joint_factorization=True`` learns the weights of all layers as one low-rank tensor (MG-TFNO), with
        ``rank`` a fraction of the whole stack's dense parameters.
    mixer : str
        The spatial operator of every block (``specops.layers.mixers``): ``spectral`` (the FNO), ``aff``,
        ``ffc``, ``fdconv``, ``weighted-conv``, ``rpe-attention``, ``karat``.
    mixer_options : mapping, optional
        Keyword arguments of the mixer's layer, e.g. ``{"heads": 2}`` for ``rpe-attention``.

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)`` at any resolution that holds
    the kept modes.
    """

    spectral_defaults: ClassVar[dict[str, Any]] = {}

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
        block: BlockOptions = None,
        spectral: SpectralOptions = None,
        mixer: str = "spectral",
        mixer_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        n_modes = as_modes(n_modes)
        self.dim = len(n_modes)
        _check_sizes(
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=hidden_channels,
            n_layers=n_layers,
        )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = int(hidden_channels)
        self.n_layers = int(n_layers)
        act = get_activation(activation)
        self.block_spec = FNOBlockSpec.coerce(block, "block")
        self.spectral = SpectralConvSpec.coerce(spectral, "spectral", self.spectral_defaults)
        self.check_spectral(self.spectral)
        make_mixer = mixer_factory(
            mixer, mixer_options, dim=self.dim, n_modes=n_modes, spectral=self.spectral
        )
        if self.spectral.joint_factorization and mixer != "spectral":
            raise ValueError(
                f"spectral.joint_factorization=True shares the spectral weights of all layers, but "
                f"mixer={mixer!r} has none; use mixer='spectral' or joint_factorization=False"
            )
        self.lifting = Lifting(
            self.in_channels,
            self.hidden_channels,
            dim=self.dim,
            ratio=lifting_channel_ratio,
            activation=act,
            positional=positional_embedding,
        )
        pad = domain_padding if isinstance(domain_padding, (int, float)) else max(domain_padding)
        self.padding = DomainPadding(domain_padding, self.dim) if pad else None
        width = self.hidden_channels
        # MG-TFNO's global tensorization: one tensor for all layers, each layer's conv gets a view of it
        joint = (
            self.spectral.joint_weight(self.n_layers, width, width, n_modes)
            if self.spectral.joint_factorization
            else None
        )
        self.joint_weight = joint
        self.blocks = nn.ModuleList(
            self.block_spec.build(
                width,
                self.spectral.build(width, width, n_modes, weight=joint)
                if joint is not None
                else make_mixer(width),
                act,
            )
            for _ in range(self.n_layers)
        )
        self.projection = make_projection(width, self.out_channels, projection_channel_ratio, act)

    @classmethod
    def check_spectral(cls, spec: SpectralConvSpec) -> None:
        """Refuse spectral options this model does not take (none for FNO)."""

    @classmethod
    def upgrade_args(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Format-1 files stored the block and spectral options as flat arguments (``rank=0.05``)."""
        groups = {"block": (FNOBlockSpec, {}), "spectral": (SpectralConvSpec, cls.spectral_defaults)}
        return fold_options(kwargs, groups)

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
        h = self.lifting(x)
        if self.padding is not None:
            h = self.padding.pad(h)
        for i, block in enumerate(self.blocks):
            h = block(h, last=i == self.n_layers - 1)
        if self.padding is not None:
            h = self.padding.unpad(h, space).contiguous()
        return self.projection(h)


@register_model("tfno")
class TFNO(FNO):
    """Tensorized FNO: FNO whose spectral weights are low-rank (Tucker by default, 5% of the parameters).

    Takes ``FNO``'s arguments; ``spectral`` options default to ``{"factorization": "tucker", "rank": 0.05}``
    and must name a low-rank factorization (``cp``, ``tucker``, ``tt``).
    """

    spectral_defaults: ClassVar[dict[str, Any]] = {"factorization": "tucker", "rank": 0.05}

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 64,
        n_layers: int = 4,
        *,
        spectral: SpectralOptions = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            n_modes, in_channels, out_channels, hidden_channels, n_layers, spectral=spectral, **kwargs
        )

    @classmethod
    def check_spectral(cls, spec: SpectralConvSpec) -> None:
        if not spec.weight_class.low_rank:
            raise ValueError(
                f"TFNO needs a low-rank factorization ('cp', 'tucker' or 'tt'), got "
                f"factorization={spec.factorization!r}; use FNO for dense weights"
            )


@register_model("ifno")
class IFNO(OperatorModel):
    """Implicit FNO: one Fourier layer applied ``n_layers`` times as a fixed-point iteration.

    ``v <- v + (1/L) act(K v + W v)`` for the first ``L - 1`` steps and ``v <- v + (1/L)(K v + W v)`` for the
    last, with the same ``K`` (spectral, with its bias) and ``W`` (pointwise, with its bias) every time (You
    et al. 2022, eq. 7): depth costs no parameters, and the weights of a shallow model initialise a deeper
    one. Arguments as for ``FNO`` (no blocks, no padding).
    """

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
        spectral: SpectralOptions = None,
    ) -> None:
        super().__init__()
        n_modes = as_modes(n_modes)
        self.dim = len(n_modes)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.hidden_channels, self.n_layers = int(hidden_channels), int(n_layers)
        _check_sizes(n_layers=n_layers)
        self.activation = get_activation(activation)
        self.spectral = SpectralConvSpec.coerce(spectral, "spectral")
        if self.spectral.joint_factorization:
            raise ValueError(
                "spectral.joint_factorization=True: IFNO has one Fourier layer, shared by every iteration, so "
                "there is nothing to factorize jointly; use FNO or TFNO"
            )
        self.lifting = Lifting(
            self.in_channels,
            self.hidden_channels,
            dim=self.dim,
            ratio=lifting_channel_ratio,
            activation=self.activation,
            positional=positional_embedding,
        )
        width = self.hidden_channels
        self.conv = self.spectral.build(width, width, n_modes)
        self.pointwise = PointwiseLinear(width, width)
        self.projection = make_projection(width, self.out_channels, projection_channel_ratio, self.activation)

    @classmethod
    def upgrade_args(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Format-1 files stored the spectral options as flat arguments (``factorization``, ``rank``, ...)."""
        return fold_options(kwargs, {"spectral": (SpectralConvSpec, {})})

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.conv.n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int]) -> None:
        self.conv.n_modes = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lifting(self.check_input(x, self.in_channels, self.dim))
        step = 1.0 / self.n_layers
        for i in range(self.n_layers):
            update = self.pointwise(h, add=self.conv(h))
            if i < self.n_layers - 1:
                update = self.activation(update)
            h = h + step * update
        return self.projection(h)


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
        {"n_modes": [16, 16], "hidden_channels": 64, "spectral": {"rank": 0.05}},
        "TFNO, Tucker rank 0.05, 2D 16 modes width 64",
    ),
    "tfno-2d-cp": (
        "tfno",
        {"n_modes": [16, 16], "hidden_channels": 64, "spectral": {"factorization": "cp", "rank": 0.05}},
        "TFNO with CP weights (5% of the dense parameters)",
    ),
    "tfno-2d-tt": (
        "tfno",
        {"n_modes": [16, 16], "hidden_channels": 64, "spectral": {"factorization": "tt", "rank": 0.05}},
        "TFNO with tensor-train weights (5% of the dense parameters)",
    ),
    "tfno-2d-joint": (
        "tfno",
        {
            "n_modes": [16, 16],
            "hidden_channels": 64,
            "spectral": {"factorization": "tucker", "rank": 0.02, "joint_factorization": True},
        },
        "TFNO with all layers' weights as one Tucker tensor (2% of the dense stack; MG-TFNO's tensorization)",
    ),
    "tfno-2d-joint-cp": (
        "tfno",
        {
            "n_modes": [16, 16],
            "hidden_channels": 64,
            "spectral": {"factorization": "cp", "rank": 0.02, "joint_factorization": True},
        },
        "TFNO with all layers' weights as one CP tensor (2% of the dense stack)",
    ),
    "ifno-2d": (
        "ifno",
        {"n_modes": [12, 12], "hidden_channels": 32, "n_layers": 8},
        "implicit FNO, 8 shared-weight iterations, 12 modes, width 32",
    ),
}
for _name, (_family, _defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, MODELS.get(_family).target, defaults=_defaults, description=_doc, family=_family)
