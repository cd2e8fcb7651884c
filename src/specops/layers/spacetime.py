"""Space-time layers of the spatiotemporal FNO (SFNO): a spectral convolution over space and time that
resamples the time axis, and the space-time positional encoding of its lifting.

Fields are channel-first with time last, ``(batch, C, *space, T)``, so that time is the axis of the
half-spectrum (the last axis of ``specops.spectral.rfft_modes``): ``n_modes = (*space_modes, m_t)`` keeps
the temporal frequencies ``0 .. m_t // 2``.

Cao, Brarda, Li & Xi, "Spectral-Refiner: Accurate Fine-Tuning of Spatiotemporal Fourier Neural Operator
for Turbulent Flows", ICLR 2025 (the SFNO and its layers; reference code: scaomath/torch-cfd, ``fno/sfno.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.spectral_conv import SpectralConv
from specops.layers.spectral_weight import as_complex, mode_slices, pad_modes
from specops.layers.weight_spec import WeightFactory
from specops.spectral.fft import Method, check_resolution, irfft_modes, modes_shape, rfft_modes
from specops.spectral.grid import meshgrid


class SpaceTimeConv(SpectralConv):
    """Spectral convolution over space and time whose output may have another number of time steps.

    ``y = F^{-1}_{T_out}[ R(k, w) . (F_T v)(k, w) + delta S(k, w) ]`` (Cao et al. 2025): the kept
    space-time modes of ``v (batch, C_in, *space, T)`` are multiplied by the weight ``R`` (plus the
    learned spectral source ``S`` scaled by ``delta`` when ``source_scale`` is set, and the constant
    bias), and the inverse transform is evaluated on ``T_out`` time points: with forward-normalized
    transforms this samples the same trigonometric polynomial in time at ``T_out`` points of the period.

    With ``temporal_padding`` the input is zero-padded in time by its own length before the transform and
    the last ``T_out`` steps of an output of length ``T_out + T`` are kept: the field is then not taken as
    periodic in time, which is what removes the aliasing of a non-periodic trajectory (ibid.).

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : sequence of int
        Modes per spatial axis, then the temporal modes ``m_t`` (frequencies ``0 .. m_t // 2`` kept). On a
        time axis too short for them, the lowest ones it holds are used.
    source_scale : float, optional
        ``delta``: adds a learned complex spectral source ``S`` (zero at initialisation) times ``delta``.
    temporal_padding : bool
    weight, fft_method, bias, max_n_modes
        As for :class:`~specops.layers.SpectralConv`.

    Shapes: ``(batch, C_in, *space, T) -> (batch, C_out, *space, T_out)`` (``T_out = T`` by default).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: Sequence[int],
        *,
        source_scale: float | None = None,
        temporal_padding: bool = False,
        max_n_modes: Sequence[int] | None = None,
        bias: bool = True,
        weight: WeightFactory | None = None,
        fft_method: Method = "auto",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            n_modes,
            max_n_modes=max_n_modes,
            bias=bias,
            weight=weight,
            fft_method=fft_method,
        )
        if self.dim < 2:
            raise ValueError(
                f"n_modes={tuple(n_modes)} must give the modes of at least one spatial axis and time"
            )
        self.temporal_padding = bool(temporal_padding)
        self.source_scale = None if source_scale is None else float(source_scale)
        self.source = None
        if self.source_scale is not None:
            self.source = nn.Parameter(torch.zeros(self.out_channels, *modes_shape(self.max_n_modes), 2))

    @SpectralConv.n_modes.setter
    def n_modes(self, value: Sequence[int] | int) -> None:
        old = self.max_n_modes
        SpectralConv.n_modes.fset(self, value)
        if self.source is not None and self.max_n_modes != old:  # grown: new source modes start at zero
            s = self.source.data
            stored = modes_shape(self.max_n_modes)
            for axis, new in enumerate(stored):
                s = pad_modes(s, axis + 1, new, last=axis == len(stored) - 1)
            self.source = nn.Parameter(s)

    def used_modes(self, space: Sequence[int], steps_in: int, steps_out: int) -> tuple[int, ...]:
        """The modes used on a grid ``space`` from ``steps_in`` to ``steps_out`` time steps: the spatial
        ``n_modes`` (which the grid must hold) and the temporal modes both time axes hold."""
        check_resolution((*space, steps_in), (*self.n_modes[:-1], 1))
        return (*self.n_modes[:-1], min(self.n_modes[-1], steps_in, steps_out))

    def forward(self, x: torch.Tensor, out_steps: int | None = None) -> torch.Tensor:
        d = self.dim
        if x.dim() != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SpaceTimeConv input has shape {tuple(x.shape)}; expected (batch, {self.in_channels}, "
                f"{d - 1} spatial axes, time)"
            )
        steps = x.shape[-1]
        out_steps = steps if out_steps is None else int(out_steps)
        if out_steps < 1:
            raise ValueError(f"out_steps={out_steps} must be at least 1")
        pad = steps if self.temporal_padding else 0
        if pad:
            x = F.pad(x, (pad, 0))
        space = tuple(x.shape[2:-1])
        used = self.used_modes(space, x.shape[-1], out_steps + pad)
        slices = mode_slices(self.weight.modes, modes_shape(used))
        with torch.autocast(device_type=x.device.type, enabled=False):
            yh = self.weight.contract(rfft_modes(x, used, method=self.fft_method), slices)
            if self.source is not None:
                yh = yh + self.source_scale * as_complex(self.source)[(slice(None), *slices)]
            if self.bias is not None:
                yh = yh + self._bias_modes(yh.shape[1:], yh.dtype, real_layout=False)
            y = irfft_modes(yh, (*space, out_steps + pad), method=self.fft_method)
        return y[..., pad:] if pad else y

    def extra_repr(self) -> str:
        extra = f", source_scale={self.source_scale}" if self.source is not None else ""
        return super().extra_repr() + f", temporal_padding={self.temporal_padding}" + extra


class SpaceTimeEncoding(nn.Module):
    """Positional features of a space-time grid: ``d`` coordinates and ``2K`` damped temporal waves.

    On the grid ``x_i = i / n`` of ``[0, 1)^d`` and the times ``t_j = (j + 1) / T`` of ``(0, 1]``, the
    features are ``x_1, ..., x_d`` and, for ``k = 1..K``,
    ``exp(beta t) sin(pi k t)`` and ``exp(beta t) cos(pi k t)`` (Cao et al. 2025: ``beta`` matches the
    exponential growth or decay of the energy the a-priori estimate of the equation allows).

    Parameters
    ----------
    dim : int
        Spatial dimension ``d``.
    n_waves : int
        ``K``, the number of temporal frequencies.
    beta : float
        Exponential time scale.

    Output: ``(d + 2K, *space, T)``, batch-independent, cached per shape.
    """

    def __init__(self, dim: int, n_waves: int, beta: float) -> None:
        super().__init__()
        if n_waves < 0:
            raise ValueError(f"n_waves={n_waves} must be 0 or more")
        self.dim, self.n_waves, self.beta = int(dim), int(n_waves), float(beta)
        self._cache: tuple[tuple, torch.Tensor] | None = None

    @property
    def channels(self) -> int:
        return self.dim + 2 * self.n_waves

    def forward(
        self, space: Sequence[int], steps: int, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        key = (tuple(space), int(steps), dtype, device)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        coords = meshgrid(space, 1.0, dtype=torch.float64)
        t = torch.arange(1, steps + 1, dtype=torch.float64) / steps
        damp = torch.exp(self.beta * t)
        waves = []
        for k in range(1, self.n_waves + 1):
            waves += [damp * torch.sin(math.pi * k * t), damp * torch.cos(math.pi * k * t)]
        full = (*space, int(steps))
        feats = [c[..., None].expand(full) for c in coords]
        feats += [w.reshape((1,) * len(space) + (-1,)).expand(full) for w in waves]
        out = torch.stack(feats).to(dtype=dtype, device=device)
        self._cache = (key, out)
        return out
