"""The spatiotemporal FNO (SFNO): trajectory in, trajectory out, spectral convolutions over space and time.

Cao, Brarda, Li & Xi, "Spectral-Refiner: Accurate Fine-Tuning of Spatiotemporal Fourier Neural Operator
for Turbulent Flows", ICLR 2025 (arXiv 2405.17211). The map is ``u(., t_1..t_in) -> u(., t_in+1..t_in+out)``:

1. lifting: the input frames with a space-time positional encoding (``SpaceTimeEncoding``), a layer norm
   over all channels and points of each sample (no dataset normaliser fixes the number of steps), a
   pointwise map to ``hidden_channels``, then ``h <- act(h[t_in] + MLP(K_0 h))`` where ``K_0`` resamples
   time to ``latent_steps``;
2. ``n_layers - 1`` blocks ``h <- act(MLP(K_l h) + W_l h)`` over space and time;
3. output: a pointwise reduction to the state's channels, the last input frame prepended, temporal zero
   padding, and the space-time convolution ``K_out`` with a spectral source (``delta``) that produces the
   ``out`` steps; the last input frame is added as a skip, and velocity outputs are Leray-projected to be
   divergence-free (``leray=True``).

``K_out`` is the layer ``specops refine`` replaces by a non-truncated one and fine-tunes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from specops.layers.activations import Activation, get_activation
from specops.layers.mlp import ChannelMLP, PointwiseLinear
from specops.layers.spacetime import SpaceTimeConv, SpaceTimeEncoding
from specops.layers.spectral_conv import SpectralConvSpec, as_modes
from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS
from specops.spectral.projection import leray_projection

SpectralOptions = SpectralConvSpec | Mapping[str, Any] | None


class SpaceTimeBlock(nn.Module):
    """``h <- act( MLP(K h) + W h )``, ``K`` a space-time spectral convolution, ``W`` pointwise."""

    def __init__(
        self, conv: SpaceTimeConv, mlp: nn.Module, activation: Callable[[torch.Tensor], torch.Tensor]
    ) -> None:
        super().__init__()
        self.conv, self.mlp = conv, mlp
        self.pointwise = PointwiseLinear(conv.in_channels, conv.out_channels)
        self.activation = activation

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.activation(self.pointwise(h, add=self.mlp(self.conv(h))))


@register_model("sfno")
class SFNO(OperatorModel):
    """Spatiotemporal FNO: ``t_in`` frames of a ``state_channels``-channel field in, ``t_out`` frames out.

    Parameters
    ----------
    n_modes : sequence of int
        Kept Fourier modes per spatial axis (the model's dimension is ``len(n_modes)``: 1 or 2).
    in_channels, out_channels : int
        ``t_in * state_channels`` and ``t_out * state_channels``: the sizes of the flattened form (frames
        as channels) in which ``specops train`` feeds trajectory windows to every model.
    hidden_channels : int
        Latent width.
    n_layers : int
        Spectral layers in the latent space, the lifting's included (at least 1).
    state_channels : int
        Channels of one frame (1 for vorticity or a scalar field, ``d`` for velocity).
    time_modes : int
        Temporal modes ``m_t`` of every space-time convolution (frequencies ``0 .. m_t // 2``).
    latent_steps : int, optional
        Time steps of the latent trajectory (default: the number of input frames).
    beta : float
        Exponential time scale of the positional encoding.
    delta : float
        Scale of the output layer's spectral source.
    temporal_padding : bool
        Zero-pad time in the output layer (recommended: the trajectory is not periodic in time).
    channel_mlp_expansion : float
        Hidden width of the pointwise MLPs after each convolution, in multiples of ``hidden_channels``.
    activation : "gelu", "relu", "silu", "tanh" or "identity"
    leray : bool
        The frames are velocities (``state_channels == dim``): project the output onto divergence-free
        fields.
    spectral : SpectralConvSpec or mapping, optional
        Spectral weight options of every convolution (``factorization``, ``rank``, ...).

    Shapes: ``(batch, in_channels, *space) -> (batch, out_channels, *space)`` (frames flattened into
    channels, time first), or a trajectory ``(batch, T, state_channels, *space) -> (batch, t_out,
    state_channels, *space)`` for any ``T`` (``trajectory(x, out_steps)`` gives any ``t_out``).
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int = 10,
        out_channels: int = 40,
        hidden_channels: int = 20,
        n_layers: int = 4,
        *,
        state_channels: int = 1,
        time_modes: int = 8,
        latent_steps: int | None = None,
        beta: float = 0.02,
        delta: float = 0.1,
        temporal_padding: bool = True,
        channel_mlp_expansion: float = 4.0,
        activation: Activation = "gelu",
        leray: bool = False,
        spectral: SpectralOptions = None,
    ) -> None:
        super().__init__()
        n_modes = as_modes(n_modes)
        self.dim = len(n_modes)
        if self.dim > 2:
            raise ValueError(f"n_modes={n_modes}: SFNO is 1D+time or 2D+time (one or two spatial axes)")
        sizes = dict(hidden_channels=hidden_channels, n_layers=n_layers, state_channels=state_channels)
        sizes.update(time_modes=time_modes, latent_steps=1 if latent_steps is None else latent_steps)
        for name, value in sizes.items():
            if int(value) < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        c = int(state_channels)
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if int(value) < 1 or int(value) % c:
                raise ValueError(
                    f"{name}={value} must be a positive multiple of state_channels={c} (frames x channels)"
                )
        if leray and c != self.dim:
            raise ValueError(
                f"leray=True projects velocities, which have dim={self.dim} channels; state_channels={c}"
            )
        self.in_channels, self.out_channels, self.state_channels = int(in_channels), int(out_channels), c
        self.hidden_channels, self.n_layers = int(hidden_channels), int(n_layers)
        self.latent_steps = None if latent_steps is None else int(latent_steps)
        self.leray = bool(leray)
        self.activation = get_activation(activation)
        self.spectral = SpectralConvSpec.coerce(spectral, "spectral")
        modes = (*n_modes, int(time_modes))
        width = self.hidden_channels
        hidden = max(1, round(width * channel_mlp_expansion))

        def conv(c_in: int, c_out: int, **kw: Any) -> SpaceTimeConv:
            s = self.spectral
            return SpaceTimeConv(c_in, c_out, modes, weight=s, fft_method=s.fft_method, **kw)

        self.encoding = SpaceTimeEncoding(self.dim, max(1, (width - self.dim) // 2), beta)
        n_features = c + self.encoding.channels
        self.norm = nn.GroupNorm(1, n_features)
        self.lift = PointwiseLinear(n_features, width)
        self.lift_conv = conv(width, width, bias=False)
        self.lift_mlp = ChannelMLP(width, width, hidden, activation=self.activation)
        self.blocks = nn.ModuleList(
            SpaceTimeBlock(
                conv(width, width, bias=False),
                ChannelMLP(width, width, hidden, activation=self.activation),
                self.activation,
            )
            for _ in range(self.n_layers - 1)
        )
        self.reduce = PointwiseLinear(width, c)
        self.out_conv = conv(c, c, source_scale=delta, temporal_padding=temporal_padding)

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self.lift_conv.n_modes[:-1]

    @property
    def out_steps(self) -> int:
        return self.out_channels // self.state_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.dim + 3:
            return self.trajectory(x)
        x = self.check_input(x, self.in_channels, self.dim)
        frames = x.reshape(x.shape[0], -1, self.state_channels, *x.shape[2:])
        out = self.trajectory(frames)
        return out.reshape(out.shape[0], -1, *out.shape[3:])

    def trajectory(self, x: torch.Tensor, out_steps: int | None = None) -> torch.Tensor:
        """``(batch, T, state_channels, *space) -> (batch, out_steps, state_channels, *space)``."""
        latent, last = self.latent(x)
        return self.head(latent, last, self.out_steps if out_steps is None else int(out_steps))

    def latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything before the output layer: the latent trajectory ``(batch, C, *space, L + 1)`` that
        ``out_conv`` receives (last input frame prepended) and the last input frame ``(batch, C, *space, 1)``."""
        if x.dim() != self.dim + 3 or x.shape[2] != self.state_channels:
            raise ValueError(
                f"trajectory input has shape {tuple(x.shape)}; expected (batch, time, {self.state_channels}, "
                f"{self.dim} spatial axes)"
            )
        b, t = x.shape[:2]
        self.check_input(
            x.reshape(b, t * self.state_channels, *x.shape[3:]), t * self.state_channels, self.dim
        )
        u = x.movedim(1, -1).to(next(self.parameters()).dtype)  # (batch, C, *space, T)
        pe = self.encoding(u.shape[2:-1], t, u.dtype, u.device)
        h = self.lift(self.norm(torch.cat([u, pe.expand(b, *pe.shape)], dim=1)))
        steps = self.latent_steps or t
        h = self.activation(h[..., -1:] + self.lift_mlp(self.lift_conv(h, out_steps=steps)))
        for block in self.blocks:
            h = block(h)
        last = u[..., -1:]
        return torch.cat([last, self.reduce(h)], dim=-1), last

    def head(
        self, latent: torch.Tensor, last: torch.Tensor, out_steps: int, conv: SpaceTimeConv | None = None
    ) -> torch.Tensor:
        """The output layer: ``last + K_out(latent)`` over ``out_steps`` steps (Leray-projected for
        velocities), as a trajectory ``(batch, out_steps, C, *space)``. ``conv`` replaces ``K_out`` (the
        refined layer of ``specops.training.refine``)."""
        conv = self.out_conv if conv is None else conv
        y = last + conv(latent, out_steps=out_steps + 1)[..., -out_steps:]
        y = y.movedim(-1, 1)
        return leray_projection(y, self.dim) if self.leray else y


_PRESETS = {
    "sfno-1d": (
        {"n_modes": [32], "in_channels": 10, "out_channels": 40, "hidden_channels": 20, "time_modes": 8},
        "SFNO 1D+time (Burgers, KS): 10 frames -> 40, spatial frequencies -16..15, time 0..4, width 20",
    ),
    "sfno-2d-ns": (
        {"n_modes": [24, 24], "in_channels": 10, "out_channels": 40, "hidden_channels": 20, "time_modes": 8},
        "SFNO 2D+time for Navier-Stokes vorticity (Cao et al. 2025, FNO data): 10 frames -> 40, spatial "
        "frequencies -12..11 per axis, time 0..4, width 20",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, SFNO, defaults=_defaults, description=_doc, family="sfno")
