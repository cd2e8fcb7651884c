"""Spectral weights: the complex tensor a spectral convolution multiplies the kept modes by.

A spectral weight is ``W[i, o, k_1, ..., k_d]`` (or ``W[c, k_1, ..., k_d]`` when separable, depthwise)
over the kept modes, applied by ``contract``:

    y[b, o, k] = sum_i x[b, i, k] W[i, o, k]        (separable: y[b, c, k] = x[b, c, k] W[c, k])

This module holds what every weight shares: the base class, the storage conventions and the dense weight.
Low-rank forms (CP, Tucker, tensor train) are in ``specops.layers.factorized``; ``SpectralWeightSpec``
(``specops.layers.weight_spec``) names one as plain data and builds it.

Storage conventions:

- complex parameters are real tensors with a trailing axis of 2 (real, imaginary), so optimizers, gradient
  clipping and distributed reducers see ordinary real tensors;
- every mode axis but the last is stored centered (frequency ``-(M//2) + index``), the last holds the
  non-negative frequencies ``0 .. M-1``; ``mode_slices`` selects a centered (leading, for the last axis)
  subset and ``grow`` zero-pads to more modes (new modes start at zero, so the operator is unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from specops.registry import SPECTRAL_WEIGHTS

if TYPE_CHECKING:
    from specops.layers.weight_spec import SpectralWeightSpec


def complex_parameter(shape: Sequence[int], std: float) -> nn.Parameter:
    """Complex Gaussian entries with ``E|w|^2 = std^2``, stored as a real ``(*shape, 2)`` parameter."""
    data = torch.randn(*shape, 2) * (std / math.sqrt(2.0))
    return nn.Parameter(data)


def as_complex(p: torch.Tensor) -> torch.Tensor:
    """The complex view of a ``(..., 2)`` real parameter (half precision is computed in float32)."""
    if p.dtype in (torch.float16, torch.bfloat16):
        p = p.float()
    return torch.view_as_complex(p)


def mode_slices(stored: Sequence[int], used: Sequence[int]) -> tuple[slice, ...]:
    """Slices of stored mode axes that give the ``used`` modes (centered subset; leading for the last)."""
    out = []
    for axis, (big, small) in enumerate(zip(stored, used)):
        if small > big:
            raise ValueError(f"cannot use {small} modes on axis {axis}: only {big} are stored")
        if axis == len(stored) - 1:
            out.append(slice(0, small))
        else:
            start = big // 2 - small // 2
            out.append(slice(start, start + small))
    return tuple(out)


def pad_modes(t: torch.Tensor, axis: int, new: int, last: bool) -> torch.Tensor:
    """Zero-pad ``t`` along ``axis`` (a mode axis, stored as described above) to ``new`` entries."""
    old = t.shape[axis]
    if new == old:
        return t
    left = 0 if last else new // 2 - old // 2
    shape = list(t.shape)
    shape[axis] = new
    out = t.new_zeros(shape)
    index = [slice(None)] * t.dim()
    index[axis] = slice(left, left + old)
    out[tuple(index)] = t
    return out


def mode_letters(n: int) -> str:
    """Einsum letters for ``n`` mode axes."""
    return "klmnpqrstuvw"[:n]


class SpectralWeight(nn.Module):
    """Base class: a complex weight over channels and modes, applied by ``contract``.

    Subclasses implement ``to_dense``, ``_contract`` and ``grow``, and register themselves under the name
    a ``SpectralWeightSpec`` (and so a model's ``spectral={"factorization": name}``) refers to them by::

        @SPECTRAL_WEIGHTS.register("mine")
        class MyWeight(SpectralWeight): ...

    Parameters
    ----------
    in_channels, out_channels : int
    modes : sequence of int
        Stored mode counts per axis (the shape of the mode block, ``specops.spectral.fft.modes_shape``).
    separable : bool
        Depthwise ``W[c, k]`` instead of ``W[i, o, k]`` (needs ``in_channels == out_channels``).
    """

    low_rank: ClassVar[bool] = False  # whether ``rank`` applies (checked by ``SpectralWeightSpec``)

    def __init__(self, in_channels: int, out_channels: int, modes: Sequence[int], separable: bool) -> None:
        super().__init__()
        if separable and in_channels != out_channels:
            raise ValueError(
                f"separable spectral weights need in_channels == out_channels, got {in_channels} and "
                f"{out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = tuple(int(m) for m in modes)
        self.separable = separable

    @classmethod
    def from_spec(
        cls,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        spec: SpectralWeightSpec,
        init_std: float,
    ) -> SpectralWeight:
        """Build this weight with the options of ``spec`` that apply to it."""
        return cls(in_channels, out_channels, modes, spec.separable, init_std=init_std)

    @property
    def channel_shape(self) -> tuple[int, ...]:
        return (self.in_channels,) if self.separable else (self.in_channels, self.out_channels)

    @property
    def dense_numel(self) -> int:
        """Real parameters a dense weight of the same shape would have."""
        return 2 * math.prod(self.channel_shape) * math.prod(self.modes)

    def to_dense(self, slices: tuple[slice, ...] | None = None) -> torch.Tensor:
        """The full complex tensor ``(*channel_shape, *used_modes)`` (for tests and inspection)."""
        raise NotImplementedError

    def contract(self, x: torch.Tensor, slices: tuple[slice, ...] | None) -> torch.Tensor:
        """``y[b, o, k] = sum_i x[b, i, k] W[i, o, k]`` (or ``x[b, c, k] W[c, k]`` when separable).

        ``x`` has shape ``(batch, in_channels, *used_modes)``, complex; ``slices`` select the used modes
        from the stored ones (``mode_slices``; None: all of them).
        """
        if self.separable:
            return x * self.to_dense(slices)
        return self._contract(x, slices)

    def _contract(self, x: torch.Tensor, slices: tuple[slice, ...] | None) -> torch.Tensor:
        raise NotImplementedError

    def contract_real(self, x: torch.Tensor, slices: tuple[slice, ...] | None) -> torch.Tensor:
        """``contract`` on the real layout ``(batch, C, *m, 2, m_last)`` of ``specops.spectral.rdft_modes``."""
        xc = torch.view_as_complex(x.movedim(-2, -1).contiguous())
        return torch.view_as_real(self.contract(xc, slices)).movedim(-1, -2)

    def grow(self, modes: Sequence[int]) -> None:
        """Zero-pad the stored modes to ``modes`` (each at least the current count)."""
        raise NotImplementedError


@SPECTRAL_WEIGHTS.register("dense")
class DenseWeight(SpectralWeight):
    """The full complex weight tensor, ``(2 C_in C_out prod(modes))`` real parameters.

    Stored modes-first, ``(*modes, C_in, C_out)``, so that the contraction is one batched complex GEMM over
    the modes (``bmm``) with no copy of the weight; ``to_dense`` returns the ``(C_in, C_out, *modes)`` view.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        separable: bool = False,
        init_std: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, modes, separable)
        self.weight = complex_parameter((*self.modes, *self.channel_shape), init_std)

    def _modes_first(self, slices) -> torch.Tensor:
        w = as_complex(self.weight)
        return w[tuple(slices)] if slices is not None else w

    def to_dense(self, slices=None):
        w = self._modes_first(slices)
        d, nc = len(self.modes), len(self.channel_shape)
        return w.permute(*range(d, d + nc), *range(d))

    def _contract(self, x, slices):
        w = self._modes_first(slices)
        b, ci, *m = x.shape
        d = len(m)
        n_modes = math.prod(m)
        # (B, Ci, *m) -> (M, B, Ci): a copy of the small mode block, then one batched GEMM over modes.
        xm = x.permute(*range(2, 2 + d), 0, 1).reshape(n_modes, b, ci)
        y = torch.bmm(xm, w.reshape(n_modes, ci, self.out_channels))
        return y.reshape(*m, b, self.out_channels).permute(d, d + 1, *range(d))

    def contract_real(self, x, slices):
        if self.separable:
            return super().contract_real(x, slices)
        w = self._modes_first(slices)
        b, ci = x.shape[:2]
        m = x.shape[2:-2]
        m_last = x.shape[-1]
        d = len(m) + 1
        n_modes = math.prod(m) * m_last
        # (B, Ci, *m, 2, mL) -> (*m, mL, B, Ci, 2): one copy of the small mode block; then a batched
        # complex GEMM over modes, with the weight used in place (modes-first storage).
        xm = x.permute(*range(2, 2 + d - 1), x.dim() - 1, 0, 1, x.dim() - 2).contiguous()
        xm = torch.view_as_complex(xm).reshape(n_modes, b, ci)
        y = torch.bmm(xm, w.reshape(n_modes, ci, self.out_channels))
        y = torch.view_as_real(y).reshape(*m, m_last, b, self.out_channels, 2)
        return y.permute(d, d + 1, *range(d - 1), d + 2, d - 1)

    def grow(self, modes):
        w = self.weight.data
        for axis, new in enumerate(modes):
            w = pad_modes(w, axis, int(new), last=axis == len(modes) - 1)
        self.weight = nn.Parameter(w)
        self.modes = tuple(int(m) for m in modes)
